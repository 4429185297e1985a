//! The team metrics against a real PostgreSQL (a fresh database per test): what `status` shows
//! per portfolio and per CSM, revenue retention from fed payments, and the weekly digest
//! queued for each CSM and manager. Touches, replies, health scores and escalations are
//! written by SQL, as the dispatcher, the inbound path, the health store and the escalation
//! engine would leave them.

mod fixtures;

use std::process::Command;

use chrono::{DateTime, Duration, Months, Utc};
use fixtures::replies::{self, Answer};
use fixtures::{account, date, new_account, now};
use sqlx::PgPool;
use touchbot::config::Settings;
use touchbot::domain::{AccountId, StaffId, StaffRole};
use touchbot::inbound::signal_store;
use touchbot::inbound::signals::{RawSignal, parse_signal};
use touchbot::metrics::{
    Params, Retention, Scope, WeeklyReport, compute, load, queue_weekly_digests,
};
use touchbot::status::{portfolio_of, render_portfolio};
use touchbot::storage::staff;

async fn person(pool: &PgPool, name: &str, role: StaffRole) -> StaffId {
    staff::add(
        pool,
        &staff::NewStaff {
            name: name.into(),
            role,
            telegram_user_id: None,
            locale: "en".into(),
            manager_id: None,
        },
    )
    .await
    .unwrap()
    .id
}

async fn owned_by(pool: &PgPool, name: &str, csm: Option<StaffId>) -> AccountId {
    let mut new = new_account(name, date(2024, 1, 1));
    new.csm_id = csm;
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

async fn nps(pool: &PgPool, account: AccountId, contact: i64, score: i16, at: DateTime<Utc>) {
    replies::stored_reply(pool, account, contact, None, at, Answer::Nps(score)).await;
}

/// A check-in delivered at `sent`, answered at `answered` if given.
async fn checkin(
    pool: &PgPool,
    account: AccountId,
    contact: i64,
    key: &str,
    sent: DateTime<Utc>,
    answered: Option<DateTime<Utc>>,
) {
    let touch: i64 = sqlx::query_scalar(
        "insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at, status, sent_at)
         values ($1, $2, 'checkin', 'checkin', 'checkin', 'checkin', $3, $4, 'sent', $4)
         returning id",
    )
    .bind(account.0)
    .bind(key)
    .bind(contact)
    .bind(sent)
    .fetch_one(pool)
    .await
    .unwrap();
    if let Some(at) = answered {
        replies::stored_reply(pool, account, contact, Some(touch), at, Answer::Checkin).await;
    }
}

/// A stored health computation, as `health::store::recompute` leaves it.
async fn health(pool: &PgPool, account: AccountId, score: i16, at: DateTime<Utc>) {
    fixtures::scores::stored_score(pool, account, Some(score), at).await;
}

/// An escalation row as the engine writes it; `resolved` closes it at that instant.
async fn escalation(
    pool: &PgPool,
    account: AccountId,
    reason: &str,
    opened: DateTime<Utc>,
    status: &str,
    resolved: Option<DateTime<Utc>>,
) {
    sqlx::query(
        "insert into escalations (account_id, reason, severity, magnitude, status, evidence,
                                  opened_at, resolved_at, updated_at)
         values ($1, $2, 'warning', 1, $3, 'evidence', $4, $5, $4)",
    )
    .bind(account.0)
    .bind(reason)
    .bind(status)
    .bind(opened)
    .bind(resolved)
    .execute(pool)
    .await
    .unwrap();
}

/// A payment fed as an integrator would, with the amount in currency units.
async fn payment(pool: &PgPool, account: AccountId, at: DateTime<Utc>, amount: Option<f64>) {
    let raw = RawSignal {
        kind: "payment_on_time".into(),
        value: amount,
        occurred_at: at,
        ..RawSignal::default()
    };
    let signal = parse_signal(account, &raw).unwrap();
    signal_store::store(pool, &signal, "test").await.unwrap();
}

fn months_ago(n: u32) -> DateTime<Utc> {
    now().checked_sub_months(Months::new(n)).unwrap()
}

fn days_ago(n: i64) -> DateTime<Utc> {
    now() - Duration::days(n)
}

