//! How a delivery loop waits for work: a PostgreSQL NOTIFY on its channel, the next due time it
//! knows of, or the shutdown signal, whichever comes first. Shared by the touch dispatcher and
//! the staff-post dispatcher.

use std::time::Duration;

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
