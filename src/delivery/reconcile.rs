//! The periodic safety net, the same for every queue with a `sending` state: take back the
//! leases that ran out, then ask each channel whether the sends left `unknown` arrived.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::queue::{QueueId, Rescue};
use super::report::{Reconciled, Rescued};
use crate::channel::{Channels, Lookup};

/// Asks the channel of each unknown row whether the message arrived, and settles what it can.
pub async fn reconcile_unknown<Q: Rescue>(
    pool: &PgPool,
    channels: &Channels,
    now: DateTime<Utc>,
) -> anyhow::Result<Reconciled> {
    let what = Q::Id::WHAT;
    let mut result = Reconciled::default();
    let unknown = Q::list_unknown(pool)
        .await
        .with_context(|| format!("could not list the {what}s with an unknown outcome"))?;
    for row in unknown {
        let Some(channel) = row.channel.and_then(|kind| channels.get(kind)) else {
            let reason = Q::no_channel_reason(row.channel);
            Q::explain_unknown(pool, row.id, &reason, now).await?;
            result.still_unknown += 1;
            continue;
        };
        match channel.lookup(&row.channel_key).await {
            Lookup::Sent(delivered) => {
                let id = &delivered.provider_message_id;
                Q::resolve_unknown_as_sent(pool, row.id, id, now).await?;
                result.sent += 1;
            }
            Lookup::NotSent => {
                let why = format!(
                    "the channel confirmed the interrupted {} never arrived",
                    Q::SENT_WHAT
                );
                Q::requeue_unknown(pool, row.id, &why, now).await?;
                result.requeued += 1;
            }
            Lookup::Unsupported => {
                let why = Q::UNSUPPORTED_LOOKUP_REASON;
                Q::explain_unknown(pool, row.id, why, now).await?;
                result.still_unknown += 1;
            }
        }
    }
    Ok(result)
}

/// Takes back expired leases (on the database's clock; `now` only stamps the change), then
/// settles what became `unknown`.
pub async fn rescue_and_reconcile<Q: Rescue>(
    pool: &PgPool,
    channels: &Channels,
    now: DateTime<Utc>,
) -> anyhow::Result<(Rescued, Reconciled)> {
    let what = Q::Id::WHAT;
    let mut conn = pool.acquire().await.context("could not reach PostgreSQL")?;
    let rescued = Q::rescue_expired(&mut conn, now)
        .await
        .with_context(|| format!("could not rescue the expired leases of {what}s"))?;
    drop(conn);
    let reconciled = reconcile_unknown::<Q>(pool, channels, now).await?;
    if rescued != Rescued::default() || reconciled != Reconciled::default() {
        tracing::info!(what, ?rescued, ?reconciled, "lease rescue");
    }
    Ok((rescued, reconciled))
}
