//! What a delivery pass, a lease rescue and a reconcile did, counted the same for every queue.

/// What became of one claimed row in a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    Retried,
    Failed,
    Skipped,
    Waiting,
    Unknown,
    Released,
    LeaseLost,
}

/// Counts of what one delivery pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub skipped: usize,
    /// With nowhere to go yet, put back without counting a try.
    pub waiting: usize,
    /// Handed to the channel without a clear answer: left 'unknown', never resent blindly.
    pub unknown: usize,
    /// Handed back unsent because the worker is stopping.
    pub released: usize,
    /// Lost to the lease rescue before this worker could record a result.
    pub lease_lost: usize,
    /// Left in place by a database error; the lease rescue picks them up.
    pub errors: usize,
}

impl Report {
    pub fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Sent => self.sent += 1,
            Outcome::Retried => self.retried += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Waiting => self.waiting += 1,
            Outcome::Unknown => self.unknown += 1,
            Outcome::Released => self.released += 1,
            Outcome::LeaseLost => self.lease_lost += 1,
        }
    }

    pub fn add(&mut self, other: Report) {
        self.claimed += other.claimed;
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.waiting += other.waiting;
        self.unknown += other.unknown;
        self.released += other.released;
        self.lease_lost += other.lease_lost;
        self.errors += other.errors;
    }
}

/// What the lease rescue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rescued {
    /// Claimed but never handed to a channel: safely back in the queue.
    pub requeued: u64,
    /// Handed to a channel by a worker that then vanished: now 'unknown', to be reconciled.
    pub unknown: u64,
}

/// What reconciling the 'unknown' rows did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// The channel confirmed delivery: now 'sent'.
    pub sent: usize,
    /// The channel confirmed nothing arrived: back in the queue.
    pub requeued: usize,
    /// Nobody can tell; an operator decides.
    pub still_unknown: usize,
}
