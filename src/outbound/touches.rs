//! Touches on the delivery engine: what the dispatcher sends for a touch (checked, rendered,
//! addressed at send time) and what it does after (a contact who blocked the bot is marked
//! unreachable; a missing WhatsApp template is told to the team), in the transaction that
//! records the outcome. Claiming, fencing, batching and the run loop are the engine's.
//!
//! `deliver_due` does one pass at a given `now` and is what tests and the demo call; the
//! long-running `run_dispatcher` adds the waiting and reads the wall clock.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

use super::calendar::CalendarConfig;
use super::dispatcher::{
    DispatcherConfig, Prepared, Render, TouchToSend, makes_contact_unreachable, prepare,
    retime_backlog,
};
use super::outbox::{Lease, TouchTable};
use super::send_row::SendRow;
use super::window::default_template_name;
use super::{template_notice, unreachable};
use crate::channel::{Channels, OutboundMessage, PermanentReason, TemplateMessage};
use crate::delivery::chat::{ChatMessage, NotNow, Pace};
use crate::delivery::policy::{AfterSend, Stop, backoff_at};
use crate::delivery::queue::{Handed, Plan, Queue, Ready};
use crate::delivery::{Reconciled, Report, Rescued, Settle, Worker, reconcile, worker};
use crate::domain::{AccountId, ContactId, TouchId};

/// What the dispatcher needs to deliver touches.
pub struct Touches<'a> {
    pub channels: &'a Channels,
    pub renderer: &'a dyn Render,
    pub config: &'a DispatcherConfig,
    /// Re-times long-overdue touches before each pass of the run loop (see `backlog`).
    pub retime: Option<&'a CalendarConfig>,
}

/// What is done with a touch's outcome, in the same transaction.
#[derive(Debug, Clone)]
pub enum TouchFollowUp {
    /// The channel refused the contact for good: mark them unreachable, tell their CSM.
    Unreachable {
        account_id: AccountId,
        contact_id: ContactId,
        touch_id: TouchId,
        reason: PermanentReason,
    },
    /// No WhatsApp template for the message `key`: tell the team once.
    TemplateMissing { key: String, notice: String },
}

impl<'a> Touches<'a> {
    /// The team's post about a missing template, in the CSM's language (else English); a
    /// text that cannot be rendered is logged and the touch is still skipped.
    fn template_notice(&self, key: &str, row: &SendRow) -> Option<String> {
        let name = default_template_name(key);
        let locale = row.csm_locale.as_deref().unwrap_or("en");
        self.renderer
            .template_missing(key, &name, locale)
            .inspect_err(|e| tracing::error!(error = %format!("{e:#}"), key, "no notice text"))
            .ok()
    }

    /// Renders and addresses a touch that still goes out, unless its channel cannot take it
    /// now.
    fn message(
        &self,
        touch: &TouchToSend,
        lease: Lease,
        now: DateTime<Utc>,
    ) -> Plan<ChatMessage<'a>, TouchFollowUp> {
        let kind = touch.to.channel;
        if self.channels.get(kind).is_none() {
            return Plan::Settle(
                Settle::Retry {
                    at: backoff_at(self.config, lease.attempt, now),
                    error: format!(
                        "no {kind} channel is configured in this dispatcher; the touch waits \
                         until one is"
                    ),
                    counts: false,
                },
                None,
            );
        }
        let rendered = match self.renderer.render(touch) {
            Ok(rendered) => rendered,
            Err(e) => {
                let reason = format!("could not render template '{}': {e:#}", touch.template);
                return Plan::Settle(Settle::Fail { reason }, None);
            }
        };
        let message = OutboundMessage {
            idempotency_key: touch.idempotency_key.clone(),
            to: touch.to.clone(),
            text: rendered.text,
            buttons: rendered.buttons,
            template: touch.as_template.clone().map(|t| TemplateMessage {
                name: t.name,
                language: t.language,
                parameters: rendered.parameters,
            }),
        };
        match ChatMessage::new(self.channels, message, now, Pace::Defer) {
            Ok(message) => Plan::Send(message),
            Err(NotNow::Paused(wait)) => Plan::Settle(wait, None),
            Err(NotNow::NoChannel) => unreachable!("the channel was found above"),
        }
    }
}

