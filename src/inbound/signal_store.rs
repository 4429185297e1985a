//! Storing the signals an integrator feeds. The idempotency key is unique, so feeding the
//! same signal again changes nothing.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::followups::{self, Planned, Step};
use super::signals::{Signal, SignalKind};
use crate::domain::AccountId;

/// One stored signal, as `signal list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredSignal {
    pub id: i64,
    pub kind: String,
    pub contact_id: Option<i64>,
    pub value: Option<f64>,
    pub details: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
    pub source: String,
    pub idempotency_key: String,
}

/// Stores a checked signal; `None` when one with the same idempotency key is already stored.
pub async fn store(pool: &PgPool, signal: &Signal, source: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "insert into signals (account_id, contact_id, kind, value, details, occurred_at, source,
                              idempotency_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (idempotency_key) do nothing
         returning id",
        signal.account.0,
        signal.contact.map(|c| c.0),
        signal.kind.as_str(),
        signal.value,
        signal.details,
        signal.occurred_at,
        source,
        signal.idempotency_key,
    )
    .fetch_optional(pool)
    .await
}

/// Stores a checked signal with the steps that follow it, in one transaction: the account is
/// reassessed, and re-planned when a ticket opened or closed (a closed ticket brings a CSAT
/// survey). `None` when the signal was stored before; its steps still pending remain to do
/// (`followups::run_for` with the signal's key).
pub async fn store_with_followups(
    pool: &PgPool,
    signal: &Signal,
    source: &str,
) -> anyhow::Result<Option<i64>> {
    use anyhow::Context as _;
    let mut tx = pool.begin().await.context("storing a signal")?;
    let id = sqlx::query_scalar!(
        "insert into signals (account_id, contact_id, kind, value, details, occurred_at, source,
                              idempotency_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (idempotency_key) do nothing
         returning id",
        signal.account.0,
        signal.contact.map(|c| c.0),
        signal.kind.as_str(),
        signal.value,
        signal.details,
        signal.occurred_at,
        source,
        signal.idempotency_key,
    )
    .fetch_optional(&mut *tx)
    .await
    .context("storing a signal")?;
    if id.is_some() {
        let mut steps = Vec::new();
        if matches!(
            signal.kind,
            SignalKind::TicketOpened | SignalKind::TicketClosed
        ) {
            steps.push(Step::Replan);
        }
        steps.push(Step::Reassess);
        let planned = Planned {
            source_key: signal.idempotency_key.clone(),
            account: signal.account,
            contact: signal.contact,
            reply_id: None,
            occurred_at: signal.occurred_at,
            steps,
        };
        followups::plan_all(&mut tx, std::slice::from_ref(&planned))
            .await
            .context("writing the steps after a signal")?;
    }
    tx.commit().await.context("storing a signal")?;
    Ok(id)
}

/// What recording one signal did.
#[derive(Debug)]
pub struct Recorded {
    /// The new signal's id; `None` when its idempotency key was recorded before.
    pub id: Option<i64>,
    pub key: String,
    /// The steps done now; `Err` when one failed (it stays pending and `serve`'s sweep retries
    /// it), which does not undo the signal.
    pub followups: anyhow::Result<followups::Done>,
}

/// Stores a signal with its steps and does them at once: the path of `signal add` and of the
/// API. A signal recorded before changes nothing, so a retried batch counts once.
pub async fn record(
    pool: &PgPool,
    settings: &crate::config::Settings,
    signal: &Signal,
    source: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Recorded> {
    let id = store_with_followups(pool, signal, source).await?;
    let followups = followups::run_for(pool, settings, &signal.idempotency_key, now).await;
    Ok(Recorded {
        id,
        key: signal.idempotency_key.clone(),
        followups,
    })
}

/// An account's signals, newest first.
pub async fn list(pool: &PgPool, account: AccountId) -> sqlx::Result<Vec<StoredSignal>> {
    sqlx::query_as!(
        StoredSignal,
        "select id, kind, contact_id, value, details, occurred_at, source, idempotency_key
         from signals
         where account_id = $1 order by occurred_at desc, id desc",
        account.0
    )
    .fetch_all(pool)
    .await
}
