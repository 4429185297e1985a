//! How a delivery loop waits for work: a PostgreSQL NOTIFY on its channel, the next due time it
//! knows of, or the shutdown signal, whichever comes first. Every queue's run loop waits so.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

/// A LISTEN connection on one notification channel, or polling alone when none could be opened.
pub struct Wakeup {
    listener: Option<PgListener>,
}

impl Wakeup {
    /// Listens on `channel`; a failure is logged and leaves the loop polling.
    pub async fn listen(pool: &PgPool, channel: &str) -> Wakeup {
        let listener = match PgListener::connect_with(pool).await {
            Ok(mut listener) => match listener.listen(channel).await {
                Ok(()) => Some(listener),
                Err(e) => {
                    tracing::warn!(channel, error = ?e, "could not LISTEN; polling only");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(channel, error = ?e, "could not open a LISTEN connection; polling only");
                None
            }
        };
        Wakeup { listener }
    }

    /// Polling alone, for a queue nothing notifies about.
    pub fn polling() -> Wakeup {
        Wakeup { listener: None }
    }

    /// Returns after a notification, after `wait`, or when `shutdown` changes. Notifications
    /// are not kept while the listener reconnects, which is why the caller's `wait` is never
    /// longer than its poll interval.
    pub async fn wait(&mut self, wait: Duration, shutdown: &mut watch::Receiver<bool>) {
        let notified = async {
            match self.listener.as_mut() {
                Some(listener) => listener.recv().await.map(|_| ()),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.changed() => {}
            received = notified => {
                if let Err(e) = received {
                    tracing::warn!(error = ?e, "lost the LISTEN connection; polling until it is back");
                    tokio::time::sleep(wait).await;
                }
            }
            _ = tokio::time::sleep(wait) => {}
        }
        // One pass handles everything due, so earlier notifications add nothing.
        if let Some(listener) = self.listener.as_mut() {
            while listener.next_buffered().is_some() {}
        }
    }
}

/// The shortest sleep before a loop looks again at an item its last claim could have taken
/// and did not.
pub const MIN_WAIT: Duration = Duration::from_secs(1);

/// The shortest sleep before an item that fell due after a pass's last claim: what falls due
/// within it goes in the same batch instead of a pass each.
pub const GRAIN: Duration = Duration::from_millis(50);

/// How long a delivery loop sleeps after a pass, given when its queue says the next item is
/// due and when the pass last claimed: until then, but never longer than `poll`. A pass ends
/// when a claim finds nothing, so an item "due" by that claim's time yet not claimed (held
/// back, clocks that disagree, another worker's) must not make the loop spin: it is looked at
/// again after [`MIN_WAIT`]. One due only after the claim (a message deferred until its chat
/// is ready) is claimed when due, give or take [`GRAIN`]: waiting a whole second for it would
/// leave the platform's allowance unused.
pub fn wait_before_next_pass(
    next: Result<Option<DateTime<Utc>>, sqlx::Error>,
    claimed_at: Option<DateTime<Utc>>,
    poll: Duration,
    now: DateTime<Utc>,
) -> Duration {
    let until = |next: DateTime<Utc>| (next - now).to_std().unwrap_or(Duration::ZERO);
    let wait = match next {
        Ok(Some(next)) if claimed_at.is_some_and(|claimed| next > claimed) => {
            return until(next).min(poll).max(GRAIN);
        }
        Ok(Some(next)) => until(next),
        Ok(None) => poll,
        Err(e) => {
            tracing::error!(error = ?e, "could not read when the next item is due");
            poll
        }
    };
    wait.min(poll).max(MIN_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn a_pass_that_found_nothing_never_loops_without_waiting() {
        let now = Utc::now();
        let claimed = Some(now);
        let poll = Duration::from_secs(30);
        let overdue = Ok(Some(now - TimeDelta::hours(48)));
        assert_eq!(wait_before_next_pass(overdue, claimed, poll, now), MIN_WAIT);
        let later = Ok(Some(now + TimeDelta::seconds(5)));
        assert_eq!(
            wait_before_next_pass(later, claimed, poll, now),
            Duration::from_secs(5)
        );
        let far = Ok(Some(now + TimeDelta::hours(5)));
        assert_eq!(wait_before_next_pass(far, claimed, poll, now), poll);
        assert_eq!(wait_before_next_pass(Ok(None), claimed, poll, now), poll);
        let failed_pass = Ok(Some(now - TimeDelta::seconds(1)));
        assert_eq!(
            wait_before_next_pass(failed_pass, None, poll, now),
            MIN_WAIT
        );
    }

    #[test]
    fn an_item_due_after_the_last_claim_is_claimed_when_due_not_a_second_later() {
        let now = Utc::now();
        let claimed = Some(now - TimeDelta::milliseconds(30));
        let poll = Duration::from_secs(30);
        let soon = Ok(Some(now + TimeDelta::milliseconds(200)));
        assert_eq!(
            wait_before_next_pass(soon, claimed, poll, now),
            Duration::from_millis(200)
        );
        let due_since_the_claim = Ok(Some(now - TimeDelta::milliseconds(10)));
        assert_eq!(
            wait_before_next_pass(due_since_the_claim, claimed, poll, now),
            GRAIN
        );
    }
}
