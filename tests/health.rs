//! Health scores against a real PostgreSQL: the facts gathered from stored touches, replies
//! and signals, the history of computations, the `signal` command and the status view.

mod fixtures;

use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use fixtures::replies::{self, Answer};
use fixtures::{account, count, date, new_account, now};
use sqlx::PgPool;
use touchbot::domain::AccountId;
use touchbot::health::store::{history, latest_scores, recompute};
use touchbot::health::{HealthConfig, HealthScore};
use touchbot::inbound::signal_store;
use touchbot::inbound::signals::{RawSignal, parse_signal};

async fn contact(pool: &PgPool, account: AccountId, name: &str, role: &str) -> i64 {
    sqlx::query_scalar(
        "insert into contacts (account_id, name, role, channel, address)
         values ($1, $2, $3, 'simulated', $2) returning id",
    )
    .bind(account.0)
    .bind(name)
    .bind(role)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A client touch the dispatcher delivered at `at`.
async fn sent_touch(
    pool: &PgPool,
    account: AccountId,
    contact: i64,
    key: &str,
    kind: &str,
    at: DateTime<Utc>,
) -> i64 {
    sqlx::query_scalar(
        "insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at, status, sent_at)
         values ($1, $2, $2, $3, 'checkin', 'checkin', $4, $5, 'sent', $5) returning id",
    )
    .bind(account.0)
    .bind(key)
    .bind(kind)
    .bind(contact)
    .bind(at)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn reply_to(pool: &PgPool, account: AccountId, contact: i64, touch: i64, at: DateTime<Utc>) {
    replies::stored_reply(pool, account, contact, Some(touch), at, Answer::Checkin).await;
}

/// Stores a signal as `signal add` would; `true` when it was new.
async fn signal(pool: &PgPool, account: AccountId, raw: RawSignal) -> bool {
    let s = parse_signal(account, &raw).unwrap();
    signal_store::store(pool, &s, "test")
        .await
        .unwrap()
        .is_some()
}

fn raw(kind: &str, at: DateTime<Utc>) -> RawSignal {
    RawSignal {
        kind: kind.into(),
        occurred_at: at,
        ..RawSignal::default()
    }
}

async fn score_of(pool: &PgPool, account: AccountId, at: DateTime<Utc>) -> HealthScore {
    let mut scored = recompute(pool, &HealthConfig::default(), at, "test", Some(account))
        .await
        .unwrap();
    assert_eq!(scored.len(), 1);
    scored.remove(0).1
}

fn component<'a>(s: &'a HealthScore, name: &str) -> &'a touchbot::health::ComponentScore {
    s.components
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} component in {s:?}"))
}

#[sqlx::test]
async fn three_unanswered_check_ins_of_four_show_in_the_engagement_explanation(pool: PgPool) {
    let a = account(&pool, new_account("Acme", date(2025, 6, 1))).await;
    let c = contact(&pool, a, "Dana", "champion").await;
    for (i, days) in [70, 50, 30, 10].into_iter().enumerate() {
        let at = now() - Duration::days(days);
        let t = sent_touch(&pool, a, c, &format!("checkin-{i}"), "checkin", at).await;
        if days == 50 {
            reply_to(&pool, a, c, t, at + Duration::hours(2)).await;
        }
    }

    let s = score_of(&pool, a, now()).await;

    let engagement = component(&s, "engagement");
    assert!(
        engagement
            .explanation
            .contains("3 of the last 4 check-ins unanswered"),
        "{}",
        engagement.explanation
    );
    assert!(
        engagement.explanation.contains("1 of 4 touches answered"),
        "{}",
        engagement.explanation
    );
}

