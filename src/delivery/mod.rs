//! The delivery engine, written once for every queue (touches, staff posts, outgoing webhook
//! deliveries): claim under a lease on the database's clock, the `sending` mark committed
//! before anything is handed over, every later change fenced by `attempt` and the expected
//! status, `tries` kept apart from `attempt`, the rescue of expired leases, `unknown` and its
//! reconcile, the report and the run loop.
//!
//! A queue (`queue::Queue`) supplies only its compile-checked statements and what to send and
//! what to do after. The worker batches (`batch`): one statement loads a claimed batch, one
//! marks its rows `sending` (those whose turn at the platform came together, `group`), and one
//! settles them, each row still fenced. One batch per worker is marked at a time, so a crash
//! leaves at most `dispatcher.batch_size` rows of a queue `unknown` per process.

mod batch;
pub mod chat;
mod group;
pub mod policy;
pub mod queue;
pub mod reconcile;
pub mod report;
pub mod settle;
pub mod wakeup;
pub mod worker;

pub use queue::{Lease, Queue, QueueError, Rescue, Settle};
pub use report::{Outcome, Reconciled, Report, Rescued};
pub use worker::Worker;
