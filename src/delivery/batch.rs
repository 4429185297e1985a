//! The statements a claimed batch's deliveries share: its rows loaded in one statement, the
//! `sending` marks of the rows whose turn came together in one statement, and so their
//! settles, each row still fenced by its own lease. A statement that fails for another reason
//! than an outage is tried again row by row, so one bad row fails alone.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use tokio::sync::Semaphore;

use super::group::{Drain, Group, group};
use super::policy::is_outage;
use super::queue::{
    Id, Lease, Mark, MarkRows, Queue, QueueError, QueueId, Row, SettleRows, Settlement, Table,
};
use super::worker::Worker;

pub(crate) type Fenced<Q, T> = Result<T, QueueError<Id<Q>>>;
pub(crate) type SettleRequest<Q> = (Settlement<Id<Q>>, Option<<Q as Queue>::FollowUp>);

/// A claimed batch with its rows as loaded right after the claim (or why they could not be).
pub(crate) struct Loaded<Q: Queue> {
    pub leases: Vec<Lease<Id<Q>>>,
    pub rows: Result<HashMap<Id<Q>, Row<Q>>, sqlx::Error>,
}

/// What a batch's deliveries share: the mark and settle groups, and the sends' permits.
pub(crate) struct Groups<Q: Queue> {
    pub marks: Group<Mark<Id<Q>>, Fenced<Q, i32>>,
    pub settles: Group<SettleRequest<Q>, Fenced<Q, ()>>,
    /// At most this many messages are with a transport at once (`dispatcher.workers` in a
    /// pass of the dispatcher).
    pub sends: Semaphore,
}

pub(crate) type Drains<Q> = (
    Drain<Mark<Id<Q>>, Fenced<Q, i32>>,
    Drain<SettleRequest<Q>, Fenced<Q, ()>>,
);

impl<Q: Queue> Groups<Q> {
    pub(crate) fn new(sends: usize) -> (Groups<Q>, Drains<Q>) {
        let (marks, mark_drain) = group();
        let (settles, settle_drain) = group();
        let groups = Groups {
            marks,
            settles,
            sends: Semaphore::new(sends.max(1)),
        };
        (groups, (mark_drain, settle_drain))
    }
}

impl<Q: Queue> Worker<'_, Q> {
    /// Loads the rows of a claimed batch in one statement; a row deleted since is missing.
    pub(crate) async fn load(&self, leases: Vec<Lease<Id<Q>>>) -> Loaded<Q> {
        let ids: Vec<i64> = leases.iter().map(|l| l.id.raw()).collect();
        let rows = if ids.is_empty() {
            Ok(HashMap::new())
        } else {
            <Q::Table as Table>::load(self.pool, &ids)
                .await
                .map(|rows| rows.into_iter().collect())
        };
        Loaded { leases, rows }
    }

    /// Marks a group `sending` in one statement.
    pub(crate) async fn mark_batch(&self, batch: Vec<Mark<Id<Q>>>) -> Vec<Fenced<Q, i32>> {
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
    pub(crate) async fn settle_batch(&self, batch: Vec<SettleRequest<Q>>) -> Vec<Fenced<Q, ()>> {
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
