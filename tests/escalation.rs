//! Escalations against a real PostgreSQL: from a client's answer or a recorded signal to an
//! escalation row and the posts queued for the CS team; dedup, re-alerts, the digest, the
//! ladder by age, the SLA, the renewal rules, recovery and a person's actions.

mod fixtures;
#[path = "escalation/handed_over.rs"]
mod handed_over;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use fixtures::{account, date, new_account, now};
use sqlx::PgPool;
use touchbot::config::Settings;
use touchbot::domain::{AccountId, ChannelKind, EscalationId, StaffId, StaffRole};
use touchbot::escalation::actions::{Action, act};
use touchbot::escalation::engine::run;
use touchbot::escalation::tick::tick;
use touchbot::escalation::{ChurnReason, EscalationConfig, Outcome};
use touchbot::inbound::signal_store;
use touchbot::inbound::signals::{RawSignal, parse_signal};
use touchbot::inbound::{InboundContent, InboundMessage, Judge, receive};
use touchbot::storage::{accounts, staff};

async fn person(pool: &PgPool, name: &str, role: StaffRole, manager: Option<StaffId>) -> StaffId {
    staff::add(
        pool,
        &staff::NewStaff {
            name: name.into(),
            role,
            telegram_user_id: None,
            locale: "en".into(),
            manager_id: manager,
        },
    )
    .await
    .unwrap()
    .id
}

/// A team of four: Vera (VP) ← Max (CS manager) ← Alice (CSM), and Bob, a CSM with no manager.
struct Team {
    vera: StaffId,
    max: StaffId,
    alice: StaffId,
}

async fn team(pool: &PgPool) -> Team {
    let vera = person(pool, "Vera", StaffRole::Vp, None).await;
    let max = person(pool, "Max", StaffRole::CsManager, Some(vera)).await;
    let alice = person(pool, "Alice", StaffRole::Csm, Some(max)).await;
    person(pool, "Bob", StaffRole::Csm, None).await;
    Team { vera, max, alice }
}

async fn client(
    pool: &PgPool,
    name: &str,
    csm: Option<StaffId>,
    renewal: Option<NaiveDate>,
) -> AccountId {
    let mut new = new_account(name, date(2025, 6, 1));
    new.csm_id = csm;
    new.renewal_date = renewal;
    account(pool, new).await
}