#[sqlx::test]
async fn a_check_in_still_inside_its_reply_window_does_not_count_as_unanswered(pool: PgPool) {
    let a = account(&pool, new_account("Acme", date(2025, 6, 1))).await;
    let c = contact(&pool, a, "Dana", "champion").await;
    let old = sent_touch(
        &pool,
        a,
        c,
        "checkin-1",
        "checkin",
        now() - Duration::days(20),
    )
    .await;
    reply_to(&pool, a, c, old, now() - Duration::days(19)).await;
    sent_touch(
        &pool,
        a,
        c,
        "checkin-2",
        "checkin",
        now() - Duration::days(1),
    )
    .await;

    let s = score_of(&pool, a, now()).await;
    let engagement = component(&s, "engagement");
    assert!(
        engagement
            .explanation
            .contains("the last check-in answered"),
        "{}",
        engagement.explanation
    );

    let s = score_of(&pool, a, now() + Duration::days(8)).await;
    let engagement = component(&s, "engagement");
    assert!(
        engagement
            .explanation
            .contains("1 of the last 2 check-ins unanswered"),
        "{}",
        engagement.explanation
    );
}

#[sqlx::test]
async fn a_critical_ticket_open_for_8_days_pulls_support_down(pool: PgPool) {
    let a = account(&pool, new_account("Acme", date(2025, 6, 1))).await;
    let mut opened = raw("ticket_opened", now() - Duration::days(8));
    opened.ticket = Some("T-1".into());
    opened.severity = Some("critical".into());
    assert!(signal(&pool, a, opened).await);

    let open = score_of(&pool, a, now()).await;
    let support_open = component(&open, "support");
    assert!(
        support_open
            .explanation
            .contains("critical ticket open for 8 days"),
        "{}",
        support_open.explanation
    );

    let mut closed = raw("ticket_closed", now() - Duration::hours(1));
    closed.ticket = Some("T-1".into());
    assert!(signal(&pool, a, closed).await);
    let after = score_of(&pool, a, now()).await;
    let support_closed = component(&after, "support");

    assert!(
        support_open.value.unwrap() < support_closed.value.unwrap(),
        "open {support_open:?}, closed {support_closed:?}"
    );
}

#[sqlx::test]
async fn with_no_usage_signals_usage_is_listed_as_missing_rather_than_scored_zero(pool: PgPool) {
    let a = account(&pool, new_account("Acme", date(2025, 6, 1))).await;
    contact(&pool, a, "Dana", "champion").await;

    let s = score_of(&pool, a, now()).await;

    assert!(s.missing.contains(&"usage".to_string()), "{s:?}");
    assert_eq!(component(&s, "usage").value, None);

    let mut users = raw("active_users", now() - Duration::days(1));
    users.value = Some(8.0);
    signal(&pool, a, users).await;
    let mut seats = raw("licences", now() - Duration::days(1));
    seats.value = Some(10.0);
    signal(&pool, a, seats).await;
    let s = score_of(&pool, a, now()).await;
    assert!(!s.missing.contains(&"usage".to_string()), "{s:?}");
    assert!(component(&s, "usage").value.is_some());
}

#[sqlx::test]
async fn a_signal_fed_again_with_the_same_key_changes_nothing(pool: PgPool) {
    let a = account(&pool, new_account("Acme", date(2025, 6, 1))).await;
    let mut paid = raw("payment_late", now() - Duration::days(3));
    paid.key = Some("invoice-2026-02".into());

    assert!(signal(&pool, a, paid.clone()).await);
    paid.occurred_at = now() - Duration::days(2);
    assert!(!signal(&pool, a, paid).await);
    let mut derived = raw("goal_met", now() - Duration::days(1));
    assert!(signal(&pool, a, derived.clone()).await);
    derived.key = None;
    assert!(!signal(&pool, a, derived).await);

    assert_eq!(count(&pool, "signals").await, 2);
}

