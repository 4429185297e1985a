//! An account's first plan is copied into the outbox in bulk, a later one upserted: both must
//! store the very same touches. Against a real PostgreSQL (one fresh database per test).

mod fixtures;

use chrono::Duration;
use fixtures::touches::{Stored, stored};
use fixtures::{account, contact, csm, new_account, now};
use sqlx::PgPool;
use touchbot::domain::{AccountId, ContactRole, Segment};
use touchbot::outbound::calendar::CalendarConfig;
use touchbot::outbound::planner;

/// Every column the planner wrote (the ids differ between the two ways of writing).
async fn written(pool: &PgPool, account: AccountId) -> Vec<Stored> {
    stored(pool, account)
        .await
        .into_iter()
        .filter(|t| t.touch_key != "placeholder")
        .map(Stored::without_id)
        .collect()
}

async fn replan(pool: &PgPool, account: AccountId) {
    planner::replan_account(pool, &CalendarConfig::default(), account, now())
        .await
        .unwrap();
}

/// An enterprise account that started 200 days ago, enrolled today with a CSM and two
/// contacts: its plan has touches for contacts and for the CSM, touches skipped for several
/// reasons, and touches carrying notes.
async fn enrolled_late(pool: &PgPool) -> AccountId {
    let mut new = new_account("Northwind", now().date_naive() - Duration::days(200));
    new.segment = Segment::Enterprise;
    new.csm_id = Some(csm(pool, "Aigerim").await);
    let a = account(pool, new).await;
    for (name, role, phone) in [
        ("Dana", ContactRole::DecisionMaker, "+77010000001"),
        ("Ivan", ContactRole::Champion, "+77010000002"),
    ] {
        contact(pool, a, name, role, phone, now()).await;
    }
    a
}

#[sqlx::test]
async fn a_first_plan_stores_the_same_touches_as_a_replan_over_existing_ones(pool: PgPool) {
    let a = enrolled_late(&pool).await;
    replan(&pool, a).await;
    let copied = written(&pool, a).await;
    assert!(copied.iter().any(|t| t.staff_id.is_some()), "{copied:#?}");
    assert!(
        copied
            .iter()
            .any(|t| t.status == "planned" && t.contact_id.is_some())
    );
    assert!(copied.iter().any(|t| t.status == "skipped"));
    assert!(copied.iter().any(|t| t.status_reason.is_none()));
    assert!(copied.iter().any(|t| !t.notes.is_empty()), "{copied:#?}");

    // The same account holding one touch of its own: its plan goes through the upsert.
    sqlx::query("delete from touches where account_id = $1")
        .bind(a.0)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "insert into touches (account_id, touch_key, rule, kind, category, template, due_at,
                              status, status_reason)
         values ($1, 'placeholder', 'welcome', 'welcome', 'onboarding', 'welcome', $2,
                 'skipped', 'no recipient')",
    )
    .bind(a.0)
    .bind(now() + Duration::days(400))
    .execute(&pool)
    .await
    .unwrap();
    replan(&pool, a).await;
    assert_eq!(written(&pool, a).await, copied);
}
