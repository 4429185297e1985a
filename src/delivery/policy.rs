//! The engine's rules for one send: how long to wait before the next try, what a channel's
//! answer means for the message, how long to keep recording through an outage, which clock a
//! pass records with, and the stop signal a pass obeys.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;

use super::queue::{QueueError, QueueId};
use crate::channel::ratelimit::Throttle;
use crate::channel::{Address, Delivered, PermanentReason, SendError};
use crate::outbound::dispatcher::DispatcherConfig;

/// The wait before try number `attempt + 1`: doubling from `base`, capped at `max`, and
/// shortened by up to a fifth at random (`jitter` in [0, 1)) so that touches failing together
/// do not come back together. The delay still grows with every attempt until the cap.
pub fn backoff(attempt: i32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).clamp(0, 30) as u32;
    let full = base.saturating_mul(1u32 << exponent).min(max);
    let jittered = full.mul_f64(1.0 - 0.2 * jitter.clamp(0.0, 1.0));
    // Never zero: a touch retried "now" would be claimed again within the same pass.
    jittered.max(Duration::from_secs(1))
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::days(365))
}

/// When try number `attempt + 1` may start, with a random jitter (see [`backoff`]).
pub(crate) fn backoff_at(
    config: &DispatcherConfig,
    attempt: i32,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let wait = backoff(
        attempt,
        Duration::from_secs(config.backoff_base_seconds),
        Duration::from_secs(config.backoff_max_seconds),
        rand::random::<f64>(),
    );
    now + delta(wait)
}

/// What becomes of a message once its transport answered, the same for every queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterSend {
    Sent(Delivered),
    /// Back in the queue until `at`; `counts` says whether this was a failed try or waiting.
    Retry {
        at: DateTime<Utc>,
        error: String,
        counts: bool,
    },
    /// Nobody can tell whether it arrived: left 'unknown', never resent blindly.
    Unknown {
        reason: String,
    },
    /// Given up for good; `refused` is the platform's reason when it refused outright.
    Fail {
        reason: String,
        refused: Option<PermanentReason>,
    },
}

/// Reads a channel's answer to try number `tries`. A "slow down" also pauses that chat in
/// `throttle`, so nothing else is sent to it before the platform allows; it spends no try.
pub(crate) fn after_send(
    result: Result<Delivered, SendError>,
    to: &Address,
    throttle: &Throttle,
    tries: i32,
    config: &DispatcherConfig,
    now: DateTime<Utc>,
) -> AfterSend {
    crate::telemetry::record_send(to.channel.as_str(), &result);
    match result {
        Ok(delivered) => AfterSend::Sent(delivered),
        Err(SendError::RateLimited { retry_after }) => {
            // Telegram speaks in whole seconds; a zero would only re-claim at once.
            let until = now + delta(retry_after.max(Duration::from_millis(1)));
            throttle.pause(&to.address, until);
            AfterSend::Retry {
                at: until,
                error: SendError::RateLimited { retry_after }.to_string(),
                counts: false,
            }
        }
        Err(SendError::Transient(detail)) if tries >= config.max_attempts => AfterSend::Fail {
            reason: format!("gave up after {tries} attempts; the last error was: {detail}"),
            refused: None,
        },
        Err(SendError::Transient(detail)) => AfterSend::Retry {
            at: backoff_at(config, tries, now),
            error: format!("temporary failure: {detail}"),
            counts: true,
        },
        Err(SendError::Unknown(detail)) => AfterSend::Unknown {
            reason: format!(
                "{} may or may not have received it ({detail}); it is not resent on its own",
                to.channel
            ),
        },
        Err(SendError::Permanent { reason, detail }) => AfterSend::Fail {
            reason: format!(
                "{} refused it for good ({}): {detail}",
                to.channel,
                reason.as_str()
            ),
            refused: Some(reason),
        },
    }
}

