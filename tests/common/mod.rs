//! Test fixtures: plain rows in a fresh database, a renderer without templates, a fixed clock.

#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::PgPool;
use touchbot::channel::Channels;
use touchbot::channel::ratelimit::RateLimits;
use touchbot::channel::simulated::SimulatedChannel;
use touchbot::domain::{AccountId, ContactId, StaffId, TouchId};
use touchbot::outbound::dispatcher::{DispatcherConfig, Render, Rendered, TouchToSend};

/// A Monday morning, the clock every test starts from.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

pub fn config() -> DispatcherConfig {
    DispatcherConfig {
        workers: 4,
        batch_size: 10,
        lease_seconds: 60,
        poll_interval_seconds: 3600,
        max_attempts: 4,
        backoff_base_seconds: 30,
        backoff_max_seconds: 3600,
        shutdown_grace_seconds: 5,
        rate_limits: RateLimits::default(),
        window: Default::default(),
    }
}

pub fn channels(sim: &Arc<SimulatedChannel>) -> Channels {
    Channels::new(RateLimits::default()).with(sim.clone())
}

/// Names the template and the recipient; fails for the template "broken".
pub struct PlainRenderer;

impl Render for PlainRenderer {
    fn render(&self, touch: &TouchToSend) -> anyhow::Result<Rendered> {
        if touch.template == "broken" {
            anyhow::bail!("template 'broken' does not exist");
        }
        Ok(Rendered {
            text: format!("{} for {}", touch.template, touch.recipient_name),
            buttons: vec![],
            parameters: vec![],
        })
    }
}

pub async fn account(pool: &PgPool, name: &str) -> AccountId {
    let id = sqlx::query_scalar!(
        "insert into accounts (name, segment, contract_start, renewal_date)
         values ($1, 'smb', '2026-01-01', '2027-01-01') returning id",
        name
    )
    .fetch_one(pool)
    .await
    .unwrap();
    AccountId(id)
}

/// A contact on the simulated channel, reachable at `address`.
pub async fn contact(pool: &PgPool, account: AccountId, address: &str) -> ContactId {
    contact_on(pool, account, "simulated", address).await
}

pub async fn contact_on(
    pool: &PgPool,
    account: AccountId,
    channel: &str,
    address: &str,
) -> ContactId {
    let id = sqlx::query_scalar!(
        "insert into contacts (account_id, name, role, channel, address)
         values ($1, $2, 'champion', $3, $2) returning id",
        account.0,
        address,
        channel,
    )
    .fetch_one(pool)
    .await
    .unwrap();
    ContactId(id)
}

/// The contact's last message arrived at `at` (WhatsApp's 24-hour window counts from it).
pub async fn wrote_at(pool: &PgPool, contact: ContactId, at: DateTime<Utc>) {
    sqlx::query!(
        "update contacts set last_inbound_at = $2 where id = $1",
        contact.0,
        at
    )
    .execute(pool)
    .await
    .unwrap();
}

pub async fn staff(pool: &PgPool, name: &str, telegram_user_id: Option<i64>) -> StaffId {
    let id = sqlx::query_scalar!(
        "insert into staff (name, role, telegram_user_id) values ($1, 'csm', $2) returning id",
        name,
        telegram_user_id,
    )
    .fetch_one(pool)
    .await
    .unwrap();
    StaffId(id)
}

/// A planned client touch of `kind` (its template has the same name).
pub async fn touch(
    pool: &PgPool,
    account: AccountId,
    contact: ContactId,
    key: &str,
    kind: &str,
    due_at: DateTime<Utc>,
) -> TouchId {
    let category = kind
        .parse::<touchbot::domain::TouchKind>()
        .unwrap()
        .category();
    let id = sqlx::query_scalar!(
        "insert into touches (account_id, touch_key, rule, kind, category, template, contact_id, due_at)
         values ($1, $2, $3, $3, $4, $3, $5, $6) returning id",
        account.0,
        key,
        kind,
        category.as_str(),
        contact.0,
        due_at,
    )
    .fetch_one(pool)
    .await
    .unwrap();
    TouchId(id)
}

pub async fn staff_touch(
    pool: &PgPool,
    account: AccountId,
    staff: StaffId,
    key: &str,
    due_at: DateTime<Utc>,
) -> TouchId {
    let id = sqlx::query_scalar!(
        "insert into touches (account_id, touch_key, rule, kind, category, template, staff_id, due_at)
         values ($1, $2, 'renewal_task', 'renewal_task', 'service', 'renewal_task', $3, $4)
         returning id",
        account.0,
        key,
        staff.0,
        due_at,
    )
    .fetch_one(pool)
    .await
    .unwrap();
    TouchId(id)
}

/// Waits until no other session of this database is running a statement. A dispatcher
/// future dropped mid-statement (the test's crash) leaves that statement to finish on the
/// server, as a killed process's last claim would: it must land before the test reads the
/// state the crash left or lets the leases run out, or it races them.
pub async fn until_in_flight_statements_land(pool: &PgPool) {
    loop {
        let running: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity
              where datname = current_database() and state = 'active'
                and backend_type = 'client backend'
                and pid <> pg_backend_pid()",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if running == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Lets every lease run out on the database's clock, where leases are counted, as if the
/// lease time had passed.
pub async fn expire_leases(pool: &PgPool) {
    sqlx::query!(
        "update touches set lease_until = now() - interval '1 second'
          where lease_until is not null"
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query!(
        "update staff_posts set lease_until = now() - interval '1 second'
          where lease_until is not null"
    )
    .execute(pool)
    .await
    .unwrap();
}

pub async fn set_template(pool: &PgPool, id: TouchId, template: &str) {
    sqlx::query!(
        "update touches set template = $2 where id = $1",
        id.0,
        template
    )
    .execute(pool)
    .await
    .unwrap();
}

#[derive(Debug, Clone)]
pub struct TouchState {
    pub status: String,
    pub attempt: i32,
    pub tries: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub status_reason: Option<String>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub provider_message_id: Option<String>,
}

pub async fn state(pool: &PgPool, id: TouchId) -> TouchState {
    let r = sqlx::query!(
        "select status, attempt, tries, next_attempt_at, status_reason, last_error, sent_at,
                provider_message_id
           from touches where id = $1",
        id.0
    )
    .fetch_one(pool)
    .await
    .unwrap();
    TouchState {
        status: r.status,
        attempt: r.attempt,
        tries: r.tries,
        next_attempt_at: r.next_attempt_at,
        status_reason: r.status_reason,
        last_error: r.last_error,
        sent_at: r.sent_at,
        provider_message_id: r.provider_message_id,
    }
}
