//! How often clients answer the touches that ask them something (surveys, check-ins, QBR
//! invitations). A touch counts as answered when a reply linked to it arrived within the reply
//! window (`inbound::REPLY_WINDOW`, 7 days) of the send. A touch still inside that window
//! and not yet answered is left out, as in the health score: a check-in sent this morning has
//! not been ignored yet.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::facts::AskedTouch;

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ResponseRate {
    /// Touches counted: answered, or unanswered with their window over.
    pub asked: u32,
    pub answered: u32,
    /// Unanswered touches still inside their reply window, not counted.
    pub waiting: u32,
}

impl ResponseRate {
    /// Adds another set of touches' counts: an account's to its portfolio's.
    pub fn add(&mut self, other: &ResponseRate) {
        self.asked += other.asked;
        self.answered += other.answered;
        self.waiting += other.waiting;
    }

    /// The share answered, 0 to 1; `None` when nothing was asked.
    pub fn rate(&self) -> Option<f64> {
        (self.asked > 0).then(|| f64::from(self.answered) / f64::from(self.asked))
    }
}

/// Over the touches sent in `(now - period, now]`. This is the definition; `load` counts the
/// same per account in SQL, so the figures never load the touches themselves.
pub fn response_rate<'a>(
    touches: impl IntoIterator<Item = &'a AskedTouch>,
    now: DateTime<Utc>,
    period: TimeDelta,
    reply_window: TimeDelta,
) -> ResponseRate {
    let mut out = ResponseRate::default();
    for t in touches {
        if t.sent_at <= now - period || t.sent_at > now {
            continue;
        }
        let answered = t
            .first_reply_at
            .is_some_and(|r| r <= now && r - t.sent_at <= reply_window);
        if answered {
            out.asked += 1;
            out.answered += 1;
        } else if now - t.sent_at < reply_window {
            out.waiting += 1;
        } else {
            out.asked += 1;
        }
    }
    out
}