async fn contact(pool: &PgPool, account: AccountId, name: &str) -> i64 {
    sqlx::query_scalar(
        "insert into contacts (account_id, name, role, channel, address)
         values ($1, $2, 'champion', 'simulated', $2) returning id",
    )
    .bind(account.0)
    .bind(name)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn sent(
    pool: &PgPool,
    account: AccountId,
    contact: i64,
    key: &str,
    kind: &str,
    at: DateTime<Utc>,
) {
    sqlx::query(
        "insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at, status, sent_at)
         values ($1, $2, $2, $3, 'survey', $3, $4, $5, 'sent', $5)",
    )
    .bind(account.0)
    .bind(key)
    .bind(kind)
    .bind(contact)
    .bind(at)
    .execute(pool)
    .await
    .unwrap();
}

/// The client writes `text` on the simulated channel at `at`, through the real inbound path.
async fn says(
    pool: &PgPool,
    settings: &Settings,
    who: &str,
    id: &str,
    text: &str,
    at: DateTime<Utc>,
) {
    let message = InboundMessage {
        channel: ChannelKind::Simulated,
        address: who.into(),
        provider_message_id: id.into(),
        content: InboundContent::Text(text.into()),
        received_at: at,
    };
    receive(pool, Judge::from(settings), &message, at)
        .await
        .unwrap();
}

async fn signal(pool: &PgPool, account: AccountId, raw: RawSignal) {
    let s = parse_signal(account, &raw).unwrap();
    signal_store::store(pool, &s, "test").await.unwrap();
}

fn raw(kind: &str, at: DateTime<Utc>) -> RawSignal {
    RawSignal {
        kind: kind.into(),
        occurred_at: at,
        ..RawSignal::default()
    }
}

fn critical_ticket(id: &str, at: DateTime<Utc>) -> RawSignal {
    RawSignal {
        ticket: Some(id.into()),
        severity: Some("critical".into()),
        ..raw("ticket_opened", at)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
struct Esc {
    id: i64,
    reason: String,
    severity: String,
    status: String,
    evidence: String,
    notified_level: Option<String>,
}

async fn escalations(pool: &PgPool, account: AccountId) -> Vec<Esc> {
    sqlx::query_as(
        "select id, reason, severity, status, evidence, notified_level from escalations
          where account_id = $1 order by id",
    )
    .bind(account.0)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
struct Post {
    kind: String,
    staff: Option<String>,
    delivery: String,
    body: String,
    buttons: serde_json::Value,
}

/// Every queued post, oldest first; `staff` is None for the team chat.
async fn posts(pool: &PgPool) -> Vec<Post> {
    sqlx::query_as(
        "select p.kind, s.name as staff, p.delivery, p.body, p.buttons
           from staff_posts p left join staff s on s.id = p.staff_id order by p.id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn event_kinds(pool: &PgPool, id: i64) -> Vec<String> {
    sqlx::query_scalar("select kind from escalation_events where escalation_id = $1 order by id")
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_detractor_answer_puts_a_card_in_the_team_chat_and_tells_the_csm(pool: PgPool) {
    let settings = Settings::default();
    let t = team(&pool).await;
    let a = client(&pool, "Northwind", Some(t.alice), Some(date(2026, 9, 1))).await;
    let maria = contact(&pool, a, "maria").await;
    sent(&pool, a, maria, "nps-90", "nps", now() - Duration::hours(2)).await;

    says(
        &pool,
        &settings,
        "maria",
        "m1",
        "3, the reports keep timing out",
        now(),
    )
    .await;

    let open = escalations(&pool, a).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].reason, "detractor");
    assert_eq!(open[0].severity, "critical");
    assert!(
        open[0].evidence.contains("reports keep timing out"),
        "{open:?}"
    );
    let queued = posts(&pool).await;
    assert_eq!(queued.len(), 2, "{queued:?}");
    let card = queued
        .iter()
        .find(|p| p.staff.is_none())
        .expect("a card for the team chat");
    assert_eq!(card.kind, "escalation");
    assert_eq!(card.delivery, "now", "critical goes out at once");
    for part in [
        "Detractor NPS",
        "Northwind",
        "reports keep timing out",
        "Owner: Alice",
        "2026-09-01",
    ] {
        assert!(
            card.body.contains(part),
            "{part:?} missing from {}",
            card.body
        );
    }
    let labels: Vec<&str> = card
        .buttons
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap())
        .map(|b| b["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Take", "Contacted", "Snooze 1 day", "Resolve"]);
    let note = queued
        .iter()
        .find(|p| p.staff.as_deref() == Some("Alice"))
        .expect("a note to the CSM");
    assert!(note.body.contains("Northwind"));
}

#[sqlx::test]
async fn the_same_signal_evaluated_again_updates_the_escalation_without_posting_again(
    pool: PgPool,
) {
    let config = EscalationConfig::default();
    let t = team(&pool).await;
    let a = client(&pool, "Acme", Some(t.alice), None).await;
    signal(&pool, a, raw("sponsor_left", now() - Duration::days(1))).await;

    let first = run(&pool, &config, now(), None).await.unwrap();
    let second = run(&pool, &config, now() + Duration::hours(1), None)
        .await
        .unwrap();
    let third = run(&pool, &config, now() + Duration::days(2), Some(&[a]))
        .await
        .unwrap();

    assert_eq!(first.opened, 1);
    assert_eq!((second.opened, second.realerted), (0, 0));
    assert_eq!((third.opened, third.realerted), (0, 0));
    assert_eq!(escalations(&pool, a).await.len(), 1);
    assert_eq!(
        posts(&pool).await.len(),
        2,
        "one card and one note, not one per run"
    );
}

#[sqlx::test]
async fn a_worse_state_realerts_the_open_escalation(pool: PgPool) {
    let config = EscalationConfig::default();
    let t = team(&pool).await;
    let a = client(&pool, "Acme", Some(t.alice), None).await;
    signal(&pool, a, critical_ticket("T-1", now() - Duration::days(9))).await;
    run(&pool, &config, now(), None).await.unwrap();
    let opened = escalations(&pool, a).await;
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].reason, "critical_ticket");

    // A second critical ticket goes past its 7 days: twice as bad, worth a new post.
    signal(&pool, a, critical_ticket("T-2", now() - Duration::days(5))).await;
    let later = now() + Duration::days(3);
    let report = run(&pool, &config, later, None).await.unwrap();

    assert_eq!(report.realerted, 1, "{report:?}");
    let after = escalations(&pool, a).await;
    assert_eq!(after.len(), 1, "still one escalation for the reason");
    assert!(after[0].evidence.contains("and 1 more"), "{after:?}");
    let realerts: Vec<_> = posts(&pool)
        .await
        .into_iter()
        .filter(|p| p.kind == "realert")
        .collect();
    assert_eq!(realerts.len(), 1, "{realerts:?}");
    assert!(realerts[0].body.contains("T-1"));
    assert!(
        event_kinds(&pool, after[0].id)
            .await
            .contains(&"realerted".to_string())
    );
}

#[sqlx::test]
async fn non_critical_escalations_wait_for_the_csms_daily_digest(pool: PgPool) {
    let config = EscalationConfig::default();
    let t = team(&pool).await;
    let a = client(&pool, "Acme", Some(t.alice), None).await;
    let mut before = raw("active_users", now() - Duration::days(40));
    before.value = Some(100.0);
    signal(&pool, a, before).await;
    let mut after = raw("active_users", now() - Duration::days(1));
    after.value = Some(50.0);
    signal(&pool, a, after).await;

    run(&pool, &config, now(), None).await.unwrap();

    let open = escalations(&pool, a).await;
    assert_eq!(open[0].reason, "usage_drop");
    let queued = posts(&pool).await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].delivery, "digest");
    assert_eq!(queued[0].staff.as_deref(), Some("Alice"));
    assert!(
        queued[0].body.contains("usage down 50%"),
        "{}",
        queued[0].body
    );
}

