//! The one worker every queue runs on: claim a batch, load it in one statement, and deliver
//! each row (up to `workers` at a time) through prepare → turn → `sending` mark → send →
//! settle, the marks and settles of concurrent deliveries grouped into single statements.
//! `run` adds the waiting between passes, on the wall clock.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use sqlx::PgPool;
use tokio::sync::watch;

use super::group::{Group, group};
use super::policy::{AfterSend, Clock, RECORD_PATIENCE, Stop, is_outage, record_patiently};
use super::queue::{
    Id, Lease, Mark, MarkRows, Plan, Queue, QueueError, QueueId, Row, Settle, SettleRows,
    Settlement, Table,
};
use super::report::{Outcome, Report};
use super::wakeup::{Wakeup, wait_before_next_pass};
use crate::outbound::dispatcher::DispatcherConfig;

type Fenced<Q, T> = Result<T, QueueError<Id<Q>>>;
type SettleRequest<Q> = (Settlement<Id<Q>>, Option<<Q as Queue>::FollowUp>);

/// One worker's view of a queue: where it records, how many it handles at once, which clock
/// stamps its changes and what stops it.
pub struct Worker<'a, Q: Queue> {
    pub queue: &'a Q,
    pub pool: &'a PgPool,
    pub config: &'a DispatcherConfig,
    pub clock: Clock,
    pub stop: Stop,
}

/// The statements a batch's deliveries share.
struct Groups<Q: Queue> {
    marks: Group<Mark<Id<Q>>, Fenced<Q, i32>>,
    settles: Group<SettleRequest<Q>, Fenced<Q, ()>>,
}

impl<'a, Q: Queue> Worker<'a, Q> {
    /// A worker recording every change at `now` that never stops on its own (tests, the demo).
    pub fn at(
        queue: &'a Q,
        pool: &'a PgPool,
        config: &'a DispatcherConfig,
        now: DateTime<Utc>,
    ) -> Self {
        Worker {
            queue,
            pool,
            config,
            clock: Clock::Fixed(now),
            stop: Stop::default(),
        }
    }

    /// Claims and delivers everything due at `now`, batch after batch, until nothing is left.
    /// A row retried during the pass is due again only after `now`, so the pass ends.
    pub async fn deliver_due(&self, worker_id: &str, now: DateTime<Utc>) -> anyhow::Result<Report> {
        let mut report = Report::default();
        loop {
            let batch = self.deliver_batch(worker_id, now).await?;
            if batch.claimed == 0 {
                return Ok(report);
            }
            report.add(batch);
        }
    }

    /// Claims one batch due at `due_at` and delivers it.
    pub async fn deliver_batch(
        &self,
        worker_id: &str,
        due_at: DateTime<Utc>,
    ) -> anyhow::Result<Report> {
        let size = self.config.batch_size.max(1);
        let leases =
            <Q::Table as Table>::claim_due(self.pool, worker_id, due_at, self.config.lease(), size)
                .await
                .with_context(|| format!("could not claim due {}s", Id::<Q>::WHAT))?;
        Ok(self.deliver(leases, self.config.workers.max(1)).await)
    }

    /// Delivers rows already claimed, `concurrency` at a time (1: one after the other, in
    /// their order).
    pub async fn deliver(&self, leases: Vec<Lease<Id<Q>>>, concurrency: usize) -> Report {
        let mut report = Report {
            claimed: leases.len(),
            ..Report::default()
        };
        if leases.is_empty() {
            return report;
        }
        let ids: Vec<i64> = leases.iter().map(|l| l.id.raw()).collect();
        let rows: HashMap<Id<Q>, Row<Q>> = match <Q::Table as Table>::load(self.pool, &ids).await {
            Ok(rows) => rows.into_iter().collect(),
            Err(e) => {
                // Left claimed: the lease rescue hands them back.
                tracing::error!(error = ?e, what = Id::<Q>::WHAT, "could not load a claimed batch");
                report.errors = leases.len();
                return report;
            }
        };
        let (marks, mark_drain) = group();
        let (settles, settle_drain) = group();
        let deliveries = async {
            let groups = Groups::<Q> { marks, settles };
            let outcomes: Vec<_> = futures::stream::iter(leases)
                .map(|lease| self.deliver_one(lease, rows.get(&lease.id), &groups))
                .buffer_unordered(concurrency)
                .collect()
                .await;
            drop(groups);
            outcomes
        };
        let (outcomes, (), ()) = tokio::join!(
            deliveries,
            mark_drain.run(|batch| self.mark_batch(batch)),
            settle_drain.run(|batch| self.settle_batch(batch)),
        );
        for (id, outcome) in outcomes {
            match outcome {
                Ok(outcome) => report.count(outcome),
                Err(QueueError::LeaseLost(lease)) => {
                    tracing::warn!(what = Id::<Q>::WHAT, %id, attempt = lease.attempt, "lease lost");
                    report.count(Outcome::LeaseLost);
                }
                Err(QueueError::Database(e)) => {
                    report.errors += 1;
                    tracing::error!(what = Id::<Q>::WHAT, %id, error = ?e, "could not record a delivery");
                }
            }
        }
        report
    }

