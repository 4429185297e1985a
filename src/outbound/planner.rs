//! Between the pure calendar and the outbox: loads accounts a chunk at a time (one query per
//! kind of input), asks the calendar for their touches on every core, and stores the answers
//! set-wise (`store`). Rows already handed to the dispatcher (claimed, sending, sent, unknown,
//! failed) are never rewritten, so re-planning can run at any time without risking a second
//! send.
//!
//! Each stored plan records what it was computed from (a hash of every input, the calendar
//! configuration and the binary's version) and until when it holds (`calendar::plan_until`).
//! Statements that change an input note the account (`plan_input_changes`, kept by triggers,
//! migration 0021). The nightly `replan_all` picks with one query the accounts with no plan,
//! a plan made under another configuration, a plan that no longer holds or a noted change,
//! and loads only those; of them, one whose inputs still hash the same is left alone.

mod load;
mod store;
mod tickets;

use std::sync::Arc;

use crate::db::{self, Commits};
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::{AccountId, AccountLifecycle};
use crate::outbound::calendar::{self, AccountInput, CalendarConfig, SentTouch};
use crate::storage::accounts;
use load::Loaded;
use store::Planned;

/// Accounts read, planned and stored together: bounds the size of a transaction and of what
/// is held in memory.
const CHUNK: usize = 1000;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplanReport {
    /// Touches waiting to be sent.
    pub planned: usize,
    pub skipped: usize,
    /// Touches still ahead that the calendar no longer wants (dates or contacts changed).
    pub cancelled: usize,
    /// Accounts that could not be re-planned (`replan_all` logs each and goes on).
    pub failed: usize,
    /// Accounts `replan_all` left alone: nothing they are planned from has changed.
    pub unchanged: usize,
}

impl ReplanReport {
    fn add(&mut self, other: &ReplanReport) {
        self.planned += other.planned;
        self.skipped += other.skipped;
        self.cancelled += other.cancelled;
        self.failed += other.failed;
        self.unchanged += other.unchanged;
    }
}

