//! The one entry point every chat channel hands a contact's message to: store it, then let the
//! account's health see it. Written once so Telegram, WhatsApp and the simulation behave alike.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{InboundMessage, InboundOutcome, record_reply};
use crate::health::HealthConfig;

/// Records `message` and, unless it is a repeat delivery, re-scores the account's health as of
/// `now` (an answer, or its absence, is part of engagement).
pub async fn receive(
    pool: &PgPool,
    health: &HealthConfig,
    message: &InboundMessage,
    now: DateTime<Utc>,
) -> anyhow::Result<InboundOutcome> {
    let outcome = record_reply(pool, message).await?;
    if let InboundOutcome::Handled(handled) = &outcome
        && !handled.duplicate
    {
        crate::health::store::recompute(pool, health, now, "reply", Some(handled.account_id))
            .await?;
    }
    Ok(outcome)
}