#[sqlx::test]
async fn the_ladder_brings_in_the_manager_on_day_8_and_the_vp_on_day_15_once_each(pool: PgPool) {
    let config = EscalationConfig::default();
    let t = team(&pool).await;
    let a = client(&pool, "Acme", Some(t.alice), None).await;
    signal(&pool, a, raw("sponsor_left", now())).await;
    run(&pool, &config, now(), None).await.unwrap();
    let id = escalations(&pool, a).await[0].id;
    let cards = posts(&pool).await.len();

    let day7 = now() + Duration::days(7) - Duration::minutes(1);
    assert_eq!(tick(&pool, &config, day7).await.unwrap().climbed, 0);
    let day8 = now() + Duration::days(7);
    assert_eq!(tick(&pool, &config, day8).await.unwrap().climbed, 1);
    assert_eq!(
        tick(&pool, &config, day8 + Duration::hours(1))
            .await
            .unwrap()
            .climbed,
        0,
        "each step once"
    );
    let manager_posts: Vec<_> = posts(&pool).await.into_iter().skip(cards).collect();
    assert!(
        manager_posts
            .iter()
            .all(|p| p.kind == "ladder" || p.kind == "sla_breach")
    );
    let ladder: Vec<_> = manager_posts
        .iter()
        .filter(|p| p.kind == "ladder")
        .collect();
    let to: Vec<Option<&str>> = ladder.iter().map(|p| p.staff.as_deref()).collect();
    assert_eq!(
        to,
        [None, Some("Max")],
        "the team chat and the CSM's own manager"
    );
    assert!(ladder[0].body.contains("day 8"), "{}", ladder[0].body);

    let day15 = now() + Duration::days(14);
    tick(&pool, &config, day15).await.unwrap();
    let vp: Vec<_> = posts(&pool)
        .await
        .into_iter()
        .filter(|p| p.kind == "ladder" && p.body.contains("VP"))
        .collect();
    assert_eq!(
        vp.iter().map(|p| p.staff.as_deref()).collect::<Vec<_>>(),
        [None, Some("Vera")]
    );
    assert_eq!(
        escalations(&pool, a).await[0].notified_level.as_deref(),
        Some("vp")
    );
    assert_eq!(
        event_kinds(&pool, id)
            .await
            .iter()
            .filter(|k| *k == "climbed")
            .count(),
        2
    );
    let _ = (t.max, t.vera);
}

