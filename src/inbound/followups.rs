//! The work that follows an inbound message or a signal: reassess the account, re-plan its
//! touches, pass the contact's words to their CSM. Each step is written as a row in the same
//! transaction as the message (or signal), then done: at once by the caller, and by a sweep
//! that every `serve` runs for whatever a crash or an outage left behind. A redelivered
//! message is a duplicate, but its steps still pending run then too. Each step is done once
//! per (source, step); reassessing twice or forwarding the same message again changes nothing
//! a person would see.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

use super::receive::{Judge, Reassessed, reassess, reassess_accounts};
use crate::config::Settings;
use crate::domain::{AccountId, Accounts, ContactId};

/// How often the sweep looks for steps left behind.
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// Steps older than this are left to the sweep, so a fresh one is done by its own caller.
const SWEEP_AFTER_SECONDS: f64 = 10.0;
/// A step that failed this often is left alone by the sweep (its error stays on the row for
/// a person); a redelivery of its message still tries it.
const SWEEP_TRIES: i32 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Reassess,
    Replan,
    Forward,
}

impl Step {
    fn as_str(self) -> &'static str {
        match self {
            Step::Reassess => "reassess",
            Step::Replan => "replan",
            Step::Forward => "forward",
        }
    }
}

/// The steps to write for one source.
#[derive(Debug, Clone)]
pub struct Planned {
    pub source_key: String,
    pub account: AccountId,
    pub contact: Option<ContactId>,
    pub reply_id: Option<i64>,
    pub occurred_at: DateTime<Utc>,
    pub steps: Vec<Step>,
}

/// Writes the steps of `planned` sources inside the caller's transaction, in one statement.
pub async fn plan_all(conn: &mut PgConnection, planned: &[Planned]) -> Result<(), sqlx::Error> {
    let steps: Vec<(&Planned, Step)> = planned
        .iter()
        .flat_map(|p| p.steps.iter().map(move |s| (p, *s)))
        .collect();
    if steps.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = steps.iter().map(|(p, _)| p.source_key.as_str()).collect();
    let names: Vec<&str> = steps.iter().map(|(_, s)| s.as_str()).collect();
    let accounts: Vec<i64> = steps.iter().map(|(p, _)| p.account.0).collect();
    let contacts: Vec<Option<i64>> = steps.iter().map(|(p, _)| p.contact.map(|c| c.0)).collect();
    let replies: Vec<Option<i64>> = steps.iter().map(|(p, _)| p.reply_id).collect();
    let ats: Vec<DateTime<Utc>> = steps.iter().map(|(p, _)| p.occurred_at).collect();
    sqlx::query!(
        "insert into inbound_followups
             (source_key, step, account_id, contact_id, reply_id, occurred_at)
         select u.key, u.step, u.account_id, u.contact_id, u.reply_id, u.at
           from unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::int8[],
                       $6::timestamptz[])
                with ordinality as u(key, step, account_id, contact_id, reply_id, at, n)
          order by u.n
         on conflict (source_key, step) do nothing",
        &keys as &[&str],
        &names as &[&str],
        &accounts,
        &contacts as &[Option<i64>],
        &replies as &[Option<i64>],
        &ats,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What the steps done just now found.
#[derive(Debug, Default)]
pub struct Done {
    pub reassessed: Option<Reassessed>,
    /// Touches planned ahead after a re-plan.
    pub replanned: Option<usize>,
    pub forwarded: bool,
}

/// Does the pending steps of one source, in the order they were written. Stops at the first
/// failure, which is recorded on its row and returned; the sweep tries it again later.
pub async fn run_for(
    pool: &PgPool,
    settings: &Settings,
    source_key: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Done> {
    let ids = sqlx::query_scalar!(
        "select id from inbound_followups where source_key = $1 and done_at is null order by id",
        source_key
    )
    .fetch_all(pool)
    .await
    .context("reading the steps that follow an inbound message")?;
    let mut done = Done::default();
    for id in ids {
        run_one(pool, settings, id, now, &mut done).await?;
    }
    Ok(done)
}

/// Does the pending steps of many sources together, as a drainer does for a batch of replies:
/// their reassessments at once (`reassess_together`), then the other steps one by one, in the
/// order they were written. A failure is recorded on its row (left to the sweep) and logged;
/// the others go on. The caller makes sure no two sources of one account are in a batch, so
/// the escalation rules see each reply, as they would one at a time.
pub async fn run_batch(
    pool: &PgPool,
    settings: &Settings,
    source_keys: &[String],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    if source_keys.is_empty() {
        return Ok(());
    }
    let rows = sqlx::query!(
        "select id, step, source_key from inbound_followups
          where source_key = any($1) and done_at is null order by id",
        source_keys
    )
    .fetch_all(pool)
    .await
    .context("reading the steps that follow a batch of inbound messages")?;
    let (together, one_by_one): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .partition(|r| r.step == Step::Reassess.as_str() && r.source_key.starts_with("reply:"));
    let together: Vec<i64> = together.into_iter().map(|r| r.id).collect();
    let mut alone: Vec<i64> = Vec::new();
    if let Err(e) = reassess_together(pool, settings, &together, now).await {
        tracing::warn!(steps = together.len(), error = ?e, "could not reassess a batch's accounts together; one by one");
        alone.extend(&together);
    }
    alone.extend(one_by_one.into_iter().map(|r| r.id));
    for id in alone {
        if let Err(e) = run_one(pool, settings, id, now, &mut Done::default()).await {
            tracing::warn!(followup = id, error = ?e, "a step after an inbound message failed; it is done later");
        }
    }
    Ok(())
}

/// The `reassess` steps of replies `ids`, done as one: every account they name is scored once
/// and its escalations evaluated once (a handful of statements for the lot, not for each),
/// and the steps are marked done in the transaction that holds their row locks, as
/// [`run_one`] does for one.
async fn reassess_together(
    pool: &PgPool,
    settings: &Settings,
    ids: &[i64],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut tx = pool
        .begin()
        .await
        .context("starting a batch's reassessment")?;
    let rows = sqlx::query!(
        "select id, account_id from inbound_followups
          where id = any($1) and done_at is null for update skip locked",
        ids
    )
    .fetch_all(&mut *tx)
    .await
    .context("claiming a batch's reassessments")?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut accounts: Vec<AccountId> = rows.iter().map(|r| AccountId(r.account_id)).collect();
    accounts.sort_by_key(|a| a.0);
    accounts.dedup();
    let judge = Judge::from(settings);
    let among = Accounts::Listed(&accounts);
    reassess_accounts(pool, judge.health, judge.escalation, now, "reply", among).await?;
    let claimed: Vec<i64> = rows.iter().map(|r| r.id).collect();
    sqlx::query!(
        "update inbound_followups set done_at = now(), tries = tries + 1 where id = any($1)",
        &claimed
    )
    .execute(&mut *tx)
    .await
    .context("marking a batch's reassessments done")?;
    tx.commit()
        .await
        .context("marking a batch's reassessments done")?;
    Ok(())
}

/// Does every step left behind (older than a few seconds), oldest first; returns how many
/// were done. A failing one is recorded and the others go on.
pub async fn sweep(
    pool: &PgPool,
    settings: &Settings,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let ids = sqlx::query_scalar!(
        "select id from inbound_followups
          where done_at is null and created_at < now() - make_interval(secs => $1)
            and tries < $2
          order by id limit 500",
        SWEEP_AFTER_SECONDS,
        SWEEP_TRIES
    )
    .fetch_all(pool)
    .await
    .context("reading the steps left behind")?;
    let mut count = 0;
    for id in ids {
        match run_one(pool, settings, id, now, &mut Done::default()).await {
            Ok(true) => count += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(followup = id, error = ?e, "a step after an inbound message failed; tried again later")
            }
        }
    }
    Ok(count)
}

/// Runs the sweep until told to stop.
#[tracing::instrument(skip_all)]
pub async fn run_sweeper(
    pool: PgPool,
    settings: Arc<Settings>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        match sweep(&pool, &settings, Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                steps = n,
                "did the steps left behind after inbound messages"
            ),
            Err(e) => tracing::warn!(error = ?e, "could not look for steps left behind"),
        }
    }
}

