//! What a table must offer to be delivered by the engine: its own compile-checked statements
//! (claim, load, the `sending` mark, the fenced settle, rescue), and what to send and what to
//! do after. Everything else (leases, fencing, the report, the run loop) is the engine's.
//!
//! Every change on a worker's behalf is fenced by the row's `attempt` (bumped by each claim)
//! and by the status the change expects: a worker whose lease was rescued and handed to
//! someone else cannot overwrite the newer outcome. Leases count on the database's clock.

use std::fmt::{Debug, Display};
use std::future::Future;
use std::hash::Hash;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{PgConnection, PgPool};

use super::policy::{AfterSend, Stop};
use super::report::Rescued;
pub use super::settle::{Mark, MarkRows, Settle, SettleRows, Settlement};
use crate::domain::{ChannelKind, PostId, TouchId, WebhookDeliveryId};

/// The id of a row in a delivery queue.
pub trait QueueId: Copy + Eq + Hash + Ord + Display + Debug + Send + Sync + 'static {
    /// What a row is, for messages: "touch", "staff post".
    const WHAT: &'static str;
    fn raw(self) -> i64;
}

impl QueueId for TouchId {
    const WHAT: &'static str = "touch";
    fn raw(self) -> i64 {
        self.0
    }
}

impl QueueId for PostId {
    const WHAT: &'static str = "staff post";
    fn raw(self) -> i64 {
        self.0
    }
}

impl QueueId for WebhookDeliveryId {
    const WHAT: &'static str = "webhook delivery";
    fn raw(self) -> i64 {
        self.0
    }
}

/// A worker's hold on one row; `attempt` is the fencing token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease<I> {
    pub id: I,
    pub attempt: i32,
}

/// The leases a claim returned, in id order, from its rows' `(id, attempt)`.
pub fn leases<I: QueueId>(rows: impl IntoIterator<Item = (I, i32)>) -> Vec<Lease<I>> {
    let mut leases: Vec<_> = rows
        .into_iter()
        .map(|(id, attempt)| Lease { id, attempt })
        .collect();
    leases.sort_by_key(|l| l.id);
    leases
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError<I: QueueId> {
    #[error(
        "{} {} is no longer held by this worker (attempt {}): its lease expired and it was \
         rescued, so this result was dropped",
        I::WHAT, .0.id, .0.attempt
    )]
    LeaseLost(Lease<I>),
    #[error("could not update the {}s in PostgreSQL", I::WHAT)]
    Database(#[from] sqlx::Error),
}