#[sqlx::test]
async fn a_missed_first_response_is_reported_once_and_a_taken_escalation_is_not(pool: PgPool) {
    let config = EscalationConfig::default();
    let t = team(&pool).await;
    let slow = client(&pool, "Slow Co", Some(t.alice), None).await;
    let quick = client(&pool, "Quick Co", Some(t.alice), None).await;
    signal(&pool, slow, raw("sponsor_left", now())).await;
    signal(&pool, quick, raw("sponsor_left", now())).await;
    // Monday 09:00: four working hours run out at 13:00.
    run(&pool, &config, now(), None).await.unwrap();
    let quick_id = escalations(&pool, quick).await[0].id;
    act(
        &pool,
        EscalationId(quick_id),
        &Action::Take,
        t.alice,
        now() + Duration::hours(1),
    )
    .await
    .unwrap();

    let before = tick(&pool, &config, now() + Duration::hours(3))
        .await
        .unwrap();
    let after = tick(&pool, &config, now() + Duration::hours(4))
        .await
        .unwrap();
    let again = tick(&pool, &config, now() + Duration::hours(6))
        .await
        .unwrap();

    assert_eq!(
        (before.sla_breaches, after.sla_breaches, again.sla_breaches),
        (0, 1, 0)
    );
    let breaches: Vec<_> = posts(&pool)
        .await
        .into_iter()
        .filter(|p| p.kind == "sla_breach")
        .collect();
    assert!(
        breaches.iter().all(|p| p.body.contains("Slow Co")),
        "{breaches:?}"
    );
    assert_eq!(
        breaches
            .iter()
            .map(|p| p.staff.as_deref())
            .collect::<Vec<_>>(),
        [None, Some("Max")]
    );
}

#[sqlx::test]
async fn a_renewal_60_days_out_with_low_health_alerts_and_30_days_out_without_progress_escalates(
    pool: PgPool,
) {
    let config = EscalationConfig::default();
    let t = team(&pool).await;
    let renewal = (now() + Duration::days(25)).date_naive();
    let stalled = client(&pool, "Stalled", Some(t.alice), Some(renewal)).await;
    let moving = client(&pool, "Moving", Some(t.alice), Some(renewal)).await;
    for a in [stalled, moving] {
        sqlx::query(
            "insert into health_scores (account_id, computed_at, score, category, model, components, summary, cause)
             values ($1, $2, 40, 'red', 'weighted', '[]', 'test', 'test')",
        )
        .bind(a.0)
        .bind(now() - Duration::hours(1))
        .execute(&pool)
        .await
        .unwrap();
    }
    signal(
        &pool,
        moving,
        raw("renewal_progress", now() - Duration::days(10)),
    )
    .await;

    run(&pool, &config, now(), None).await.unwrap();

    let reasons = |rows: Vec<Esc>| rows.into_iter().map(|e| e.reason).collect::<Vec<_>>();
    assert_eq!(
        reasons(escalations(&pool, stalled).await),
        ["health_red", "renewal_risk_60", "renewal_no_progress_30"]
    );
    assert_eq!(
        reasons(escalations(&pool, moving).await),
        ["health_red", "renewal_risk_60"]
    );
}

#[sqlx::test]
async fn resolving_as_churned_records_the_reason_and_stops_the_account(pool: PgPool) {
    let config = EscalationConfig::default();
    let t = team(&pool).await;
    let a = client(&pool, "Gone Ltd", Some(t.alice), None).await;
    let mut mention = raw("competitor_mentioned", now());
    mention.competitor = Some("RivalSoft".into());
    signal(&pool, a, mention).await;
    run(&pool, &config, now(), None).await.unwrap();
    let id = EscalationId(escalations(&pool, a).await[0].id);

    let outcome = Outcome::Churned(ChurnReason::Competitor("RivalSoft".into()));
    let e = act(
        &pool,
        id,
        &Action::Resolve(outcome),
        t.alice,
        now() + Duration::days(1),
    )
    .await
    .unwrap();

    assert_eq!(e.status, "resolved");
    assert_eq!(e.outcome.as_deref(), Some("churned:competitor:RivalSoft"));
    let account = accounts::get(&pool, a).await.unwrap().unwrap();
    assert_eq!(account.lifecycle.as_str(), "churned");
    let again = act(&pool, id, &Action::Take, t.alice, now() + Duration::days(2))
        .await
        .unwrap_err();
    assert!(again.to_string().contains("already resolved"), "{again}");
}