/// Does one step under a row lock (another instance skips it meanwhile) and marks it done in
/// the same transaction. False when it was done or taken by someone else.
async fn run_one(
    pool: &PgPool,
    settings: &Settings,
    id: i64,
    now: DateTime<Utc>,
    done: &mut Done,
) -> anyhow::Result<bool> {
    let mut tx = pool.begin().await.context("starting a follow-up step")?;
    let row = sqlx::query!(
        "select source_key, step, account_id, reply_id from inbound_followups
          where id = $1 and done_at is null for update skip locked",
        id
    )
    .fetch_optional(&mut *tx)
    .await
    .context("claiming a follow-up step")?;
    let Some(row) = row else {
        return Ok(false);
    };
    let account = AccountId(row.account_id);
    let result: anyhow::Result<()> = match row.step.as_str() {
        "reassess" => {
            let cause = if row.source_key.starts_with("reply:") {
                "reply"
            } else {
                "signal"
            };
            reassess(pool, Judge::from(settings), now, cause, Some(account))
                .await
                .map(|r| done.reassessed = Some(r))
        }
        "replan" => {
            crate::outbound::planner::replan_account(pool, &settings.calendar, account, now)
                .await
                .map(|r| done.replanned = Some(r.planned))
        }
        "forward" => forward(pool, settings, row.reply_id).await.map(|()| {
            done.forwarded = true;
        }),
        other => Err(anyhow::anyhow!("unknown follow-up step '{other}'")),
    };
    match result {
        Ok(()) => {
            sqlx::query!(
                "update inbound_followups set done_at = now(), tries = tries + 1 where id = $1",
                id
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await.context("marking a follow-up step done")?;
            Ok(true)
        }
        Err(e) => {
            drop(tx);
            let error = format!("{e:#}");
            // Best effort: the step stays pending either way.
            let _ = sqlx::query!(
                "update inbound_followups set tries = tries + 1, last_error = $2 where id = $1",
                id,
                error
            )
            .execute(pool)
            .await;
            Err(e.context(format!("follow-up step {} of {}", row.step, row.source_key)))
        }
    }
}

/// Passes the words of a stored reply to the account's CSM (and starts or extends the
/// takeover). Forwarding the same message again queues nothing new.
async fn forward(pool: &PgPool, settings: &Settings, reply_id: Option<i64>) -> anyhow::Result<()> {
    let Some(reply_id) = reply_id else {
        anyhow::bail!("a forward step names no reply");
    };
    let Some(reply) = sqlx::query!(
        "select contact_id, provider_message_id, body, received_at from replies where id = $1",
        reply_id
    )
    .fetch_optional(pool)
    .await?
    else {
        // The contact was removed since: nobody to talk about.
        return Ok(());
    };
    let forwarded = crate::chat::forward_to_csm(
        pool,
        settings,
        ContactId(reply.contact_id),
        &reply.provider_message_id,
        &reply.body,
        reply.received_at,
    )
    .await?;
    tracing::info!(contact_id = reply.contact_id, post = ?forwarded.post, "a contact's words went to their CSM");
    Ok(())
}