#[sqlx::test]
async fn the_history_keeps_every_computation_and_the_latest_shows_the_30_day_change(pool: PgPool) {
    let a = account(&pool, new_account("Acme", date(2025, 6, 1))).await;
    let b = account(&pool, new_account("Bolt", date(2025, 6, 1))).await;
    contact(&pool, a, "Dana", "champion").await;
    contact(&pool, b, "Eli", "user").await;
    let config = HealthConfig::default();
    let first = now() - Duration::days(40);
    for at in [first, now() - Duration::days(20), now()] {
        let scored = recompute(&pool, &config, at, "nightly", None)
            .await
            .unwrap();
        assert_eq!(scored.len(), 2, "every account is scored in one run");
    }
    let mut late = raw("payment_late", now() - Duration::days(1));
    late.key = Some("inv-1".into());
    signal(&pool, a, late).await;
    let after = score_of(&pool, a, now() + Duration::minutes(1)).await;

    assert_eq!(count(&pool, "health_scores").await, 7);
    let points = history(&pool, a, first).await.unwrap();
    assert_eq!(points.len(), 4);
    assert_eq!(points.last().unwrap().score, after.score.unwrap());

    let latest = latest_scores(&pool, now() + Duration::minutes(1), None)
        .await
        .unwrap();
    let la = &latest[&a];
    assert_eq!(la.score, after.score);
    assert_eq!(
        la.change_30d,
        Some(i32::from(after.score.unwrap()) - i32::from(points[0].score))
    );
    assert!(latest.contains_key(&b));
}