    async fn deliver_one(
        &self,
        lease: Lease<Id<Q>>,
        row: Option<&Row<Q>>,
        groups: &Groups<Q>,
    ) -> (Id<Q>, Fenced<Q, Outcome>) {
        (lease.id, self.try_deliver(lease, row, groups).await)
    }

    async fn try_deliver(
        &self,
        lease: Lease<Id<Q>>,
        row: Option<&Row<Q>>,
        groups: &Groups<Q>,
    ) -> Fenced<Q, Outcome> {
        if self.stop.raised() {
            return self
                .settle(groups, lease, Settle::Release, None, None)
                .await;
        }
        let Some(row) = row else {
            // Deleted between the claim and now: nothing left to deliver or record.
            return Ok(Outcome::LeaseLost);
        };
        let message = match self.queue.prepare(row, lease, self.clock.now()) {
            Plan::Send(message) => message,
            Plan::Settle(change, follow_up) => {
                return self.settle(groups, lease, change, follow_up, None).await;
            }
        };
        if !self.queue.wait_turn(&message, &self.stop).await {
            return self
                .settle(groups, lease, Settle::Release, None, None)
                .await;
        }
        let mark = Mark {
            lease,
            to: self.queue.destination(&message),
            now: self.clock.now(),
        };
        let tries = groups.marks.submit(mark).await?;
        let handed = self.queue.send(&message, tries, self.clock.now()).await;
        let follow_up = self.queue.follow_up_for(row, &handed.after);
        let change = match handed.after {
            AfterSend::Sent(delivered) => Settle::Sent {
                provider_id: delivered.provider_message_id,
            },
            AfterSend::Retry { at, error, counts } => Settle::Retry { at, error, counts },
            AfterSend::Unknown { reason } => Settle::Unknown { reason },
            AfterSend::Fail { reason, .. } => Settle::Fail { reason },
        };
        record_patiently(RECORD_PATIENCE, || {
            self.settle(
                groups,
                lease,
                change.clone(),
                follow_up.clone(),
                handed.code,
            )
        })
        .await
    }

    async fn settle(
        &self,
        groups: &Groups<Q>,
        lease: Lease<Id<Q>>,
        change: Settle,
        follow_up: Option<Q::FollowUp>,
        code: Option<i32>,
    ) -> Fenced<Q, Outcome> {
        match &change {
            Settle::Skip { reason } => {
                tracing::info!(what = Id::<Q>::WHAT, id = %lease.id, %reason, "skipped")
            }
            Settle::Fail { reason } => {
                tracing::warn!(what = Id::<Q>::WHAT, id = %lease.id, %reason, "failed")
            }
            Settle::Unknown { reason } => {
                tracing::warn!(what = Id::<Q>::WHAT, id = %lease.id, %reason, "send outcome unknown")
            }
            _ => {}
        }
        let outcome = change.outcome();
        let settlement = Settlement {
            lease,
            change,
            code,
            now: self.clock.now(),
        };
        groups.settles.submit((settlement, follow_up)).await?;
        Ok(outcome)
    }

    /// Marks a group `sending` in one statement.
    async fn mark_batch(&self, batch: Vec<Mark<Id<Q>>>) -> Vec<Fenced<Q, i32>> {
        group_or_alone(batch, |marks| async move {
            let mut conn = self.pool.acquire().await?;
            let lease_for = self.config.lease();
            let rows = MarkRows::of(&marks);
            let marked: HashMap<i64, i32> =
                <Q::Table as Table>::mark_sending(&mut conn, &rows, lease_for)
                    .await?
                    .into_iter()
                    .collect();
            Ok(marks
                .iter()
                .map(|m| {
                    marked
                        .get(&m.lease.id.raw())
                        .copied()
                        .ok_or(QueueError::LeaseLost(m.lease))
                })
                .collect())
        })
        .await
    }