#[sqlx::test]
async fn status_shows_each_csms_nps_health_replies_escalations_and_renewals(pool: PgPool) {
    let aigerim = person(&pool, "Aigerim Sadykova", StaffRole::Csm).await;
    let bolat = person(&pool, "Bolat Nurlanov", StaffRole::Csm).await;
    let northwind = owned_by(&pool, "Northwind", Some(aigerim)).await;
    let contoso = owned_by(&pool, "Contoso", Some(aigerim)).await;
    let initech = owned_by(&pool, "Initech", Some(bolat)).await;
    sqlx::query("update accounts set renewal_date = $2 where id = $1")
        .bind(initech.0)
        .bind(now().date_naive() + Duration::days(45))
        .execute(&pool)
        .await
        .unwrap();

    let dana = contact(&pool, northwind, "dana").await;
    let finn = contact(&pool, contoso, "finn").await;
    let gul = contact(&pool, initech, "gul").await;
    nps(&pool, northwind, dana, 3, days_ago(60)).await;
    nps(&pool, northwind, dana, 10, days_ago(5)).await;
    nps(&pool, contoso, finn, 9, days_ago(20)).await;
    nps(&pool, initech, gul, 4, days_ago(2)).await;
    nps(&pool, initech, gul, 10, days_ago(120)).await;

    health(&pool, northwind, 70, days_ago(40)).await;
    health(&pool, northwind, 90, days_ago(1)).await;
    health(&pool, contoso, 80, days_ago(35)).await;
    health(&pool, contoso, 70, days_ago(3)).await;
    health(&pool, initech, 40, days_ago(2)).await;

    // Northwind answers within the week; Initech answers one late and ignores one; a
    // check-in sent yesterday is still waiting.
    checkin(
        &pool,
        northwind,
        dana,
        "c1",
        days_ago(30),
        Some(days_ago(29)),
    )
    .await;
    checkin(&pool, initech, gul, "c2", days_ago(30), Some(days_ago(20))).await;
    checkin(&pool, initech, gul, "c3", days_ago(15), None).await;
    checkin(&pool, initech, gul, "c4", days_ago(1), None).await;

    escalation(&pool, initech, "detractor", days_ago(2), "open", None).await;
    escalation(&pool, initech, "silence", days_ago(9), "acknowledged", None).await;
    escalation(
        &pool,
        northwind,
        "health_red",
        days_ago(20),
        "resolved",
        Some(days_ago(10)),
    )
    .await;

    let p = portfolio_of(&pool, now(), None, &Params::default())
        .await
        .unwrap();
    let m = &p.metrics;
    // Latest answer per contact in 90 days: 10, 9, 4.
    assert_eq!((m.nps.answers, m.nps.score()), (3, Some(33)));
    assert_eq!(m.health.average, Some(200.0 / 3.0));
    // Northwind +20, Contoso -10; Initech was not scored 30 days ago.
    assert_eq!((m.health.compared, m.health.change_30d), (2, Some(5.0)));
    assert_eq!((m.health.green, m.health.yellow, m.health.red), (1, 1, 1));
    assert_eq!(
        (m.response.asked, m.response.answered, m.response.waiting),
        (3, 1, 1)
    );
    let ages: Vec<u32> = m.escalations.buckets.iter().map(|b| b.count).collect();
    assert_eq!(ages, [1, 1, 0]);
    let renewals: Vec<(&str, i64, Option<u8>)> = m
        .renewals
        .iter()
        .map(|r| (r.name.as_str(), r.days, r.health))
        .collect();
    assert_eq!(renewals, [("Initech", 45, Some(40))]);

    let rows: Vec<(&str, usize, Option<i64>)> = p
        .by_csm
        .iter()
        .map(|c| (c.name.as_str(), c.metrics.accounts, c.metrics.nps.score()))
        .collect();
    assert_eq!(
        rows,
        [
            ("Aigerim Sadykova", 2, Some(100)),
            ("Bolat Nurlanov", 1, Some(-100))
        ]
    );

    let text = render_portfolio(&p);
    for line in [
        "Portfolio on 2026-03-02: 3 accounts (3 active)\n",
        "NPS, last 90 days: +33 from 3 answers (2 promoters, 0 passives, 1 detractor) — below target (> +50)\n",
        "Health: 1 green, 1 yellow, 1 red; average 67, up 5 over 30 days — below target (> 75)\n",
        "Replies: 33% of 3 touches that asked something in the last 90 days answered within 7 days (1 more still within their reply window)\n",
        "Open escalations: 2 (days 1-7: 1, days 8-14: 1, day 15+: 0)\n",
        "Renewals in the next 120 days: 1 (1 red)\n  Initech: ",
        "Revenue retention: not enough payment data",
        "By CSM:",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    for line in text.lines() {
        assert!(line.chars().count() <= 160, "too wide: {line}");
    }
}

#[sqlx::test]
async fn one_csms_view_reads_only_their_accounts_and_has_no_per_csm_table(pool: PgPool) {
    let aigerim = person(&pool, "Aigerim Sadykova", StaffRole::Csm).await;
    let bolat = person(&pool, "Bolat Nurlanov", StaffRole::Csm).await;
    let northwind = owned_by(&pool, "Northwind", Some(aigerim)).await;
    let initech = owned_by(&pool, "Initech", Some(bolat)).await;
    let dana = contact(&pool, northwind, "dana").await;
    let gul = contact(&pool, initech, "gul").await;
    nps(&pool, northwind, dana, 10, days_ago(1)).await;
    nps(&pool, initech, gul, 0, days_ago(1)).await;
    escalation(&pool, initech, "detractor", days_ago(1), "open", None).await;

    let me = staff::find(&pool, "aig").await.unwrap();
    let p = portfolio_of(&pool, now(), Some(&me), &Params::default())
        .await
        .unwrap();
    assert_eq!(p.metrics.scope, Scope::Csm(aigerim));
    assert_eq!((p.metrics.accounts, p.metrics.nps.score()), (1, Some(100)));
    assert_eq!(p.metrics.escalations.open, 0);
    assert!(p.by_csm.is_empty());
    let names: Vec<&str> = p.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["Northwind"]);
    let text = render_portfolio(&p);
    assert!(
        text.starts_with("Aigerim Sadykova's portfolio on 2026-03-02: 1 account (1 active)\n"),
        "{text}"
    );
    assert!(!text.contains("By CSM"), "{text}");
    assert!(!text.contains("Initech"), "{text}");
}

