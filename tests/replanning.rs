//! Re-planning under faults and late events: the nightly pass goes past a broken account, a
//! survey skipped for want of a reachable contact comes back when one joins, and touches
//! overdue after an outage are re-timed by the calendar's rules instead of going out at once.

mod common;
mod fixtures;

use chrono::Duration;
use fixtures::{account, contact, date, new_account, now};
use sqlx::PgPool;
use touchbot::domain::{AccountId, ContactRole};
use touchbot::escalation::EscalationConfig;
use touchbot::inbound::signal_store;
use touchbot::inbound::signals::{RawSignal, parse_signal};
use touchbot::outbound::calendar::CalendarConfig;
use touchbot::outbound::planner;

async fn planned(pool: &PgPool, account: AccountId) -> i64 {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from touches where account_id = $1 and status = 'planned'"#,
        account.0
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// An account whose stored time zone no code writes: loading it fails.
async fn break_account(pool: &PgPool, account: AccountId) {
    sqlx::query!(
        "update accounts set time_zone = 'Mars/Olympus_Mons' where id = $1",
        account.0
    )
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test]
async fn the_nightly_replan_goes_past_a_broken_account_and_counts_it(pool: PgPool) {
    let broken = account(&pool, new_account("Broken", date(2026, 3, 2))).await;
    let fine = account(&pool, new_account("Fine", date(2026, 3, 2))).await;
    for (a, phone) in [(broken, "+77010000001"), (fine, "+77010000002")] {
        contact(&pool, a, "Dana", ContactRole::Champion, phone, now()).await;
    }
    break_account(&pool, broken).await;

    let report = planner::replan_all(&pool, &CalendarConfig::default(), now())
        .await
        .expect("a broken account does not fail the whole pass");

    assert_eq!(report.failed, 1);
    assert_eq!(planned(&pool, broken).await, 0);
    assert!(planned(&pool, fine).await > 10);
}

async fn critical_ticket_open_for_9_days(pool: &PgPool, account: AccountId) {
    let raw = RawSignal {
        kind: "ticket_opened".into(),
        occurred_at: now() - Duration::days(9),
        ticket: Some("T-1".into()),
        severity: Some("critical".into()),
        ..RawSignal::default()
    };
    let s = parse_signal(account, &raw).unwrap();
    signal_store::store(pool, &s, "test").await.unwrap();
}

#[sqlx::test]
async fn the_nightly_escalation_pass_goes_past_an_account_it_cannot_store(pool: PgPool) {
    let broken = account(&pool, new_account("Broken", date(2026, 1, 5))).await;
    let fine = account(&pool, new_account("Fine", date(2026, 1, 5))).await;
    critical_ticket_open_for_9_days(&pool, broken).await;
    critical_ticket_open_for_9_days(&pool, fine).await;
    // The database refuses this one account's escalations, as a constraint or a lost
    // connection would in the middle of the pass.
    sqlx::query!(
        "create function refuse_escalation() returns trigger language plpgsql as
         $$ begin raise exception 'refused for the test'; end $$"
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query!(
        "create trigger refuse_first before insert on escalations
         for each row when (new.account_id = 1) execute function refuse_escalation()"
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(broken, AccountId(1));

    let report =
        touchbot::escalation::engine::run(&pool, &EscalationConfig::default(), now(), None)
            .await
            .expect("one account's failure does not fail the pass");

    assert_eq!(report.failed, 1);
    let open = |a: AccountId| {
        sqlx::query_scalar!(
            r#"select count(*) as "n!" from escalations where account_id = $1"#,
            a.0
        )
        .fetch_one(&pool)
    };
    assert_eq!(open(broken).await.unwrap(), 0);
    assert_eq!(open(fine).await.unwrap(), 1);
}

async fn touch_state(
    pool: &PgPool,
    account: AccountId,
    key: &str,
) -> (String, Option<String>, chrono::DateTime<chrono::Utc>) {
    let r = sqlx::query!(
        "select status, status_reason, due_at from touches where account_id = $1 and touch_key = $2",
        account.0,
        key
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (r.status, r.status_reason, r.due_at)
}

/// Day 30 of an account whose only contact, on Telegram, has not opened their link yet: the
/// morning's plan skips the NPS for want of anyone to ask. The contact joins in the afternoon.
#[sqlx::test]
async fn a_contact_who_joins_late_on_the_day_still_gets_the_day_30_survey(pool: PgPool) {
    let config = CalendarConfig::default();
    let a = account(&pool, new_account("Northwind", date(2026, 1, 31))).await;
    let dana = touchbot::storage::contacts::add(
        &pool,
        &touchbot::storage::contacts::NewContact {
            account_id: a,
            name: "Dana".into(),
            role: ContactRole::Champion,
            channel: touchbot::domain::ChannelKind::Telegram,
            address: None,
            time_zone: None,
            locale: None,
        },
        now() - Duration::days(40),
    )
    .await
    .unwrap()
    .id;
    planner::replan_account(&pool, &config, a, now())
        .await
        .unwrap();
    let key = sqlx::query_scalar!(
        "select touch_key from touches where account_id = $1 and kind = 'nps'
          order by due_at limit 1",
        a.0
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let (status, reason, _) = touch_state(&pool, a, &key).await;
    assert_eq!(status, "skipped");
    assert!(reason.unwrap().starts_with("no reachable contact"));

    let afternoon = now() + Duration::hours(6);
    sqlx::query!(
        "update contacts set address = '777001', joined_at = $2 where id = $1",
        dana.0,
        afternoon
    )
    .execute(&pool)
    .await
    .unwrap();
    planner::replan_account(&pool, &config, a, afternoon)
        .await
        .unwrap();

    let (status, reason, due) = touch_state(&pool, a, &key).await;
    assert_eq!(status, "planned", "{reason:?}");
    assert!(due >= afternoon, "{due}");
}

/// An IANA zone in which the wall clock's now is 03:00, outside any send window, so that what
/// the dispatcher does at once can be told from what the calendar schedules.
fn zone_at_three_in_the_night(now: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike;
    let mut behind = (i64::from(now.hour()) - 3).rem_euclid(24);
    if behind > 12 {
        behind -= 24;
    }
    // Etc/GMT+N is N hours behind UTC (the sign is POSIX's).
    if behind >= 0 {
        format!("Etc/GMT+{behind}")
    } else {
        format!("Etc/GMT{behind}")
    }
}

/// The service was down while a welcome fell due five hours ago. When the dispatcher starts
/// again at 03:00 the client's time, the welcome waits for the morning's send window instead of
/// going out in the night.
#[sqlx::test]
async fn a_touch_left_overdue_by_an_outage_waits_for_the_send_window(pool: PgPool) {
    use std::sync::Arc;
    use touchbot::channel::simulated::SimulatedChannel;

    let started = chrono::Utc::now();
    let mut new = new_account("Northwind", started.date_naive() - Duration::days(1));
    new.time_zone = zone_at_three_in_the_night(started);
    let a = account(&pool, new).await;
    let sim = Arc::new(SimulatedChannel::new());
    let dana = common::contact(&pool, a, "dana").await;
    let config = CalendarConfig::default();
    planner::replan_account(&pool, &config, a, started)
        .await
        .unwrap();
    let overdue = started - Duration::hours(5);
    let stored = sqlx::query!(
        "update touches set due_at = $3 where account_id = $1 and contact_id = $2
            and kind = 'welcome' returning id, due_at",
        a.0,
        dana.0,
        overdue
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    // As stored, to the microsecond.
    let (welcome, overdue) = (stored.id, stored.due_at);

    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(touchbot::outbound::dispatcher::run_dispatcher(
        pool.clone(),
        Arc::new(common::channels(&sim)),
        Arc::new(common::PlainRenderer),
        common::config(),
        "after-outage".into(),
        shutdown,
        Some(Arc::new(config)),
    ));
    let settled = async {
        loop {
            let r = sqlx::query!("select status, due_at from touches where id = $1", welcome)
                .fetch_one(&pool)
                .await
                .unwrap();
            if r.status != "planned" || r.due_at != overdue {
                return (r.status, r.due_at);
            }
            tokio::task::yield_now().await;
        }
    };
    let (status, due) = tokio::time::timeout(std::time::Duration::from_secs(20), settled)
        .await
        .expect("the dispatcher neither sent nor re-timed the overdue welcome");
    stop.send(true).unwrap();
    running.await.unwrap().unwrap();

    assert!(sim.sent().is_empty(), "sent in the night: {:?}", sim.sent());
    assert_eq!(status, "planned");
    let tz: chrono_tz::Tz = zone_at_three_in_the_night(started).parse().unwrap();
    let local = due.with_timezone(&tz);
    assert!(due > started, "{due}");
    assert_eq!(local.format("%H:%M").to_string(), "10:00", "{local}");
}