/// What the calendar needs to know about an account at `now`, read from storage.
pub async fn load_input(
    pool: &PgPool,
    config: &CalendarConfig,
    id: AccountId,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<(accounts::Account, AccountInput, Vec<SentTouch>)>> {
    Ok(load::load_one(pool, config, id, now)
        .await?
        .map(|l| (l.account, l.input, l.history)))
}

/// Re-plans one account at `now` and stores the result.
pub async fn replan_account(
    pool: &PgPool,
    config: &CalendarConfig,
    id: AccountId,
    now: DateTime<Utc>,
) -> anyhow::Result<ReplanReport> {
    let config_fp = load::config_fingerprint(config)?;
    let Some(loaded) = load::load_many(pool, config, &config_fp, &[id.0], now)
        .await?
        .pop()
    else {
        anyhow::bail!("account {id} does not exist");
    };
    let planned = plan_one(loaded, config, now);
    let config_hash = load::config_hash(&config_fp);
    store::store_plans(pool, &[planned], now, config.grace_days, &config_hash).await
}

/// The calendar's answer for one loaded account: nothing for an account that is not active.
fn plan_one(loaded: Loaded, config: &CalendarConfig, now: DateTime<Utc>) -> Planned {
    let (touches, until) = if loaded.account.lifecycle == AccountLifecycle::Active {
        calendar::plan_until(&loaded.input, &loaded.history, config, now)
    } else {
        (Vec::new(), DateTime::<Utc>::MAX_UTC)
    };
    Planned {
        account: loaded.account.id,
        touches,
        inputs: loaded.inputs,
        holds_until: loaded.inputs_until.map_or(until, |t| t.min(until)),
        changes: loaded.changes,
    }
}

/// Plans `work` on every core (the calendar is pure and costs tens of µs an account).
async fn plan_parallel(
    work: Vec<Loaded>,
    config: &Arc<CalendarConfig>,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Planned>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = work.len().div_ceil(cores).max(1);
    let mut parts = Vec::new();
    let mut work = work.into_iter().peekable();
    while work.peek().is_some() {
        let part: Vec<Loaded> = work.by_ref().take(per).collect();
        let config = Arc::clone(config);
        parts.push(tokio::task::spawn_blocking(move || {
            part.into_iter()
                .map(|l| plan_one(l, &config, now))
                .collect::<Vec<_>>()
        }));
    }
    let mut out = Vec::new();
    for part in parts {
        out.extend(part.await.context("a planning thread panicked")?);
    }
    Ok(out)
}

/// Chunks being stored at once, each on its own connection: writing the outbox is most of a
/// full plan's cost, and one connection keeps only one core of the server busy.
const STORES_IN_FLIGHT: usize = 2;

/// A chunk's accounts, and the task storing their plans.
type Storing = (
    Vec<i64>,
    tokio::task::JoinHandle<anyhow::Result<ReplanReport>>,
);

/// Re-plans every active account whose inputs changed or whose plan no longer holds (the
/// nightly job, and after a configuration change). Chunk after chunk: read, plan on every
/// core, and store while the next chunk is read and planned.
#[tracing::instrument(skip_all)]
pub async fn replan_all(
    pool: &PgPool,
    config: &CalendarConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<ReplanReport> {
    let config_fp = load::config_fingerprint(config)?;
    let config_hash: Arc<str> = load::config_hash(&config_fp).into();
    store::drop_inactive_changes(pool).await?;
    let (ids, active) = stale_accounts(pool, &config_hash, now).await?;
    let shared = Arc::new(config.clone());
    let mut total = ReplanReport {
        unchanged: active.saturating_sub(ids.len()),
        ..ReplanReport::default()
    };
    if ids.is_empty() {
        return Ok(total);
    }
    let pool = &chunk_pool(pool).await?;
    let mut storing: std::collections::VecDeque<Storing> = Default::default();
    for chunk in ids.chunks(CHUNK) {
        let plans = match plan_chunk(pool, &shared, &config_fp, chunk, now).await {
            Ok((plans, unchanged)) => {
                total.unchanged += unchanged;
                plans
            }
            Err(e) => {
                total.add(&fall_back(pool, config, chunk, now, e).await);
                continue;
            }
        };
        if plans.is_empty() {
            continue;
        }
        if storing.len() >= STORES_IN_FLIGHT
            && let Some(oldest) = storing.pop_front()
        {
            total.add(&stored(pool, config, oldest, now).await);
        }
        let (pool, grace, hash) = (pool.clone(), config.grace_days, Arc::clone(&config_hash));
        storing.push_back((
            chunk.to_vec(),
            tokio::spawn(async move { store::store_plans(&pool, &plans, now, grace, &hash).await }),
        ));
    }
    for task in storing {
        total.add(&stored(pool, config, task, now).await);
    }
    pool.close().await;
    Ok(total)
}

/// The connections `replan_all` reads and stores its chunks on: one for the reads, one per
/// store in flight. Each query is planned for its chunk's ids, not by a generic plan that
/// cannot tell a thousand ids from the whole portfolio. No JIT: the plan record's read looked
/// costly to PostgreSQL (a correlated probe per account) and compiling it took 0.4-0.5 s a
/// chunk at 100,000 accounts, against 25 ms to run it.
async fn chunk_pool(pool: &PgPool) -> anyhow::Result<PgPool> {
    let connections = 1 + STORES_IN_FLIGHT as u32;
    db::chunk_pool(pool, connections, Commits::Durable, "re-plan").await
}

/// The active accounts to plan again at `now`, in id order, and how many accounts are active.
/// One query over the plan records: no plan, a plan made under another configuration or
/// binary, a plan that no longer holds (the instant it was made always counts), or a change
/// noted since.
async fn stale_accounts(
    pool: &PgPool,
    config_hash: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<(Vec<i64>, usize)> {
    let row = sqlx::query!(
        r#"select coalesce(array_agg(a.id order by a.id) filter (
                      where p.account_id is null or p.config <> $1 or p.planned_at > $2
                         or (p.holds_until <= $2 and p.planned_at <> $2)
                         or exists (select 1 from plan_input_changes c
                                     where c.account_id = a.id)),
                  '{}') as "stale!",
                  count(*) as "active!"
           from accounts a
           left join account_plans p on p.account_id = a.id
           where a.lifecycle = 'active'"#,
        config_hash,
        now
    )
    .fetch_one(pool)
    .await
    .context("listing the accounts to re-plan")?;
    Ok((row.stale, usize::try_from(row.active).unwrap_or(0)))
}

/// Reads a chunk and plans the accounts whose stored plan no longer holds; returns their
/// plans and how many were left alone. The change notes of those left alone are answered by
/// their stored plan: they are dropped.
async fn plan_chunk(
    pool: &PgPool,
    config: &Arc<CalendarConfig>,
    config_fp: &str,
    chunk: &[i64],
    now: DateTime<Utc>,
) -> anyhow::Result<(Vec<Planned>, usize)> {
    let loaded = load::load_many(pool, config, config_fp, chunk, now).await?;
    let (unchanged, stale): (Vec<Loaded>, Vec<Loaded>) =
        loaded.into_iter().partition(|l| l.plan_still_holds(now));
    let answered: Vec<i64> = unchanged.iter().flat_map(|l| l.changes.clone()).collect();
    store::drop_changes(pool, &answered).await?;
    Ok((plan_parallel(stale, config, now).await?, unchanged.len()))
}

/// The outcome of storing a chunk; a chunk that could not be stored is done again one
/// account at a time.
async fn stored(
    pool: &PgPool,
    config: &CalendarConfig,
    (chunk, task): Storing,
    now: DateTime<Utc>,
) -> ReplanReport {
    match task.await {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => fall_back(pool, config, &chunk, now, e).await,
        Err(e) => fall_back(pool, config, &chunk, now, e.into()).await,
    }
}

/// One broken account must not cost every later one its calendar: the chunk is done again
/// one account at a time, and only the broken ones fail.
async fn fall_back(
    pool: &PgPool,
    config: &CalendarConfig,
    chunk: &[i64],
    now: DateTime<Utc>,
    error: anyhow::Error,
) -> ReplanReport {
    tracing::warn!(error = %format!("{error:#}"), accounts = chunk.len(), "could not re-plan a chunk of accounts; going one by one");
    replan_one_by_one(pool, config, chunk, now).await
}

async fn replan_one_by_one(
    pool: &PgPool,
    config: &CalendarConfig,
    chunk: &[i64],
    now: DateTime<Utc>,
) -> ReplanReport {
    let mut total = ReplanReport::default();
    for &id in chunk {
        match replan_account(pool, config, AccountId(id), now).await {
            Ok(r) => total.add(&r),
            Err(e) => {
                tracing::error!(account_id = id, error = %format!("{e:#}"), "could not re-plan an account; going on with the others");
                total.failed += 1;
            }
        }
    }
    total
}
