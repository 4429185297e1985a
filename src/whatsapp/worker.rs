//! Handles the stored WhatsApp events: right after the webhook answered (a task per request),
//! and from a sweep every `serve` runs, for what a crash or an outage left undone. Both drain
//! the same queue (`queue::claim_next`), so an event is handled once, and a sender's messages
//! in the order they came.
//!
//! A failure while the database is away leaves the event claimed; it is handled again when the
//! claim runs out. A failure while it answers is counted, and the event waits a growing pause;
//! after [`POISON_TRIES`] it is set aside (done, its error kept) and logged, so it no longer
//! holds up its sender.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use sqlx::PgPool;
use tokio::sync::{Semaphore, watch};

use super::events::{Status, StoredMessage};
use super::statuses::Applied;
use super::{WhatsAppChannel, arrivals, queue, statuses};
use crate::channel::Channels;
use crate::config::Settings;
use crate::inbound::Conversation;
use crate::inbound::dead_letters::{POISON_TRIES, database_answers, set_aside};
use crate::messages::Messages;

/// How often the sweep looks for events left undone.
const SWEEP_EVERY: Duration = Duration::from_secs(15);
/// How long a status about a touch still being sent waits before it is looked at again.
const NOT_YET_PAUSE: f64 = 10.0;

/// What handling an event needs, shared by the webhook's tasks and the sweep.
pub struct Worker {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub messages: Arc<Messages>,
    /// Delivers the answers on WhatsApp; one set, so every task keeps the same pace.
    pub answers: Channels,
    /// Drains at once: each may hold a connection or two, and the pool serves others too.
    draining: Semaphore,
}

impl Worker {
    pub fn new(
        pool: PgPool,
        settings: Arc<Settings>,
        messages: Arc<Messages>,
    ) -> anyhow::Result<Worker> {
        let mut answers = Channels::new(settings.dispatcher.rate_limits.clone());
        if let Some(channel) = WhatsAppChannel::from_settings(&settings.whatsapp)? {
            answers = answers.with(Arc::new(channel));
        }
        let draining = Semaphore::new((settings.database.max_connections as usize / 4).max(1));
        Ok(Worker {
            pool,
            settings,
            messages,
            answers,
            draining,
        })
    }

    pub fn conversation(&self) -> Conversation<'_> {
        Conversation {
            pool: &self.pool,
            settings: &self.settings,
            messages: &self.messages,
        }
    }

    /// Handles events until none is left that is free to take; returns how many were done.
    #[tracing::instrument(skip_all)]
    pub async fn drain(&self) -> usize {
        let Ok(_turn) = self.draining.acquire().await else {
            return 0;
        };
        let mut handled = 0;
        loop {
            let event = match queue::claim_next(&self.pool).await {
                Ok(Some(event)) => event,
                Ok(None) => return handled,
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim a WhatsApp event; tried again later");
                    return handled;
                }
            };
            match self.handle(&event).await {
                Ok(false) => {
                    if let Err(e) = queue::later(&self.pool, event.id, NOT_YET_PAUSE).await {
                        tracing::warn!(event = event.id, error = %e, "could not put a WhatsApp event off");
                        return handled;
                    }
                }
                Ok(true) => match queue::done(&self.pool, event.id).await {
                    Ok(()) => handled += 1,
                    Err(e) => {
                        // Handled; done again (changing nothing) once the claim runs out.
                        tracing::warn!(event = event.id, error = %e, "could not mark a WhatsApp event done");
                        return handled;
                    }
                },
                Err(e) => {
                    if !self.after_failure(&event, e).await {
                        return handled;
                    }
                }
            }
        }
    }

    /// Handles one event; false when it cannot be handled yet (see [`Applied::InFlight`]).
    #[tracing::instrument(skip_all, fields(event = event.id, kind = %event.kind))]
    async fn handle(&self, event: &queue::Claimed) -> anyhow::Result<bool> {
        match event.kind.as_str() {
            "message" => {
                let stored: StoredMessage = serde_json::from_value(event.payload.clone())
                    .context("reading a stored WhatsApp message")?;
                arrivals::handle(self, &stored).await.map(|()| true)
            }
            "status" => {
                let status: Status = serde_json::from_value(event.payload.clone())
                    .context("reading a stored WhatsApp status")?;
                let applied = statuses::apply(&self.pool, &status).await?;
                Ok(applied != Applied::InFlight)
            }
            other => anyhow::bail!("unknown WhatsApp event kind '{other}'"),
        }
    }

    /// Records a failed try; false when the database is away (stop draining for now).
    async fn after_failure(&self, event: &queue::Claimed, error: anyhow::Error) -> bool {
        if !database_answers(&self.pool).await {
            tracing::warn!(event = event.id, error = ?error, "the database is unreachable; the WhatsApp event is handled again later");
            return false;
        }
        let pause = 5.0 * f64::from(1u32 << event.tries.clamp(0, 6));
        let text = format!("{error:#}");
        match queue::failed(&self.pool, event.id, &text, POISON_TRIES as i32, pause).await {
            Ok(true) => self.set_aside(event, &error).await,
            Ok(false) => {
                tracing::warn!(event = event.id, tries = event.tries + 1, error = ?error, "handling a WhatsApp event failed; tried again later")
            }
            Err(e) => {
                tracing::warn!(event = event.id, error = %e, "could not record a failed WhatsApp event")
            }
        }
        true
    }
}

impl Worker {
    /// Lists an event that keeps failing with the inbound updates set aside, for staff to see
    /// (`touchbot inbound dead-letters`) and replay once the cause is fixed.
    async fn set_aside(&self, event: &queue::Claimed, error: &anyhow::Error) {
        let listed = set_aside(
            &self.pool,
            "whatsapp",
            &event.key,
            &event.payload,
            error,
            POISON_TRIES,
            Utc::now(),
        )
        .await;
        match listed {
            Ok(letter) => {
                tracing::error!(event = event.id, dead_letter = letter, error = ?error, "a WhatsApp event keeps failing; set aside for staff (touchbot inbound dead-letters)")
            }
            Err(e) => {
                tracing::error!(event = event.id, error = ?error, listing = ?e, "a WhatsApp event keeps failing; set aside, its error kept in whatsapp_events")
            }
        }
    }

    /// Handles once more an event that was set aside (`touchbot inbound replay`); a failure
    /// leaves it set aside, with the new error.
    pub async fn replay(&self, key: &str) -> anyhow::Result<()> {
        let event = queue::reopen(&self.pool, key)
            .await
            .context("taking back a WhatsApp event set aside")?
            .ok_or_else(|| anyhow::anyhow!("WhatsApp event {key} is not set aside any more"))?;
        match self.handle(&event).await {
            Ok(true) => queue::done(&self.pool, event.id)
                .await
                .context("marking a replayed WhatsApp event done"),
            // Its touch is being sent: the sweep looks at it again once that is recorded.
            Ok(false) => queue::later(&self.pool, event.id, NOT_YET_PAUSE)
                .await
                .context("putting a replayed WhatsApp event off"),
            Err(e) => {
                let text = format!("{e:#}");
                queue::failed(&self.pool, event.id, &text, 1, 0.0)
                    .await
                    .context("setting a replayed WhatsApp event aside again")?;
                Err(e)
            }
        }
    }
}

/// Drains at once (whatever the last run left), then every [`SWEEP_EVERY`], until told to stop.
#[tracing::instrument(skip_all)]
pub async fn run_sweeper(
    worker: Arc<Worker>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        let handled = worker.drain().await;
        if handled > 0 {
            tracing::info!(handled, "handled WhatsApp events left undone");
        }
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}
