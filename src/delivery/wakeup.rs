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

/// The shortest sleep between two passes of a delivery loop.
pub const MIN_WAIT: Duration = Duration::from_secs(1);

/// How long a delivery loop sleeps after a pass, given when its queue says the next item is
/// due: until then, but never longer than `poll` and never less than [`MIN_WAIT`]. A pass
/// ends when a claim finds nothing, so an item "due" that could not be claimed (held back, or
/// clocks that disagree) must not make the loop spin.
pub fn wait_before_next_pass(
    next: Result<Option<DateTime<Utc>>, sqlx::Error>,
    poll: Duration,
    now: DateTime<Utc>,
) -> Duration {
    let wait = match next {
        Ok(Some(next)) => (next - now).to_std().unwrap_or(Duration::ZERO),
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
        let poll = Duration::from_secs(30);
        let overdue = Ok(Some(now - TimeDelta::hours(48)));
        assert_eq!(wait_before_next_pass(overdue, poll, now), MIN_WAIT);
        let later = Ok(Some(now + TimeDelta::seconds(5)));
        assert_eq!(
            wait_before_next_pass(later, poll, now),
            Duration::from_secs(5)
        );
        let far = Ok(Some(now + TimeDelta::hours(5)));
        assert_eq!(wait_before_next_pass(far, poll, now), poll);
        assert_eq!(wait_before_next_pass(Ok(None), poll, now), poll);
    }
}
