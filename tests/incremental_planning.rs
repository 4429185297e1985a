//! The nightly re-plan plans again only the accounts whose inputs changed or whose plan
//! stopped holding; everything else keeps its plan untouched. One test per kind of input.

mod common;
mod fixtures;

use chrono::{DateTime, Duration, Utc};
use fixtures::{account, contact, date, new_account, now};
use sqlx::PgPool;
use touchbot::domain::{AccountId, ContactRole, MessageCategory, Segment};
use touchbot::inbound::signal_store;
use touchbot::inbound::signals::{RawSignal, parse_signal};
use touchbot::outbound::calendar::{CalendarConfig, ClockTime};
use touchbot::outbound::planner::{self, ReplanReport};
use touchbot::storage::{accounts, consents, contacts};

type Row = (String, String, DateTime<Utc>, DateTime<Utc>);

/// Every touch of the account: key, status, due time and when its row last changed.
async fn touches(pool: &PgPool, account: AccountId) -> Vec<Row> {
    sqlx::query_as(
        "select touch_key, status, due_at, updated_at from touches
          where account_id = $1 order by touch_key",
    )
    .bind(account.0)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn status_of(pool: &PgPool, account: AccountId, key: &str) -> Option<String> {
    touches(pool, account)
        .await
        .into_iter()
        .find(|t| t.0 == key)
        .map(|t| t.1)
}

async fn nightly(pool: &PgPool, at: DateTime<Utc>) -> ReplanReport {
    planner::replan_all(pool, &CalendarConfig::default(), at)
        .await
        .unwrap()
}

/// An account renewing on 2027-03-01 with a decision maker and a champion, planned once.
async fn planned_account(pool: &PgPool, name: &str) -> AccountId {
    let mut new = new_account(name, date(2026, 3, 2));
    new.renewal_date = Some(date(2027, 3, 1));
    let a = account(pool, new).await;
    for (who, role, phone) in [
        ("Dana", ContactRole::DecisionMaker, "+77011230001"),
        ("Omar", ContactRole::Champion, "+77011230002"),
    ] {
        contact(
            pool,
            a,
            &format!("{who} of {name}"),
            role,
            &format!("{phone}{}", a.0),
            now(),
        )
        .await;
    }
    a
}

#[sqlx::test]
async fn with_nothing_changed_the_nightly_replan_leaves_every_plan_as_it_was(pool: PgPool) {
    let a = planned_account(&pool, "Northwind").await;
    let b = planned_account(&pool, "Contoso").await;
    let first = nightly(&pool, now()).await;
    assert_eq!(first.unchanged, 0);
    assert!(first.planned > 20);
    let before = (touches(&pool, a).await, touches(&pool, b).await);

    let again = nightly(&pool, now()).await;

    assert_eq!(
        again,
        ReplanReport {
            unchanged: 2,
            ..ReplanReport::default()
        }
    );
    assert_eq!((touches(&pool, a).await, touches(&pool, b).await), before);
}

#[sqlx::test]
async fn an_account_is_planned_again_once_its_next_touch_falls_due(pool: PgPool) {
    let a = planned_account(&pool, "Northwind").await;
    nightly(&pool, now()).await;
    let first_due = touches(&pool, a)
        .await
        .into_iter()
        .filter(|t| t.1 == "planned")
        .map(|t| t.2)
        .min()
        .unwrap();

    assert_eq!(
        nightly(&pool, first_due - Duration::minutes(1))
            .await
            .unchanged,
        1
    );
    // Nobody sent it (no dispatcher ran): a day later the calendar moves it on.
    let late = nightly(&pool, first_due + Duration::days(1)).await;
    assert_eq!(late.unchanged, 0);
    let due_now: Vec<_> = touches(&pool, a)
        .await
        .into_iter()
        .filter(|t| t.1 == "planned")
        .collect();
    assert!(
        due_now.iter().all(|t| t.2 >= first_due + Duration::days(1)),
        "{due_now:?}"
    );
}

#[sqlx::test]
async fn a_changed_renewal_date_gives_the_renewal_touches_their_new_dates_overnight(pool: PgPool) {
    let a = planned_account(&pool, "Northwind").await;
    let b = planned_account(&pool, "Contoso").await;
    nightly(&pool, now()).await;
    assert_eq!(
        status_of(&pool, a, "renewal-30@2027-03-01")
            .await
            .as_deref(),
        Some("planned")
    );
    // Changed by hand in the database, with no re-plan of its own.
    sqlx::query("update accounts set renewal_date = date '2027-06-01' where id = $1")
        .bind(a.0)
        .execute(&pool)
        .await
        .unwrap();

    let report = nightly(&pool, now()).await;

    assert_eq!(
        report.unchanged, 1,
        "only the edited account is planned again"
    );
    assert_eq!(
        status_of(&pool, a, "renewal-30@2027-03-01")
            .await
            .as_deref(),
        Some("cancelled")
    );
    assert_eq!(
        status_of(&pool, a, "renewal-30@2027-06-01")
            .await
            .as_deref(),
        Some("planned")
    );
    assert_eq!(
        status_of(&pool, b, "renewal-30@2027-03-01")
            .await
            .as_deref(),
        Some("planned")
    );
}

#[sqlx::test]
async fn a_contact_added_without_a_replan_is_welcomed_after_the_nightly_replan(pool: PgPool) {
    let a = planned_account(&pool, "Northwind").await;
    nightly(&pool, now()).await;
    let lee = contacts::add(
        &pool,
        &fixtures::new_contact(a, "Lee", ContactRole::User, "+77011239999"),
        now(),
    )
    .await
    .unwrap()
    .id;

    assert_eq!(nightly(&pool, now()).await.unchanged, 0);
    assert_eq!(
        status_of(&pool, a, &format!("welcome:c{lee}"))
            .await
            .as_deref(),
        Some("planned")
    );
}

#[sqlx::test]
async fn a_removed_contacts_touches_are_cancelled_by_the_nightly_replan(pool: PgPool) {
    let a = planned_account(&pool, "Northwind").await;
    nightly(&pool, now()).await;
    let omar = contacts::list(&pool, a).await.unwrap()[1].id;
    assert_eq!(
        status_of(&pool, a, &format!("welcome:c{omar}"))
            .await
            .as_deref(),
        Some("planned")
    );
    // Removed in the database, with no re-plan of its own.
    sqlx::query("update contacts set removed_at = $2 where id = $1")
        .bind(omar.0)
        .bind(now())
        .execute(&pool)
        .await
        .unwrap();

    assert_eq!(nightly(&pool, now()).await.unchanged, 0);
    assert_eq!(
        status_of(&pool, a, &format!("welcome:c{omar}"))
            .await
            .as_deref(),
        Some("cancelled")
    );
}

#[sqlx::test]
async fn a_new_calendar_configuration_replans_every_account(pool: PgPool) {
    let a = planned_account(&pool, "Northwind").await;
    let b = planned_account(&pool, "Contoso").await;
    nightly(&pool, now()).await;
    let mut edited = CalendarConfig::default();
    edited.send_window.start = ClockTime(chrono::NaiveTime::from_hms_opt(14, 30, 0).unwrap());

    let report = planner::replan_all(&pool, &edited, now()).await.unwrap();

    assert_eq!(report.unchanged, 0);
    for acc in [a, b] {
        let planned: Vec<_> = touches(&pool, acc)
            .await
            .into_iter()
            .filter(|t| t.1 == "planned")
            .collect();
        assert!(!planned.is_empty());
        assert!(
            planned
                .iter()
                .all(|t| t.2.format("%H:%M").to_string() == "14:30"),
            "{planned:?}"
        );
    }
}

#[sqlx::test]
async fn a_touch_sent_changes_the_history_and_the_account_is_planned_again(pool: PgPool) {
    let a = planned_account(&pool, "Northwind").await;
    nightly(&pool, now()).await;
    // The dispatcher sent the welcome to Dana early (an operator's requeue, say).
    sqlx::query(
        "update touches set status = 'sent', sent_at = $2
          where account_id = $1 and touch_key like 'welcome:%'
            and contact_id = (select min(id) from contacts where account_id = $1)",
    )
    .bind(a.0)
    .bind(now())
    .execute(&pool)
    .await
    .unwrap();

    assert_eq!(nightly(&pool, now()).await.unchanged, 0);
    assert_eq!(nightly(&pool, now()).await.unchanged, 1);
}

#[sqlx::test]
async fn a_closed_ticket_brings_its_survey_at_the_nightly_replan(pool: PgPool) {
    let a = planned_account(&pool, "Northwind").await;
    nightly(&pool, now()).await;
    let raw = RawSignal {
        kind: "ticket_closed".into(),
        occurred_at: now() - Duration::hours(2),
        ticket: Some("T-7".into()),
        ..RawSignal::default()
    };
    signal_store::store(&pool, &parse_signal(a, &raw).unwrap(), "test")
        .await
        .unwrap();

    assert_eq!(nightly(&pool, now()).await.unchanged, 0);
    assert!(status_of(&pool, a, "csat@T-7").await.is_some());
}

#[sqlx::test]
async fn an_edit_replanned_at_once_is_left_alone_by_the_nightly_replan(pool: PgPool) {
    let a = planned_account(&pool, "Northwind").await;
    nightly(&pool, now()).await;
    accounts::update(
        &pool,
        a,
        &accounts::AccountUpdate {
            renewal_date: Some(Some(date(2027, 6, 1))),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    planner::replan_account(&pool, &CalendarConfig::default(), a, now())
        .await
        .unwrap();
    assert_eq!(
        status_of(&pool, a, "renewal-30@2027-06-01")
            .await
            .as_deref(),
        Some("planned")
    );

    assert_eq!(nightly(&pool, now()).await.unchanged, 1);
}

/// The contact's touches of `category` still waiting to be sent.
async fn planned_to(pool: &PgPool, contact: i64, category: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from touches
          where contact_id = $1 and category = $2 and status = 'planned'",
    )
    .bind(contact)
    .bind(category)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn an_opt_out_recorded_without_a_replan_stops_the_surveys_at_the_nightly_replan(
    pool: PgPool,
) {
    let a = planned_account(&pool, "Northwind").await;
    nightly(&pool, now()).await;
    let people = contacts::list(&pool, a).await.unwrap();
    let asked = people[0].id;
    assert!(planned_to(&pool, asked.0, "survey").await > 0);
    let mut conn = pool.acquire().await.unwrap();
    consents::set(
        &mut conn,
        asked,
        MessageCategory::Survey,
        true,
        now(),
        "test",
    )
    .await
    .unwrap();

    assert_eq!(nightly(&pool, now()).await.unchanged, 0);
    assert_eq!(planned_to(&pool, asked.0, "survey").await, 0);
}

#[sqlx::test]
async fn deleting_a_contact_or_an_account_by_hand_deletes_their_touches(pool: PgPool) {
    let a = planned_account(&pool, "Northwind").await;
    let b = planned_account(&pool, "Contoso").await;
    nightly(&pool, now()).await;
    let omar = contacts::list(&pool, a).await.unwrap()[1].id;
    let omars: i64 = sqlx::query_scalar("select count(*) from touches where contact_id = $1")
        .bind(omar.0)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(omars > 0);

    sqlx::query("delete from contacts where id = $1")
        .bind(omar.0)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("delete from accounts where id = $1")
        .bind(b.0)
        .execute(&pool)
        .await
        .unwrap();

    let left: Vec<(i64, Option<i64>)> =
        sqlx::query_as("select account_id, contact_id from touches")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(!left.is_empty());
    assert!(
        left.iter()
            .all(|(acc, c)| *acc == a.0 && *c != Some(omar.0)),
        "{left:?}"
    );
}

#[sqlx::test]
async fn a_staff_member_deleted_by_hand_is_refused_while_touches_wait_for_them(pool: PgPool) {
    let aigerim = fixtures::csm(&pool, "Aigerim").await;
    let mut new = new_account("Northwind", date(2026, 3, 2));
    new.segment = Segment::Enterprise;
    new.renewal_date = Some(date(2027, 3, 1));
    new.csm_id = Some(aigerim);
    account(&pool, new).await;
    nightly(&pool, now()).await;
    // Their touches: how many, and how many planned.
    let theirs = || {
        sqlx::query_as::<_, (i64, i64)>(
            "select count(*), count(*) filter (where status = 'planned')
               from touches where staff_id = $1",
        )
        .bind(aigerim.0)
        .fetch_one(&pool)
    };
    let (named, planned) = theirs().await.unwrap();
    assert!(planned > 0);
    let delete = || {
        sqlx::query("delete from staff where id = $1")
            .bind(aigerim.0)
            .execute(&pool)
    };

    // A touch to send needs its recipient, as it did under the foreign key.
    assert!(delete().await.is_err());
    assert_eq!(theirs().await.unwrap(), (named, planned));

    // Cancelled touches let go of them, as `on delete set null` did.
    sqlx::query("update touches set status = 'cancelled' where staff_id = $1")
        .bind(aigerim.0)
        .execute(&pool)
        .await
        .unwrap();
    delete().await.unwrap();
    let orphans: i64 = sqlx::query_scalar(
        "select count(*) from touches where status = 'cancelled' and staff_id is null",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(orphans, named);
}

async fn notes_of(pool: &PgPool, account: AccountId) -> i64 {
    sqlx::query_scalar("select count(*) from plan_input_changes where account_id = $1")
        .bind(account.0)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_paused_accounts_changes_are_forgotten_and_its_return_plans_it_again(pool: PgPool) {
    let a = planned_account(&pool, "Northwind").await;
    nightly(&pool, now()).await;
    let set_lifecycle = |lifecycle: &'static str| {
        sqlx::query("update accounts set lifecycle = $2 where id = $1")
            .bind(a.0)
            .bind(lifecycle)
            .execute(&pool)
    };
    set_lifecycle("paused").await.unwrap();
    // A contact added while the account is paused: noted, but no plan will answer it.
    let lena = contact(&pool, a, "Lena", ContactRole::User, "+77011239999", now()).await;
    assert!(notes_of(&pool, a).await > 0);

    nightly(&pool, now()).await;
    assert_eq!(
        notes_of(&pool, a).await,
        0,
        "the paused account's notes pile up"
    );

    set_lifecycle("active").await.unwrap();
    let report = nightly(&pool, now() + Duration::hours(1)).await;
    assert_eq!(
        report.unchanged, 0,
        "the returning account is planned again"
    );
    assert_eq!(
        status_of(&pool, a, &format!("welcome:c{lena}"))
            .await
            .as_deref(),
        Some("planned")
    );
}
