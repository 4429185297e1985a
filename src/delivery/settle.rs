//! How a worker's hold on a row ends, and the `sending` mark before a send, as values and as
//! the arrays the per-table statements UNNEST, so that a whole group goes in one statement.

use chrono::{DateTime, Utc};

use super::queue::{Lease, QueueId};
use super::report::Outcome;
use crate::domain::ChannelKind;

/// How a worker's hold on a row ends. Each queue's settle statement applies these, each only
/// while the row still has the lease's attempt and the status the change expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    /// Claimed and never handed to a channel: back in the queue at once, no try spent.
    Release,
    /// The channel took it.
    Sent { provider_id: String },
    /// Back in the queue until `at`; unless the failure `counts`, the try taken by the
    /// `sending` mark is given back (waiting is not failing).
    Retry {
        at: DateTime<Utc>,
        error: String,
        counts: bool,
    },
    /// Nowhere to go yet: back in the queue until `at`, the reason kept, no try spent.
    Wait { at: DateTime<Utc>, why: String },
    /// Given up for good.
    Fail { reason: String },
    /// Sending it no longer makes sense.
    Skip { reason: String },
    /// Nobody can tell whether it arrived: never resent blindly.
    Unknown { reason: String },
}

impl Settle {
    pub fn outcome(&self) -> Outcome {
        match self {
            Settle::Release => Outcome::Released,
            Settle::Sent { .. } => Outcome::Sent,
            Settle::Retry { .. } => Outcome::Retried,
            Settle::Wait { .. } => Outcome::Waiting,
            Settle::Fail { .. } => Outcome::Failed,
            Settle::Skip { .. } => Outcome::Skipped,
            Settle::Unknown { .. } => Outcome::Unknown,
        }
    }

    /// The name the settle statements switch on.
    fn kind(&self) -> &'static str {
        match self {
            Settle::Release => "release",
            Settle::Sent { .. } => "sent",
            Settle::Retry { .. } => "retry",
            Settle::Wait { .. } => "wait",
            Settle::Fail { .. } => "fail",
            Settle::Skip { .. } => "skip",
            Settle::Unknown { .. } => "unknown",
        }
    }
}

/// One settle: the change, the receiver's status code where the transport has one (HTTP),
/// and the time it is recorded at.
#[derive(Debug, Clone)]
pub struct Settlement<I> {
    pub lease: Lease<I>,
    pub change: Settle,
    pub code: Option<i32>,
    pub now: DateTime<Utc>,
}

/// A batch of settles as the arrays a settle statement UNNESTs, one element per row.
#[derive(Debug, Default)]
pub struct SettleRows {
    pub ids: Vec<i64>,
    pub attempts: Vec<i32>,
    pub kinds: Vec<String>,
    /// The provider's id (sent), the error (retry), the reason (wait, fail, skip, unknown).
    pub texts: Vec<Option<String>>,
    /// When a retried or waiting row is due again.
    pub ats: Vec<Option<DateTime<Utc>>>,
    pub counts: Vec<bool>,
    pub codes: Vec<Option<i32>>,
    pub nows: Vec<DateTime<Utc>>,
}

impl SettleRows {
    pub fn of<I: QueueId>(batch: &[Settlement<I>]) -> SettleRows {
        let mut rows = SettleRows::default();
        for s in batch {
            let (text, at, counts) = match &s.change {
                Settle::Release => (None, None, false),
                Settle::Sent { provider_id } => (Some(provider_id.clone()), None, false),
                Settle::Retry { at, error, counts } => (Some(error.clone()), Some(*at), *counts),
                Settle::Wait { at, why } => (Some(why.clone()), Some(*at), false),
                Settle::Fail { reason } | Settle::Skip { reason } | Settle::Unknown { reason } => {
                    (Some(reason.clone()), None, false)
                }
            };
            rows.ids.push(s.lease.id.raw());
            rows.attempts.push(s.lease.attempt);
            rows.kinds.push(s.change.kind().to_string());
            rows.texts.push(text);
            rows.ats.push(at);
            rows.counts.push(counts);
            rows.codes.push(s.code);
            rows.nows.push(s.now);
        }
        rows
    }
}

/// A batch of `sending` marks, as the arrays a mark statement UNNESTs: where each row goes
/// (empty where the queue does not record it).
#[derive(Debug, Default)]
pub struct MarkRows {
    pub ids: Vec<i64>,
    pub attempts: Vec<i32>,
    pub channels: Vec<Option<String>>,
    pub addresses: Vec<Option<String>>,
    pub nows: Vec<DateTime<Utc>>,
}

/// One `sending` mark: the lease, where it goes, and when.
#[derive(Debug, Clone)]
pub struct Mark<I> {
    pub lease: Lease<I>,
    pub to: Option<(ChannelKind, String)>,
    pub now: DateTime<Utc>,
}

impl MarkRows {
    pub fn of<I: QueueId>(batch: &[Mark<I>]) -> MarkRows {
        let mut rows = MarkRows::default();
        for m in batch {
            rows.ids.push(m.lease.id.raw());
            rows.attempts.push(m.lease.attempt);
            rows.channels
                .push(m.to.as_ref().map(|(c, _)| c.as_str().to_string()));
            rows.addresses.push(m.to.as_ref().map(|(_, a)| a.clone()));
            rows.nows.push(m.now);
        }
        rows
    }
}
