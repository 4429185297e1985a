//! The one worker every queue runs on. A pass claims a batch, loads it in one statement, and
//! delivers its rows together through prepare → turn → `sending` mark → send → settle: the
//! rows whose turn came together are marked in one statement, committed before any of them is
//! handed over, and settled in one statement (`batch`). The next batch is claimed and loaded
//! while one is being sent, but marked only once every row of the one before is settled, so at
//! most `batch_size` rows of a worker are ever `sending`. `run` adds the waiting between
//! passes, on the wall clock.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use sqlx::PgPool;
use tokio::sync::watch;

use super::batch::{Fenced, Groups, Loaded};
use super::policy::{AfterSend, Clock, RECORD_PATIENCE, Stop, record_patiently};
use super::queue::{
    Id, Lease, Mark, Plan, Queue, QueueError, QueueId, Ready, Row, Settle, Settlement, Table,
};
use super::report::{Outcome, Report};
use super::wakeup::{Wakeup, wait_before_next_pass};
use crate::outbound::dispatcher::DispatcherConfig;

/// One worker's view of a queue: where it records, how many it handles at once, which clock
/// stamps its changes and what stops it.
pub struct Worker<'a, Q: Queue> {
    pub queue: &'a Q,
    pub pool: &'a PgPool,
    pub config: &'a DispatcherConfig,
    pub clock: Clock,
    pub stop: Stop,
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
        self.pass(worker_id, || now, &mut report).await?;
        Ok(report)
    }

    /// Claims and delivers batch after batch due at `due_at()`, until none is left or the stop
    /// is raised. Each batch is claimed and loaded while the one before it is being sent, so
    /// the database's round trips overlap the sending instead of adding to it.
    /// What was done before a failed claim stays counted in `report`. Returns the time its
    /// last claim looked for due rows at (`None` if stopped before any).
    async fn pass(
        &self,
        worker_id: &str,
        due_at: impl Fn() -> DateTime<Utc>,
        report: &mut Report,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        if self.stop.raised() {
            return Ok(None);
        }
        let mut claimed_at = due_at();
        let mut next = self.claim(worker_id, claimed_at).await?;
        while !next.leases.is_empty() {
            let following = async {
                if self.stop.raised() {
                    return Ok(None);
                }
                let at = due_at();
                self.claim(worker_id, at)
                    .await
                    .map(|batch| Some((at, batch)))
            };
            let (done, following) = tokio::join!(self.deliver_loaded(next), following);
            report.add(done);
            (claimed_at, next) = match following {
                Ok(Some(claimed)) => claimed,
                Ok(None) => break,
                // It ran beside the sends, which may have waited out an outage since: once
                // they are recorded, claim again as before.
                Err(e) if self.stop.raised() => return Err(e),
                Err(_) => {
                    let at = due_at();
                    (at, self.claim(worker_id, at).await?)
                }
            };
        }
        Ok(Some(claimed_at))
    }

    /// Claims one batch due at `due_at` and delivers it.
    pub async fn deliver_batch(
        &self,
        worker_id: &str,
        due_at: DateTime<Utc>,
    ) -> anyhow::Result<Report> {
        let batch = self.claim(worker_id, due_at).await?;
        Ok(self.deliver_loaded(batch).await)
    }

    /// Claims up to `batch_size` rows due at `due_at` and loads them.
    async fn claim(&self, worker_id: &str, due_at: DateTime<Utc>) -> anyhow::Result<Loaded<Q>> {
        let size = self.config.batch_size.max(1);
        let leases =
            <Q::Table as Table>::claim_due(self.pool, worker_id, due_at, self.config.lease(), size)
                .await
                .with_context(|| format!("could not claim due {}s", Id::<Q>::WHAT))?;
        Ok(self.load(leases).await)
    }

    /// Delivers rows already claimed, `in_flight` at a time, sends included (1: one after the
    /// other, in their order). For a producer's own messages (a batch of answers): the
    /// channel's pace still holds, but `dispatcher.workers` does not cap their sends, so they
    /// come back together and settle in a statement or two rather than a trickle of durable
    /// commits, four answers each.
    pub async fn deliver(&self, leases: Vec<Lease<Id<Q>>>, in_flight: usize) -> Report {
        let batch = self.load(leases).await;
        self.deliver_rows(batch, in_flight, in_flight).await
    }

    /// Delivers a whole claimed batch at once: its marks and settles are one statement each.
    async fn deliver_loaded(&self, batch: Loaded<Q>) -> Report {
        let in_flight = batch.leases.len().max(1);
        self.deliver_rows(batch, in_flight, self.config.workers)
            .await
    }

    /// Delivers `batch`, `in_flight` rows at a time, `sends` of them with a transport at once.
    async fn deliver_rows(&self, batch: Loaded<Q>, in_flight: usize, sends: usize) -> Report {
        let Loaded { leases, rows } = batch;
        let mut report = Report {
            claimed: leases.len(),
            ..Report::default()
        };
        if leases.is_empty() {
            return report;
        }
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                // Left claimed: the lease rescue hands them back.
                tracing::error!(error = ?e, what = Id::<Q>::WHAT, "could not load a claimed batch");
                report.errors = leases.len();
                return report;
            }
        };
        let (groups, (mark_drain, settle_drain)) = Groups::<Q>::new(sends);
        let deliveries = async {
            let outcomes: Vec<_> = futures::stream::iter(leases)
                .map(|lease| self.deliver_one(lease, rows.get(&lease.id), &groups))
                .buffer_unordered(in_flight)
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
        match self.queue.wait_turn(&message, &self.stop).await {
            Ready::Go => {}
            Ready::Stop => {
                return self
                    .settle(groups, lease, Settle::Release, None, None)
                    .await;
            }
            Ready::Later(change) => return self.settle(groups, lease, change, None, None).await,
        }
        let mark = Mark {
            lease,
            to: self.queue.destination(&message),
            now: self.clock.now(),
        };
        let marked_at = Instant::now();
        let tries = groups.marks.submit(mark).await?;
        let permit = groups.sends.acquire().await;
        if self.stop.raised() || marked_at.elapsed() > self.send_deadline() {
            // Stopping, or waited so long for a free transport that the lease could lapse
            // mid-send: never handed over, so back in the queue without spending the try.
            let change = Settle::Retry {
                at: self.clock.now() + TimeDelta::seconds(1),
                error: "marked for sending, but stopped or too late in its lease to start".into(),
                counts: false,
            };
            return self.settle(groups, lease, change, None, None).await;
        }
        let handed = self.queue.send(&message, tries, self.clock.now()).await;
        drop(permit);
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

    /// How long after its mark a send may still start: half the lease the mark renewed, so
    /// the send has the other half to finish before the rescue could take the row back.
    fn send_deadline(&self) -> Duration {
        Duration::from_secs(self.config.lease_seconds.max(1)) / 2
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
        let claimed_at = match worker.pass(worker_id, Utc::now, &mut report).await {
            Ok(at) => at,
            Err(e) => {
                tracing::error!(what, error = ?e, "delivery pass failed");
                None
            }
        };
        if report.claimed > report.waiting {
            tracing::info!(what, ?report, "delivery pass");
        }
        let next = <Q::Table as Table>::next_due_at(pool, Utc::now()).await;
        let wait = wait_before_next_pass(next, claimed_at, poll, Utc::now());
        wakeup.wait(wait, &mut shutdown).await;
    }
    tracing::info!(worker_id, what, "delivery loop stopped");
}
