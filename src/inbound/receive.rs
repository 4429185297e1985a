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
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use tokio::task::JoinSet;

use super::{Handled, InboundMessage, InboundOutcome, followups, record_reply};
use crate::config::Settings;
use crate::db::{self, Commits};
use crate::domain::{AccountId, Accounts};
use crate::escalation::EscalationConfig;
use crate::escalation::engine::{self, RunReport};
use crate::escalation::state::Known;
use crate::health::store::recompute_sharing;
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

/// Chunks reassessed at once, each on its own connection. The work is nearly all the
/// database's (the bench process used 0.7 s of CPU for two nights at 10,000 accounts), yet two
/// chunks kept its connections in statements only 70-75% of the time: with four, the same
/// 100,000 accounts took a quarter less time on two cores (BENCHMARKS.md, section 4). Chunks
/// share no account, so they take no lock another needs.
const IN_FLIGHT: usize = 4;

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
        let only = [account];
        let (scores, escalations) = reassess_accounts(
            pool,
            judge.health,
            judge.escalation,
            now,
            cause,
            Accounts::Listed(&only),
        )
        .await?;
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
    // Each chunk is the range of ids from its first account to its last: the churned
    // accounts between them are left out by every read, as they are from the list.
    let mut chunks = ids
        .chunks(CHUNK)
        .map(|c| (AccountId(c[0]), AccountId(c[c.len() - 1])));
    let mut running = JoinSet::new();
    let mut done = Reassessed::default();
    loop {
        while running.len() < IN_FLIGHT {
            let Some((first, last)) = chunks.next() else {
                break;
            };
            let (pool, health, escalation) = (pool.clone(), health.clone(), escalation.clone());
            let cause = cause.to_string();
            running.spawn(async move {
                let chunk = Accounts::Between(first, last);
                let (scores, escalations) =
                    reassess_accounts(&pool, &health, &escalation, now, &cause, chunk).await?;
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

/// Scores `accounts` and runs the escalation rules on the new scores, in that order, so an
/// escalation always sees the score that caused it. The rules are handed what the scoring
/// read and computed (the touches, the scores before and the new ones) rather than reading
/// it back.
pub(super) async fn reassess_accounts(
    pool: &PgPool,
    health: &HealthConfig,
    escalation: &EscalationConfig,
    now: DateTime<Utc>,
    cause: &str,
    accounts: Accounts<'_>,
) -> anyhow::Result<(Vec<(AccountId, HealthScore)>, RunReport)> {
    let window = TimeDelta::days(i64::from(escalation.health_drop.window_days));
    let done = recompute_sharing(pool, health, now, cause, accounts, window).await?;
    let known = Known::after(&done, escalation, now);
    let report = engine::run_knowing(pool, escalation, now, accounts, Some(known)).await?;
    Ok((done.scores, report))
}

/// The connections a whole-portfolio run works on, one per chunk in flight. Each query is
/// planned for its chunk's range: a generic plan cannot use an index for
/// `$1 is null or account_id between $1 and $2`, and PostgreSQL may still prefer it after
/// five runs, when it reads whole tables (8 s a query at 100,000 accounts, against 0.1-0.5 s
/// planned for the chunk). No JIT: the per-touch answer probes make the touch queries look
/// costly to the planner, and compiling them took 25-40 ms a query, more than running them.
///
/// The chunks commit without waiting for the disk (`synchronous_commit = off`): an OS crash
/// can lose only the last of these commits, in order, never a part of one, and what they hold
/// is recomputed by the next reassessment. Nothing leaves the process on such a commit: the
/// post dispatcher and the webhook deliveries claim a post or a delivery with a synchronous
/// commit before sending it, which flushes every commit before it, ours included.
async fn chunk_pool(pool: &PgPool) -> anyhow::Result<PgPool> {
    db::chunk_pool(pool, IN_FLIGHT as u32, Commits::Unwaited, "reassessment").await
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