impl<'a> Queue for Touches<'a> {
    type Table = TouchTable;
    type Message = ChatMessage<'a>;
    type FollowUp = TouchFollowUp;

    async fn before_pass(&self, db: &PgPool) {
        if let Some(calendar) = self.retime {
            retime_backlog(db, calendar).await;
        }
    }

    fn prepare(
        &self,
        row: &SendRow,
        lease: Lease,
        now: DateTime<Utc>,
    ) -> Plan<ChatMessage<'a>, TouchFollowUp> {
        match prepare(row, now, &self.config.window) {
            Prepared::Send(touch) => self.message(&touch, lease, now),
            Prepared::Skip(reason) => Plan::Settle(Settle::Skip { reason }, None),
            Prepared::NoTemplate { key, reason } => {
                let follow_up = self
                    .template_notice(&key, row)
                    .map(|notice| TouchFollowUp::TemplateMissing { key, notice });
                Plan::Settle(Settle::Skip { reason }, follow_up)
            }
            Prepared::Fail(reason) => Plan::Settle(Settle::Fail { reason }, None),
        }
    }

    async fn wait_turn(&self, message: &ChatMessage<'a>, stop: &Stop) -> Ready {
        message.wait_turn(stop).await
    }

    async fn send(&self, message: &ChatMessage<'a>, tries: i32, now: DateTime<Utc>) -> Handed {
        message.send(tries, self.config, now).await
    }

    fn follow_up_for(&self, row: &SendRow, after: &AfterSend) -> Option<TouchFollowUp> {
        let AfterSend::Fail {
            refused: Some(reason),
            ..
        } = after
        else {
            return None;
        };
        let contact_id = row.contact_id?;
        makes_contact_unreachable(*reason).then_some(TouchFollowUp::Unreachable {
            account_id: row.account_id,
            contact_id,
            touch_id: row.id,
            reason: *reason,
        })
    }

    async fn follow_up(
        &self,
        db: &mut PgConnection,
        follow_up: &TouchFollowUp,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        match follow_up {
            TouchFollowUp::Unreachable {
                account_id,
                contact_id,
                touch_id,
                reason,
            } => {
                let why = reason.as_str();
                unreachable::mark_contact_unreachable(
                    db,
                    *account_id,
                    *contact_id,
                    *touch_id,
                    why,
                    now,
                )
                .await?;
                tracing::warn!(%touch_id, %contact_id, reason = why, "contact marked unreachable");
                Ok(())
            }
            TouchFollowUp::TemplateMissing { key, notice } => {
                template_notice::tell_once(db, key, notice, now).await
            }
        }
    }
}

/// Claims and delivers everything due at `now`, batch after batch, until nothing due is left,
/// recording every change at `now`. Leases run on the database's clock.
pub async fn deliver_due(
    pool: &PgPool,
    channels: &Channels,
    renderer: &dyn Render,
    config: &DispatcherConfig,
    worker_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Report> {
    let touches = Touches {
        channels,
        renderer,
        config,
        retime: None,
    };
    Worker::at(&touches, pool, config, now)
        .deliver_due(worker_id, now)
        .await
}

/// The periodic safety net: take back expired leases, then settle what became 'unknown'.
pub async fn rescue_and_reconcile(
    pool: &PgPool,
    channels: &Channels,
    now: DateTime<Utc>,
) -> anyhow::Result<(Rescued, Reconciled)> {
    reconcile::rescue_and_reconcile::<TouchTable>(pool, channels, now).await
}

/// Delivers touches as they fall due until `shutdown` turns true (or its sender is dropped);
/// see `delivery::worker::run`. Before each pass, touches long overdue are re-timed.
pub async fn run_dispatcher(
    pool: PgPool,
    channels: Arc<Channels>,
    renderer: Arc<dyn Render>,
    config: DispatcherConfig,
    worker_id: String,
    shutdown: watch::Receiver<bool>,
    retime: Option<Arc<CalendarConfig>>,
) -> anyhow::Result<()> {
    let touches = Touches {
        channels: &channels,
        renderer: renderer.as_ref(),
        config: &config,
        retime: retime.as_deref(),
    };
    worker::run(&touches, &pool, &config, &worker_id, shutdown).await;
    Ok(())
}
