//! Handles the stored WhatsApp events: a few drainers per `serve`, woken by the webhook once
//! it stored a request's events, and every [`SWEEP_EVERY`] anyway, for what a crash or an
//! outage left undone. They drain one queue (`queue::claim_batch`), so an event is handled
//! once, and a sender's messages in the order they came. A drainer takes batches until none is
//! free, so a burst of requests wakes the drainers, not a task per request; a batch's
//! follow-ups, answers and done marks go together (`batch`).
//!
//! Handling writes through a pool of its own whose commits do not wait for the disk
//! (`synchronous_commit = off`): the event itself was stored durably before the webhook's
//! 200, and a crash can only lose the last moments of handling, in commit order, so an event
//! whose handling was lost is not marked done either and is handled again, idempotently.
//! Nothing leaves the process on the strength of such a commit: the answers are delivered
//! through `pool`, whose `sending` mark is durable and flushes every earlier commit with it.
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
use sqlx::postgres::PgPoolOptions;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

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
/// Events a drainer claims at once: their follow-ups, answers and done marks go together.
const BATCH: i64 = 100;

mod batch;

/// What handling an event needs, shared by the webhook and the drainers.
pub struct Worker {
    /// Durable commits: where the webhook stores events and answers are delivered from.
    pub pool: PgPool,
    /// The same database, committing without waiting for the disk (see the module docs).
    handling: PgPool,
    pub settings: Arc<Settings>,
    pub messages: Arc<Messages>,
    /// Delivers the answers on WhatsApp; one set, so every task keeps the same pace.
    pub answers: Channels,
    /// Drains at once: each may hold a connection or two, and the pool serves others too.
    draining: Semaphore,
    drainers: usize,
    /// Rung by the webhook after storing: one idle drainer wakes, or the next to finish a
    /// drain looks again (a permit is kept), so no stored event waits for the sweep.
    wake: Notify,
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
        // A drain spends most of its time waiting on round trips and on its answers' durable
        // commits rather than working: more of them at once keep the database busy (five
        // handle twice the replies a second of two, BENCHMARKS.md 5). Their handling has a
        // pool of its own; the shared pool serves them only for looking senders up and
        // delivering answers, a statement at a time.
        let drainers = (settings.database.max_connections as usize / 2).max(1);
        // Each drain holds at most two: a follow-up step's transaction and its reassessment.
        let handling = PgPoolOptions::new()
            .max_connections(2 * drainers as u32 + 1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(
                (*pool.connect_options())
                    .clone()
                    .options([("synchronous_commit", "off")]),
            );
        Ok(Worker {
            pool,
            handling,
            settings,
            messages,
            answers,
            draining: Semaphore::new(drainers),
            drainers,
            wake: Notify::new(),
        })
    }

    /// Says that events were stored: a drainer handles them (see [`run_sweeper`]).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The conversation core on the handling pool.
    pub fn conversation(&self) -> Conversation<'_> {
        Conversation {
            pool: &self.handling,
            settings: &self.settings,
            messages: &self.messages,
        }
    }

    /// Handles events until none is left that is free to take, a batch at a time (`batch`);
    /// returns how many were done.
    #[tracing::instrument(skip_all)]
    pub async fn drain(&self) -> usize {
        let Ok(_turn) = self.draining.acquire().await else {
            return 0;
        };
        let mut handled = 0;
        loop {
            let events = match queue::claim_batch(&self.handling, BATCH).await {
                Ok(events) if events.is_empty() => return handled,
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim WhatsApp events; tried again later");
                    return handled;
                }
            };
            let (done, go_on) = batch::handle(self, events).await;
            handled += done;
            if !go_on {
                return handled;
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
                let applied = statuses::apply(&self.handling, &status).await?;
                Ok(applied != Applied::InFlight)
            }
            other => anyhow::bail!("unknown WhatsApp event kind '{other}'"),
        }
    }

    /// Records a failed try; false when the database is away (stop draining for now).
    async fn after_failure(&self, event: &queue::Claimed, error: anyhow::Error) -> bool {
        if !database_answers(&self.handling).await {
            tracing::warn!(event = event.id, error = ?error, "the database is unreachable; the WhatsApp event is handled again later");
            return false;
        }
        let pause = 5.0 * f64::from(1u32 << event.tries.clamp(0, 6));
        let text = format!("{error:#}");
        match queue::failed(&self.handling, event.id, &text, POISON_TRIES as i32, pause).await {
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
            &self.handling,
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
        let event = queue::reopen(&self.handling, key)
            .await
            .context("taking back a WhatsApp event set aside")?
            .ok_or_else(|| anyhow::anyhow!("WhatsApp event {key} is not set aside any more"))?;
        match self.handle(&event).await {
            Ok(true) => queue::done(&self.handling, event.id)
                .await
                .context("marking a replayed WhatsApp event done"),
            // Its touch is being sent: the sweep looks at it again once that is recorded.
            Ok(false) => queue::later(&self.handling, event.id, NOT_YET_PAUSE)
                .await
                .context("putting a replayed WhatsApp event off"),
            Err(e) => {
                let text = format!("{e:#}");
                queue::failed(&self.handling, event.id, &text, 1, 0.0)
                    .await
                    .context("setting a replayed WhatsApp event aside again")?;
                Err(e)
            }
        }
    }
}

/// The drainers: each drains at once (whatever the last run left), then whenever the webhook
/// wakes it and every [`SWEEP_EVERY`], until told to stop.
#[tracing::instrument(skip_all)]
pub async fn run_sweeper(
    worker: Arc<Worker>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut drainers = JoinSet::new();
    for _ in 0..worker.drainers {
        drainers.spawn(drainer(worker.clone(), shutdown.clone()));
    }
    while let Some(done) = drainers.join_next().await {
        done.context("a WhatsApp event drainer panicked")?;
    }
    Ok(())
}

async fn drainer(worker: Arc<Worker>, mut shutdown: watch::Receiver<bool>) {
    let mut swept = true;
    loop {
        let handled = worker.drain().await;
        if swept && handled > 0 {
            tracing::info!(handled, "handled WhatsApp events left undone");
        }
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            _ = worker.wake.notified() => swept = false,
            _ = tokio::time::sleep(SWEEP_EVERY) => swept = true,
        }
    }
}