/// The program, pointed at the test's database.
fn touchbot(pool: &PgPool, args: &[&str]) -> (i32, String, String) {
    let db = pool.connect_options().get_database().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_touchbot"))
        .args(args)
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:5432/{db}"),
        )
        .env_remove("TOUCHBOT_CONFIG")
        .env_remove("TOUCHBOT_LOG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[sqlx::test]
async fn signal_add_prints_the_new_score_and_status_shows_health_and_missing_data(pool: PgPool) {
    let a = account(&pool, new_account("Acme", date(2025, 6, 1))).await;
    contact(&pool, a, "Dana", "champion").await;
    contact(&pool, a, "Finn", "decision_maker").await;

    let (code, out, err) = touchbot(
        &pool,
        &[
            "signal",
            "add",
            "--account",
            "Acme",
            "--kind",
            "ticket_opened",
            "--ticket",
            "T-7",
            "--severity",
            "critical",
            "--at",
            "2026-01-10",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Recorded ticket_opened for Acme"), "{out}");
    let health = out
        .lines()
        .find(|l| l.starts_with("Health: "))
        .unwrap_or_else(|| panic!("no health line in {out}"));
    assert!(
        health.contains("red") || health.contains("yellow") || health.contains("green"),
        "{health}"
    );

    let (code, out, _) = touchbot(&pool, &["status", "Acme"]);
    assert_eq!(code, 0);
    assert!(out.contains("critical ticket open"), "{out}");
    assert!(out.contains("missing data:"), "{out}");
    assert!(out.contains("usage"), "{out}");

    let (code, out, _) = touchbot(&pool, &["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("health"), "{out}");
    assert!(out.contains("Health: "), "{out}");
    assert!(out.contains("average"), "{out}");

    let (code, out, _) = touchbot(&pool, &["signal", "list", "--account", "Acme"]);
    assert_eq!(code, 0);
    assert!(out.contains("T-7"), "{out}");
}

#[sqlx::test]
async fn a_bad_signal_kind_exits_2_and_lists_the_kinds(pool: PgPool) {
    account(&pool, new_account("Acme", date(2025, 6, 1))).await;

    let (code, _, err) = touchbot(
        &pool,
        &["signal", "add", "--account", "Acme", "--kind", "logins"],
    );

    assert_eq!(code, 2, "{err}");
    assert!(err.contains("'logins' is not a signal kind"), "{err}");
    assert!(err.contains("login_days_30"), "{err}");
    assert!(err.contains("competitor_mentioned"), "{err}");

    let (code, _, err) = touchbot(
        &pool,
        &["signal", "add", "--account", "Nobody", "--kind", "goal_met"],
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(count(&pool, "signals").await, 0);
}

#[sqlx::test]
async fn an_answer_from_a_contact_rescores_the_account_once_even_if_delivered_twice(pool: PgPool) {
    use touchbot::domain::ChannelKind;
    use touchbot::inbound::{InboundContent, InboundMessage, InboundOutcome, receive};

    let a = account(&pool, new_account("Northwind", date(2025, 3, 1))).await;
    let dana = contact(&pool, a, "dana", "champion").await;
    let asked = now() - Duration::hours(3);
    sent_touch(&pool, a, dana, "nps-30", "nps", asked).await;
    let message = InboundMessage {
        channel: ChannelKind::Simulated,
        address: "dana".into(),
        provider_message_id: "sim-1".into(),
        content: InboundContent::Text("9, great support".into()),
        received_at: now(),
    };
    let settings = touchbot::config::Settings::default();
    let judge = touchbot::inbound::Judge::from(&settings);

    let first = receive(&pool, judge, &message, now()).await.unwrap();
    assert!(matches!(first, InboundOutcome::Handled(ref h) if !h.duplicate));
    let scored = history(&pool, a, now() - Duration::days(1)).await.unwrap();
    assert_eq!(scored.len(), 1, "the answer re-scored the account");
    let latest = latest_scores(&pool, now(), None).await.unwrap();
    let summary = &latest[&a].summary;
    assert!(summary.contains("last NPS 9 (promoter)"), "{summary}");

    let again = receive(&pool, judge, &message, now()).await.unwrap();
    assert!(matches!(again, InboundOutcome::Handled(ref h) if h.duplicate));
    assert_eq!(
        history(&pool, a, now() - Duration::days(1))
            .await
            .unwrap()
            .len(),
        1,
        "a repeated delivery changes nothing, not even the score history"
    );
}

/// A survey answered and one not, then one sent 4 days ago and still open; `read` says whether the
/// contact's phone reported reading it (a WhatsApp read status) a few hours after it came.
async fn surveyed(pool: &PgPool, name: &str, read: bool) -> AccountId {
    let a = account(pool, new_account(name, date(2025, 6, 1))).await;
    let c = contact(pool, a, &format!("{name} contact"), "champion").await;
    for days in [60, 30] {
        let at = now() - Duration::days(days);
        let t = sent_touch(pool, a, c, &format!("nps-{days}"), "nps", at).await;
        if days == 60 {
            reply_to(pool, a, c, t, at + Duration::hours(1)).await;
        }
    }
    let sent = now() - Duration::days(4);
    let t = sent_touch(pool, a, c, "nps-4", "nps", sent).await;
    if read {
        sqlx::query("update touches set delivered_at = $2, read_at = $3 where id = $1")
            .bind(t)
            .bind(sent + Duration::minutes(1))
            .bind(sent + Duration::hours(3))
            .execute(pool)
            .await
            .unwrap();
    }
    a
}

#[sqlx::test]
async fn a_survey_read_and_left_unanswered_lowers_engagement_before_its_reply_window_ends(
    pool: PgPool,
) {
    let ignored = surveyed(&pool, "Read Ltd", true).await;
    let unseen = surveyed(&pool, "Unread Ltd", false).await;

    let ignored_score = score_of(&pool, ignored, now()).await;
    let unseen_score = score_of(&pool, unseen, now()).await;

    let (ignored_eng, unseen_eng) = (
        component(&ignored_score, "engagement"),
        component(&unseen_score, "engagement"),
    );
    assert!(
        ignored_eng.value < unseen_eng.value,
        "{ignored_eng:?} should be below {unseen_eng:?}"
    );
    assert!(
        ignored_eng
            .explanation
            .contains("1 of 3 touches answered in the last 90 days (1 read but unanswered"),
        "{}",
        ignored_eng.explanation
    );
    assert!(
        unseen_eng.explanation.contains("1 of 2 touches answered"),
        "the unread survey waits for its window: {}",
        unseen_eng.explanation
    );
    let (code, out, err) = touchbot(&pool, &["status", "Read Ltd"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 read but unanswered for 3 days"), "{out}");
}

#[sqlx::test]
async fn a_survey_read_only_yesterday_costs_nothing_yet(pool: PgPool) {
    let a = surveyed(&pool, "Read Ltd", false).await;
    sqlx::query("update touches set read_at = $1 where touch_key = 'nps-4'")
        .bind(now() - Duration::days(1))
        .execute(&pool)
        .await
        .unwrap();

    let s = score_of(&pool, a, now()).await;

    let engagement = component(&s, "engagement");
    assert!(
        engagement.explanation.contains("1 of 2 touches answered"),
        "{}",
        engagement.explanation
    );
    assert!(!engagement.explanation.contains("read but unanswered"));
}