#[sqlx::test]
async fn escalations_count_as_open_until_resolved_and_by_their_age_then(pool: PgPool) {
    let a = owned_by(&pool, "Northwind", None).await;
    escalation(&pool, a, "detractor", days_ago(1), "open", None).await;
    escalation(&pool, a, "silence", days_ago(10), "acknowledged", None).await;
    escalation(&pool, a, "health_red", days_ago(30), "open", None).await;
    // Resolved five days ago: open at an instant before that, closed now.
    escalation(
        &pool,
        a,
        "usage_drop",
        days_ago(20),
        "resolved",
        Some(days_ago(5)),
    )
    .await;
    // Not opened yet at `now`.
    escalation(&pool, a, "sponsor_left", days_ago(-1), "open", None).await;

    let params = Params::default();
    let at = |when| {
        let pool = pool.clone();
        let params = params.clone();
        async move {
            let facts = load(&pool, when, None, &params).await.unwrap();
            let m = compute(&facts, Scope::Portfolio, &params);
            m.escalations
                .buckets
                .iter()
                .map(|b| b.count)
                .collect::<Vec<u32>>()
        }
    };
    assert_eq!(at(now()).await, [1, 1, 1]);
    // Six days ago the first had not opened, the second was on day 5, and the resolved one
    // was open, on day 15 with the third.
    assert_eq!(at(days_ago(6)).await, [1, 0, 2]);
}