#[sqlx::test]
async fn a_resolved_signal_does_not_reopen_while_it_stays_the_same(pool: PgPool) {
    let config = EscalationConfig::default();
    let t = team(&pool).await;
    let a = client(&pool, "Acme", Some(t.alice), None).await;
    signal(&pool, a, critical_ticket("T-9", now() - Duration::days(8))).await;
    run(&pool, &config, now(), None).await.unwrap();
    let id = EscalationId(escalations(&pool, a).await[0].id);
    act(
        &pool,
        id,
        &Action::Resolve(Outcome::Saved),
        t.alice,
        now() + Duration::hours(2),
    )
    .await
    .unwrap();

    let report = run(&pool, &config, now() + Duration::days(1), None)
        .await
        .unwrap();

    assert_eq!(report.opened, 0, "{report:?}");
    assert_eq!(escalations(&pool, a).await.len(), 1);
}

#[sqlx::test]
async fn a_detractor_who_later_answers_higher_is_marked_recovered(pool: PgPool) {
    let settings = Settings::default();
    let t = team(&pool).await;
    let a = client(&pool, "Northwind", Some(t.alice), None).await;
    let maria = contact(&pool, a, "maria").await;
    sent(&pool, a, maria, "nps-30", "nps", now() - Duration::hours(1)).await;
    says(&pool, &settings, "maria", "m1", "4", now()).await;
    let id = escalations(&pool, a).await[0].id;

    let later = now() + Duration::days(60);
    sent(&pool, a, maria, "nps-90", "nps", later - Duration::hours(1)).await;
    says(&pool, &settings, "maria", "m2", "9", later).await;

    let (recovered_at, score): (Option<DateTime<Utc>>, Option<i16>) =
        sqlx::query_as("select recovered_at, recovered_score from escalations where id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(recovered_at, Some(later));
    assert_eq!(score, Some(9));
    let news: Vec<_> = posts(&pool)
        .await
        .into_iter()
        .filter(|p| p.kind == "recovered")
        .collect();
    assert_eq!(news.len(), 1);
    assert!(news[0].body.contains("NPS 9"), "{}", news[0].body);
}

#[sqlx::test]
async fn a_client_asking_for_help_in_a_checkin_opens_a_critical_escalation(pool: PgPool) {
    let settings = Settings::default();
    let t = team(&pool).await;
    let a = client(&pool, "Acme", Some(t.alice), None).await;
    let dana = contact(&pool, a, "dana").await;
    sent(
        &pool,
        a,
        dana,
        "checkin-w2",
        "checkin",
        now() - Duration::hours(3),
    )
    .await;

    says(
        &pool,
        &settings,
        "dana",
        "d1",
        "we need help with the import",
        now(),
    )
    .await;

    let open = escalations(&pool, a).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].reason, "help_requested");
    assert_eq!(open[0].severity, "critical");
    assert!(open[0].evidence.contains("dana asked for help"), "{open:?}");
}

#[sqlx::test]
async fn an_escalation_resolved_before_the_digest_is_left_out_of_it(pool: PgPool) {
    let config = EscalationConfig::default();
    let t = team(&pool).await;
    let a = client(&pool, "Acme", Some(t.alice), None).await;
    let mut before = raw("active_users", now() - Duration::days(40));
    before.value = Some(100.0);
    signal(&pool, a, before).await;
    let mut after = raw("active_users", now() - Duration::days(1));
    after.value = Some(40.0);
    signal(&pool, a, after).await;
    run(&pool, &config, now(), None).await.unwrap();
    let id = EscalationId(escalations(&pool, a).await[0].id);

    act(
        &pool,
        id,
        &Action::Resolve(Outcome::Saved),
        t.alice,
        now() + Duration::hours(1),
    )
    .await
    .unwrap();

    let waiting: i64 = sqlx::query_scalar(
        "select count(*) from staff_posts where delivery = 'digest' and status = 'planned'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        waiting, 0,
        "nothing about a closed escalation waits for the digest"
    );
}