/// A lease's length in seconds, as `make_interval` takes it.
pub(crate) fn seconds(d: TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

/// The send-time decision for one row.
pub enum Plan<M, F> {
    /// Hand this to the transport.
    Send(M),
    /// Settle without sending, with a follow-up done in the same transaction.
    Settle(Settle, Option<F>),
}

/// Whether a message goes once its turn was waited for.
pub enum Ready {
    Go,
    /// The stop came first: back in the queue, untouched.
    Stop,
    /// Not now after all (its chat is not ready for a while): settled so, unsent.
    Later(Settle),
}

/// What the transport said, and the status code it gave, if any.
pub struct Handed {
    pub after: AfterSend,
    pub code: Option<i32>,
}

type Db<T> = Result<T, sqlx::Error>;

/// A table the engine delivers from: its own statements (`sqlx::query!` per table), whose
/// fencing the engine relies on.
pub trait Table: Send + Sync + 'static {
    type Id: QueueId;
    /// A row as loaded for sending.
    type Row: Send + Sync;

    /// The PostgreSQL channel notified when work is added, if any.
    const NOTIFY: Option<&'static str>;

    /// Leases up to `n` rows due at `now` to `worker`, skipping rows locked by another claim.
    fn claim_due(
        db: &PgPool,
        worker: &str,
        now: DateTime<Utc>,
        lease: TimeDelta,
        n: i64,
    ) -> impl Future<Output = Db<Vec<Lease<Self::Id>>>> + Send;

    /// Loads the claimed rows in one statement; a row deleted since its claim is missing.
    fn load(
        db: &PgPool,
        ids: &[i64],
    ) -> impl Future<Output = Db<Vec<(Self::Id, Self::Row)>>> + Send;

    /// Marks rows `sending` (committed before any is handed over) and counts the try, only
    /// while still claimed under an unexpired lease, which is renewed for `lease_for`.
    /// Returns the ids marked with their tries so far; the others were fenced out.
    fn mark_sending(
        db: &mut PgConnection,
        marks: &MarkRows,
        lease_for: TimeDelta,
    ) -> impl Future<Output = Db<Vec<(i64, i32)>>> + Send;

    /// Applies the settles that the fence lets through; returns the ids applied.
    fn settle(
        db: &mut PgConnection,
        rows: &SettleRows,
    ) -> impl Future<Output = Db<Vec<i64>>> + Send;

    /// Hands back every row `worker` claimed and never handed to a transport.
    fn release_claims_of(
        db: &PgPool,
        worker: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Db<u64>> + Send;

    /// When the earliest waiting row becomes claimable, as `claim_due` sees it at `now`.
    fn next_due_at(
        db: &PgPool,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Db<Option<DateTime<Utc>>>> + Send;
}

/// Marks one row `sending`; returns its tries so far, this one included.
pub async fn mark_one<T: Table>(
    db: &PgPool,
    mark: Mark<T::Id>,
    lease_for: TimeDelta,
) -> Result<i32, QueueError<T::Id>> {
    let mut conn = db.acquire().await?;
    let marked = T::mark_sending(
        &mut conn,
        &MarkRows::of(std::slice::from_ref(&mark)),
        lease_for,
    )
    .await?;
    marked
        .first()
        .map(|(_, tries)| *tries)
        .ok_or(QueueError::LeaseLost(mark.lease))
}

/// Settles one row at `now`, if the fence lets it.
pub async fn settle_one<T: Table>(
    db: &PgPool,
    lease: Lease<T::Id>,
    change: Settle,
    now: DateTime<Utc>,
) -> Result<(), QueueError<T::Id>> {
    let mut conn = db.acquire().await?;
    let settlement = Settlement {
        lease,
        change,
        code: None,
        now,
    };
    let applied = T::settle(&mut conn, &SettleRows::of(&[settlement])).await?;
    if applied.is_empty() {
        Err(QueueError::LeaseLost(lease))
    } else {
        Ok(())
    }
}

/// What is delivered from a table: what to send, and what to do after.
pub trait Queue: Sync {
    type Table: Table;
    type Message: Send + Sync;
    /// Work done in the transaction that settles a row, only if the fence held.
    type FollowUp: Clone + Send + Sync;

    /// Runs before each pass of the run loop.
    fn before_pass(&self, _db: &PgPool) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Re-checks a row at send time: what to send, or how to settle it unsent.
    fn prepare(
        &self,
        row: &Row<Self>,
        lease: Lease<Id<Self>>,
        now: DateTime<Utc>,
    ) -> Plan<Self::Message, Self::FollowUp>;

    /// Where the message goes, recorded with the `sending` mark.
    fn destination(&self, _message: &Self::Message) -> Option<(ChannelKind, String)> {
        None
    }

    /// Waits for the message's turn at its transport, or says how to settle it unsent.
    fn wait_turn(
        &self,
        _message: &Self::Message,
        stop: &Stop,
    ) -> impl Future<Output = Ready> + Send {
        let ready = if stop.raised() {
            Ready::Stop
        } else {
            Ready::Go
        };
        async move { ready }
    }

    /// Hands the message over; `tries` counts this one.
    fn send(
        &self,
        message: &Self::Message,
        tries: i32,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Handed> + Send;

    /// What to do after a send, in the transaction that records it (a contact who blocked
    /// the bot is marked unreachable).
    fn follow_up_for(&self, _row: &Row<Self>, _after: &AfterSend) -> Option<Self::FollowUp> {
        None
    }

    fn follow_up(
        &self,
        _db: &mut PgConnection,
        _follow_up: &Self::FollowUp,
        _now: DateTime<Utc>,
    ) -> impl Future<Output = Db<()>> + Send {
        async { Ok(()) }
    }
}

/// A queue's row id and loaded row.
pub type Id<Q> = <<Q as Queue>::Table as Table>::Id;
pub type Row<Q> = <<Q as Queue>::Table as Table>::Row;

/// A row whose send may or may not have happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRow<I> {
    pub id: I,
    /// The key the channel deduplicates on.
    pub channel_key: String,
    /// The channel it went to; `None` when that is not known (any more).
    pub channel: Option<ChannelKind>,
}

/// A table with a `sending` state: sends cut short end `unknown` and are reconciled.
pub trait Rescue: Table {
    /// What is interrupted, in "the interrupted {} never arrived": "send", "post".
    const SENT_WHAT: &'static str;
    /// Why an unknown row stays so when its channel cannot be asked.
    const UNSUPPORTED_LOOKUP_REASON: &'static str;

    /// Why an unknown row stays so when no channel here can be asked (`None`: it is gone).
    fn no_channel_reason(kind: Option<ChannelKind>) -> String;

    /// Takes rows back from workers whose lease ran out on the database's clock: a claim
    /// goes back in the queue, a send cut off midway becomes `unknown`.
    fn rescue_expired(
        db: &mut PgConnection,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Db<Rescued>> + Send;

    fn list_unknown(db: &PgPool) -> impl Future<Output = Db<Vec<UnknownRow<Self::Id>>>> + Send;

    /// The channel confirmed it arrived; false if it is no longer `unknown`.
    fn resolve_unknown_as_sent(
        db: &PgPool,
        id: Self::Id,
        provider_id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Db<bool>> + Send;

    /// The channel confirmed it never arrived: back in the queue, due at once.
    fn requeue_unknown(
        db: &PgPool,
        id: Self::Id,
        why: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Db<bool>> + Send;

    /// Says why an unknown row stays that way (writes only when the text changes).
    fn explain_unknown(
        db: &PgPool,
        id: Self::Id,
        reason: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Db<()>> + Send;
}