#[sqlx::test]
async fn revenue_retention_comes_from_the_amounts_on_payment_signals(pool: PgPool) {
    let aigerim = person(&pool, "Aigerim Sadykova", StaffRole::Csm).await;
    let grew = owned_by(&pool, "Grew", Some(aigerim)).await;
    let left = owned_by(&pool, "Left", Some(aigerim)).await;
    let new = owned_by(&pool, "New", None).await;
    // Monthly payments: Grew from 1,000 to 1,500 a month, Left stopped a year ago; New
    // started paying this year.
    for m in 1..=24 {
        let paid_at = months_ago(m) + Duration::days(1);
        let amount = if m <= 12 { 1500.0 } else { 1000.0 };
        payment(&pool, grew, paid_at, Some(amount)).await;
        if m > 12 {
            payment(&pool, left, paid_at, Some(500.0)).await;
        }
        if m <= 6 {
            payment(&pool, new, paid_at, Some(9999.0)).await;
        }
    }
    // A payment without an amount changes nothing.
    payment(&pool, left, days_ago(3), None).await;

    let p = portfolio_of(&pool, now(), None, &Params::default())
        .await
        .unwrap();
    let Retention::Measured {
        nrr,
        grr,
        accounts,
        before_cents,
        now_cents,
    } = p.metrics.retention
    else {
        panic!("no figure: {:?}", p.metrics.retention);
    };
    // Before: 12 × 1,000 + 12 × 500 = 18,000; now: 12 × 1,500 = 18,000, of which 12,000 kept.
    assert_eq!(
        (accounts, before_cents, now_cents),
        (2, 1_800_000, 1_800_000)
    );
    assert!((nrr - 1.0).abs() < 1e-9 && (grr - 2.0 / 3.0).abs() < 1e-9);
    let text = render_portfolio(&p);
    assert!(
        text.contains(
            "Revenue retention, last 12 months against the 12 before, 2 paying accounts: \
             NRR 100% — below target (> 110%); GRR 67% — below target (> 90%)"
        ),
        "{text}"
    );
    // The CSM's row has the same figures; the unowned account is new business only.
    let rows: Vec<(&str, String)> = p
        .by_csm
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                touchbot::metrics::text::retention_cells(&c.metrics).0,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("Aigerim Sadykova", "100%".into()),
            ("(no CSM)", "-".into())
        ]
    );
}

#[sqlx::test]
async fn payments_without_amounts_show_not_enough_payment_data(pool: PgPool) {
    let a = owned_by(&pool, "Northwind", None).await;
    for m in 1..=24 {
        payment(&pool, a, months_ago(m), None).await;
    }
    let p = portfolio_of(&pool, now(), None, &Params::default())
        .await
        .unwrap();
    assert!(
        matches!(p.metrics.retention, Retention::NotEnoughData { .. }),
        "{:?}",
        p.metrics.retention
    );
    assert!(render_portfolio(&p).contains(
        "Revenue retention: not enough payment data (no payment has an amount recorded)\n"
    ),);
}