    /// Settles a group in one statement; with follow-ups, in one transaction with them (each
    /// only for a row the fence let through).
    async fn settle_batch(&self, batch: Vec<SettleRequest<Q>>) -> Vec<Fenced<Q, ()>> {
        group_or_alone(batch, |batch| async move {
            let settlements: Vec<_> = batch.iter().map(|(s, _)| s.clone()).collect();
            let rows = SettleRows::of(&settlements);
            if batch.iter().all(|(_, follow_up)| follow_up.is_none()) {
                // A single statement commits on its own: no BEGIN and COMMIT round trips.
                let mut conn = self.pool.acquire().await?;
                let applied = <Q::Table as Table>::settle(&mut conn, &rows).await?;
                return Ok(fenced_answers(&settlements, &applied.into_iter().collect()));
            }
            let mut tx = self.pool.begin().await?;
            let applied: HashSet<i64> = <Q::Table as Table>::settle(&mut tx, &rows)
                .await?
                .into_iter()
                .collect();
            for (s, follow_up) in &batch {
                if let Some(follow_up) = follow_up
                    .as_ref()
                    .filter(|_| applied.contains(&s.lease.id.raw()))
                {
                    self.queue.follow_up(&mut tx, follow_up, s.now).await?;
                }
            }
            tx.commit().await?;
            Ok(fenced_answers(&settlements, &applied))
        })
        .await
    }
}

/// Each settle's answer: done, or fenced out (its lease lost).
fn fenced_answers<I: QueueId>(
    batch: &[Settlement<I>],
    applied: &HashSet<i64>,
) -> Vec<Result<(), QueueError<I>>> {
    batch
        .iter()
        .map(|s| {
            if applied.contains(&s.lease.id.raw()) {
                Ok(())
            } else {
                Err(QueueError::LeaseLost(s.lease))
            }
        })
        .collect()
}

/// Runs `statement` on a whole group; if it fails for another reason than an outage, on each
/// request alone, so that one bad row fails alone.
async fn group_or_alone<T, R, I, F, Fut>(
    batch: Vec<T>,
    mut statement: F,
) -> Vec<Result<R, QueueError<I>>>
where
    T: Clone,
    I: QueueId,
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = Result<Vec<Result<R, QueueError<I>>>, sqlx::Error>>,
{
    let n = batch.len();
    match statement(batch.clone()).await {
        Ok(answers) => answers,
        Err(e) if n == 1 || is_outage(&e) => each_failed(n, e),
        Err(_) => {
            let mut answers = Vec::with_capacity(n);
            for request in batch {
                match statement(vec![request]).await {
                    Ok(answer) => answers.extend(answer),
                    Err(e) => answers.push(Err(QueueError::Database(e))),
                }
            }
            answers
        }
    }
}

/// The error of a failed group statement, once for each of its rows. Only an outage is
/// answered this way, so each copy keeps what `record_patiently` looks at: that it was one.
fn each_failed<I: QueueId, T>(n: usize, e: sqlx::Error) -> Vec<Result<T, QueueError<I>>> {
    let text = e.to_string();
    let mut answers = vec![Err(QueueError::Database(e))];
    answers.extend((1..n).map(|_| {
        Err(QueueError::Database(sqlx::Error::Io(
            std::io::Error::other(text.clone()),
        )))
    }));
    answers
}

/// Delivers a queue as it falls due until `shutdown` turns true (or its sender is dropped).
///
/// It wakes on the queue's NOTIFY, at the next due time it knows of, and at least every
/// `poll_interval_seconds` in case a notification was missed. Expired leases are the rescue
/// job's. Once `shutdown` is raised it claims nothing more, lets the sends already handed to
/// a channel finish, and hands the rest back unsent.
pub async fn run<Q: Queue>(
    queue: &Q,
    pool: &PgPool,
    config: &DispatcherConfig,
    worker_id: &str,
    mut shutdown: watch::Receiver<bool>,
) {
    let poll = Duration::from_secs(config.poll_interval_seconds.max(1));
    let mut wakeup = match <Q::Table as Table>::NOTIFY {
        Some(channel) => Wakeup::listen(pool, channel).await,
        None => Wakeup::polling(),
    };
    let what = Id::<Q>::WHAT;
    tracing::info!(worker_id, what, "delivery loop started");
    let worker = Worker {
        queue,
        pool,
        config,
        clock: Clock::Wall,
        stop: Stop::new(&shutdown),
    };
    while !worker.stop.raised() {
        queue.before_pass(pool).await;
        let mut report = Report::default();
        while !worker.stop.raised() {
            match worker.deliver_batch(worker_id, Utc::now()).await {
                Ok(batch) if batch.claimed > 0 => report.add(batch),
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(what, error = ?e, "delivery pass failed");
                    break;
                }
            }
        }
        if report.claimed > report.waiting {
            tracing::info!(what, ?report, "delivery pass");
        }
        let next = <Q::Table as Table>::next_due_at(pool, Utc::now()).await;
        wakeup
            .wait(wait_before_next_pass(next, poll, Utc::now()), &mut shutdown)
            .await;
    }
    tracing::info!(worker_id, what, "delivery loop stopped");
}
