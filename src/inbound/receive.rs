//! The one entry point every chat channel hands a contact's message to: store it, then let the
//! account's health and escalations see it. Written once so Telegram, WhatsApp and the
//! simulation behave alike; `touchbot signal add` and the nightly job reassess the same way.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{InboundMessage, InboundOutcome, record_reply};
use crate::config::Settings;
use crate::domain::AccountId;
use crate::escalation::EscalationConfig;
use crate::escalation::engine::{self, RunReport};
use crate::health::{HealthConfig, HealthScore};

/// The settings an account is judged by once new facts arrive.
#[derive(Debug, Clone, Copy)]
pub struct Judge<'a> {
    pub health: &'a HealthConfig,
    pub escalation: &'a EscalationConfig,
}

impl<'a> From<&'a Settings> for Judge<'a> {
    fn from(settings: &'a Settings) -> Self {
        Judge {
            health: &settings.health,
            escalation: &settings.escalation,
        }
    }
}

/// What a reassessment found.
#[derive(Debug, Clone, Default)]
pub struct Reassessed {
    pub scores: Vec<(AccountId, HealthScore)>,
    pub escalations: RunReport,
}

/// Re-scores health (of one account, or every one) and runs the escalation rules on the new
/// score, in that order, so an escalation always sees the score that caused it.
pub async fn reassess(
    pool: &PgPool,
    judge: Judge<'_>,
    now: DateTime<Utc>,
    cause: &str,
    only: Option<AccountId>,
) -> anyhow::Result<Reassessed> {
    let scores = crate::health::store::recompute(pool, judge.health, now, cause, only).await?;
    let only: Option<Vec<AccountId>> = only.map(|a| vec![a]);
    let escalations = engine::run(pool, judge.escalation, now, only.as_deref()).await?;
    Ok(Reassessed {
        scores,
        escalations,
    })
}

/// Records `message` and, unless it is a repeat delivery, reassesses the account as of `now`
/// (an answer, or its absence, is part of engagement; a detractor score escalates).
pub async fn receive(
    pool: &PgPool,
    judge: Judge<'_>,
    message: &InboundMessage,
    now: DateTime<Utc>,
) -> anyhow::Result<InboundOutcome> {
    let outcome = record_reply(pool, message).await?;
    if let InboundOutcome::Handled(handled) = &outcome
        && !handled.duplicate
    {
        reassess(pool, judge, now, "reply", Some(handled.account_id)).await?;
    }
    Ok(outcome)
}