async fn weekly_posts(pool: &PgPool) -> Vec<(String, Option<i64>, String, String, String)> {
    sqlx::query_as(
        "select idempotency_key, staff_id, kind, delivery, body from staff_posts order by id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn the_weekly_digest_goes_once_a_week_to_each_csm_with_accounts_and_to_each_manager(
    pool: PgPool,
) {
    let aigerim = person(&pool, "Aigerim Sadykova", StaffRole::Csm).await;
    let bolat = person(&pool, "Bolat Nurlanov", StaffRole::Csm).await;
    let _idle = person(&pool, "Dana Idle", StaffRole::Csm).await;
    let mira = person(&pool, "Mira Head", StaffRole::CsManager).await;
    let vera = person(&pool, "Vera VP", StaffRole::Vp).await;
    let _admin = person(&pool, "Root Admin", StaffRole::Admin).await;
    let northwind = owned_by(&pool, "Northwind", Some(aigerim)).await;
    let initech = owned_by(&pool, "Initech", Some(bolat)).await;
    let dana = contact(&pool, northwind, "dana").await;
    nps(&pool, northwind, dana, 10, days_ago(1)).await;
    health(&pool, initech, 30, days_ago(1)).await;

    let settings = Settings::default();
    let first = queue_weekly_digests(&pool, &settings, now()).await.unwrap();
    assert_eq!(
        first,
        WeeklyReport {
            queued: 4,
            already_queued: 0
        }
    );
    // Later the same week: nothing new.
    let again = queue_weekly_digests(&pool, &settings, now() + Duration::days(3))
        .await
        .unwrap();
    assert_eq!(
        again,
        WeeklyReport {
            queued: 0,
            already_queued: 4
        }
    );

    let posts = weekly_posts(&pool).await;
    let keys: Vec<(&str, Option<i64>)> = posts.iter().map(|p| (p.0.as_str(), p.1)).collect();
    let key = |id: StaffId| format!("weekly:staff-{}:2026-W10", id.0);
    assert_eq!(
        keys,
        [
            (key(aigerim).as_str(), Some(aigerim.0)),
            (key(bolat).as_str(), Some(bolat.0)),
            (key(mira).as_str(), Some(mira.0)),
            (key(vera).as_str(), Some(vera.0)),
        ]
    );
    assert!(posts.iter().all(|p| p.2 == "weekly" && p.3 == "now"));

    let aigerims = &posts[0].4;
    assert!(
        aigerims.starts_with("Your portfolio's week 2026-W10: 1 account, 1 active.\n"),
        "{aigerims}"
    );
    assert!(
        aigerims.contains("NPS, last 90 days: +100 from 1 answer"),
        "{aigerims}"
    );
    assert!(!aigerims.contains("Initech"), "{aigerims}");
    let boss = &posts[2].4;
    assert!(
        boss.starts_with("The team's week 2026-W10: 2 accounts, 2 active.\n"),
        "{boss}"
    );
    assert!(
        boss.contains("Health: 0 green, 0 yellow, 1 red (1 not scored)"),
        "{boss}"
    );
    assert!(
        boss.contains("By CSM:\n  Aigerim Sadykova: 1 account, NPS +100 (1)"),
        "{boss}"
    );
    assert!(boss.contains("\n  Dana Idle: 0 accounts"), "{boss}");
    assert_eq!(
        posts[2].4, posts[3].4,
        "the VP reads what the manager reads"
    );

    // The next week queues a new round.
    let next = queue_weekly_digests(&pool, &settings, now() + Duration::days(7))
        .await
        .unwrap();
    assert_eq!(next.queued, 4);
}

/// The program, pointed at the test's database; returns the exit code, stdout and stderr.
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
async fn status_csm_takes_part_of_a_name_and_lists_the_candidates_when_ambiguous(pool: PgPool) {
    let aigerim = person(&pool, "Aigerim Sadykova", StaffRole::Csm).await;
    let asel = person(&pool, "Asel Omarova", StaffRole::Csm).await;
    owned_by(&pool, "Northwind", Some(aigerim)).await;
    owned_by(&pool, "Initech", Some(asel)).await;

    let (code, out, err) = touchbot(&pool, &["status", "--csm", "AIGER"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Aigerim Sadykova's portfolio on "), "{out}");
    assert!(
        out.contains("Northwind") && !out.contains("Initech"),
        "{out}"
    );

    let (code, _, err) = touchbot(&pool, &["status", "--csm", "a"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "'a' matches several staff members: Aigerim Sadykova (id 1), Asel Omarova (id 2)"
        ),
        "{err}"
    );
    let (code, _, err) = touchbot(&pool, &["status", "--csm", "nobody"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no staff member matches 'nobody'"), "{err}");

    let (code, out, _) = touchbot(&pool, &["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("By CSM:"), "{out}");
    assert!(out.contains("Asel Omarova"), "{out}");
    for line in out.lines() {
        assert!(line.chars().count() <= 160, "too wide: {line}");
    }
}

#[sqlx::test]
async fn a_payment_amount_is_fed_with_value_and_a_negative_one_is_refused(pool: PgPool) {
    owned_by(&pool, "Northwind", None).await;
    let add = |value: &'static str| {
        touchbot(
            &pool,
            &[
                "signal",
                "add",
                "--account",
                "north",
                "--kind",
                "payment_late",
                "--value",
                value,
            ],
        )
    };
    let (code, _, err) = add("-300");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "-300 is not a valid value for payment_late; give the amount paid in currency units"
        ),
        "{err}"
    );
    let (code, out, err) = add("1200.50");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Recorded payment_late for Northwind"), "{out}");
    let stored: Option<f64> = sqlx::query_scalar("select value from signals")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, Some(1200.5));
}