/// Whether a database error means PostgreSQL was out of reach (rather than that it refused the
/// statement): the connection broke, none could be had, or the server is shutting down.
pub(crate) fn is_outage(e: &sqlx::Error) -> bool {
    match e {
        // A connection opened while the server is away can also fail its handshake.
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

/// How long a worker keeps trying to record a send while PostgreSQL is out of reach: long
/// enough for a restart or a failover. Past its lease the send turns `unknown` (nothing resends
/// it), and a late record still settles it as sent.
pub(crate) const RECORD_PATIENCE: Duration = Duration::from_secs(300);

/// Records what a channel said about a message, trying again while PostgreSQL is out of reach,
/// for up to `patience`. Giving up at the first error would leave a message the channel took
/// as `sending`, to become `unknown` for a person to settle, when a database back a few
/// seconds later could simply be told.
pub(crate) async fn record_patiently<T, I, F, Fut>(
    patience: Duration,
    mut write: F,
) -> Result<T, QueueError<I>>
where
    I: QueueId,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, QueueError<I>>>,
{
    let deadline = tokio::time::Instant::now() + patience;
    let mut wait = Duration::from_millis(250);
    loop {
        match write().await {
            Err(QueueError::Database(e))
                if is_outage(&e) && tokio::time::Instant::now() + wait < deadline =>
            {
                tracing::warn!("PostgreSQL is out of reach while recording a send; trying again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            done => return done,
        }
    }
}

/// The time a pass records: fixed (tests and the demo run their own calendar), or the wall
/// clock read at each step, so a slow batch stamps each change when it happened.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    Fixed(DateTime<Utc>),
    Wall,
}

impl Clock {
    pub fn now(self) -> DateTime<Utc> {
        match self {
            Clock::Fixed(now) => now,
            Clock::Wall => Utc::now(),
        }
    }
}

/// The dispatcher's stop signal as a pass sees it: once it is raised, touches not yet handed
/// to a channel go back to the queue instead.
#[derive(Debug, Clone, Default)]
pub struct Stop(Option<watch::Receiver<bool>>);

impl Stop {
    pub fn new(rx: &watch::Receiver<bool>) -> Stop {
        Stop(Some(rx.clone()))
    }

    pub fn raised(&self) -> bool {
        // A dropped sender can never say "go on" again: that is a stop too.
        self.0
            .as_ref()
            .is_some_and(|rx| *rx.borrow() || rx.has_changed().is_err())
    }

    /// Runs `work` unless the stop comes first (then `None`).
    pub(crate) async fn unless_raised<F: Future>(&self, work: F) -> Option<F::Output> {
        let Some(rx) = &self.0 else {
            return Some(work.await);
        };
        let mut rx = rx.clone();
        let done = tokio::select! {
            done = work => Some(done),
            _ = rx.wait_for(|stop| *stop) => None,
        };
        done.filter(|_| !self.raised())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_is_raised_by_the_signal_or_by_its_sender_going_away() {
        assert!(!Stop::default().raised());
        let (tx, rx) = watch::channel(false);
        let stop = Stop::new(&rx);
        assert!(!stop.raised());
        tx.send(true).unwrap();
        assert!(stop.raised());
        let (tx, rx) = watch::channel(false);
        let stop = Stop::new(&rx);
        drop(tx);
        assert!(stop.raised());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_only_shortens_it() {
        let base = Duration::from_secs(30);
        let max = Duration::from_secs(300);
        assert_eq!(backoff(1, base, max, 0.0), Duration::from_secs(30));
        assert_eq!(backoff(2, base, max, 0.0), Duration::from_secs(60));
        assert_eq!(backoff(3, base, max, 0.0), Duration::from_secs(120));
        assert_eq!(backoff(9, base, max, 0.0), max);
        assert_eq!(backoff(1, base, max, 1.0), Duration::from_secs(24));
        // Even with the most unlucky jitter, the next wait is longer.
        assert!(backoff(2, base, max, 1.0) > backoff(1, base, max, 0.0));
    }

    #[test]
    fn backoff_is_never_zero() {
        assert_eq!(
            backoff(1, Duration::ZERO, Duration::ZERO, 0.5),
            Duration::from_secs(1)
        );
    }
}
