//! The one entry point every chat channel hands a contact's message to: store it, then let the
//! account's health and escalations see it. Written once so Telegram, WhatsApp and the
//! simulation behave alike; `touchbot signal add` and the nightly job reassess the same way.
//!
//! What follows a message (reassessment, a re-plan after an opt-out, the words passed to the
//! CSM) is written with the message, in one transaction, and done right after
//! (`followups`): a failure or a crash in between leaves it to do, on the redelivery or by
//! the sweep, never skipped.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::task::JoinSet;

use super::{Handled, InboundMessage, InboundOutcome, followups, record_reply};
use crate::config::Settings;
use crate::domain::AccountId;
use crate::escalation::EscalationConfig;
use crate::escalation::engine::{self, RunReport};
use crate::health::store::{recompute, recompute_among};
use crate::health::{HealthConfig, HealthScore};

/// The settings an account is judged by once new facts arrive.
#[derive(Debug, Clone, Copy)]
pub struct Judge<'a> {
    pub health: &'a HealthConfig,
    pub escalation: &'a EscalationConfig,
    /// For what follows a message: the calendar to re-plan by, the takeover's length.
    pub settings: &'a Settings,
}

impl<'a> From<&'a Settings> for Judge<'a> {
    fn from(settings: &'a Settings) -> Self {
        Judge {
            health: &settings.health,
            escalation: &settings.escalation,
            settings,
        }
    }
}

/// What a reassessment found.
#[derive(Debug, Clone, Default)]
pub struct Reassessed {
    /// How many accounts were scored.
    pub scored: usize,
    /// The new score of the one account asked for; a whole portfolio's are stored, not kept.
    pub scores: Vec<(AccountId, HealthScore)>,
    pub escalations: RunReport,
}

/// Accounts reassessed together in a whole-portfolio run: their facts, scores and
/// escalations are read and written a group at a time, so the run's memory stays flat however
/// large the portfolio.
const CHUNK: usize = 2_000;

/// Chunks reassessed at once, each on its own connection: while one waits for the database,
/// the other's facts are scored and its escalations decided, so both cores are busy. Chunks
/// share no account, so they take no lock the other needs.
const IN_FLIGHT: usize = 2;

/// Re-scores health (of one account, or every one) and runs the escalation rules on the new
/// score, in that order, so an escalation always sees the score that caused it.
pub async fn reassess(
    pool: &PgPool,
    judge: Judge<'_>,
    now: DateTime<Utc>,
    cause: &str,
    only: Option<AccountId>,
) -> anyhow::Result<Reassessed> {
    if let Some(account) = only {
        let scores = recompute(pool, judge.health, now, cause, Some(account)).await?;
        let escalations = engine::run(pool, judge.escalation, now, Some(&[account])).await?;
        return Ok(Reassessed {
            scored: scores.len(),
            scores,
            escalations,
        });
    }
    let ids =
        sqlx::query_scalar!("select id from accounts where lifecycle <> 'churned' order by id")
            .fetch_all(pool)
            .await
            .context("listing the accounts to reassess")?;
    let pool = &chunk_pool(pool).await?;
    let health = Arc::new(judge.health.clone());
    let escalation = Arc::new(judge.escalation.clone());
    let mut chunks = ids.chunks(CHUNK);
    let mut running = JoinSet::new();
    let mut done = Reassessed::default();
    loop {
        while running.len() < IN_FLIGHT {
            let Some(chunk) = chunks.next() else { break };
            let chunk: Vec<AccountId> = chunk.iter().copied().map(AccountId).collect();
            let (pool, health, escalation) = (pool.clone(), health.clone(), escalation.clone());
            let cause = cause.to_string();
            running.spawn(async move {
                let scores = recompute_among(&pool, &health, now, &cause, Some(&chunk)).await?;
                let escalations = engine::run(&pool, &escalation, now, Some(&chunk)).await?;
                anyhow::Ok((scores.len(), escalations))
            });
        }
        // Dropping the set on an error stops the other chunk; its transaction rolls back.
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (scored, escalations) = joined.context("a chunk of the reassessment panicked")??;
        done.scored += scored;
        done.escalations.add(escalations);
    }
    pool.close().await;
    Ok(done)
}

/// The connections a whole-portfolio run works on, one per chunk in flight. Each query is
/// planned for its chunk's accounts: after five runs PostgreSQL would otherwise keep a
/// generic plan, and for `$1 is null or account_id = any($1)` that plan reads the whole
/// table and compares every row with every id of the chunk (8 s a query at 100,000
/// accounts, against 0.1-0.5 s planned for the chunk).
async fn chunk_pool(pool: &PgPool) -> anyhow::Result<PgPool> {
    let options = (*pool.connect_options())
        .clone()
        .options([("plan_cache_mode", "force_custom_plan")]);
    PgPoolOptions::new()
        .max_connections(IN_FLIGHT as u32)
        .connect_with(options)
        .await
        .context("connecting for the reassessment")
}

/// Records `message` and does what follows it as of `now` (an answer, or its absence, is part
/// of engagement; a detractor score escalates; words the bot cannot answer go to a person).
/// A repeat delivery changes nothing, but finishes what its first delivery left undone. A
/// failed follow-up is logged and left to the sweep: the message itself is stored, and its
/// answer is due to the contact.
pub async fn receive(
    pool: &PgPool,
    judge: Judge<'_>,
    message: &InboundMessage,
    now: DateTime<Utc>,
) -> anyhow::Result<InboundOutcome> {
    let outcome = record_reply(pool, message).await?;
    if let InboundOutcome::Handled(handled) = &outcome {
        follow_up(pool, judge.settings, message, handled, now).await;
    }
    Ok(outcome)
}

/// Does the pending steps after a stored message as of `now`; a failed one is logged and left
/// to the sweep.
pub(super) async fn follow_up(
    pool: &PgPool,
    settings: &Settings,
    message: &InboundMessage,
    handled: &Handled,
    now: DateTime<Utc>,
) {
    let key = reply_key(message);
    if let Err(e) = followups::run_for(pool, settings, &key, now).await {
        tracing::warn!(account_id = %handled.account_id, error = ?e, "a step after an inbound message failed; it is done later");
    }
}

/// The idempotency key of an inbound message's `reply` signal, which names its follow-ups.
pub fn reply_key(message: &InboundMessage) -> String {
    format!(
        "reply:{}:{}",
        message.channel.as_str(),
        message.provider_message_id
    )
}
