//! The dispatcher: claims due touches from the outbox, checks they still make sense, renders
//! them, and hands them to their channel, recording what happened.
//!
//! `deliver_due` does one pass at a given `now` and is what tests and the demo call; the
//! long-running `run_dispatcher` only adds the waiting (LISTEN/NOTIFY with polling as a
//! fallback) and reads the wall clock.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::watch;

use super::calendar::CalendarConfig;
use super::delivery::{
    AfterSend, Clock, RECORD_PATIENCE, Stop, after_send, backoff_at, record_patiently,
};
use super::outbox::{self, Lease, OutboxError, Rescued, SendRow};
use super::template_notice;
use super::wakeup::{Wakeup, wait_before_next_pass};
use super::window::{Form, ServiceWindow, TemplateRef, default_template_name};
use crate::channel::ratelimit::RateLimits;
use crate::channel::{
    Address, Button, Channels, Lookup, OutboundMessage, PermanentReason, TemplateMessage,
};
use crate::domain::{AccountId, ChannelKind, ContactId, MessageCategory, TouchId, TouchKind};

/// The PostgreSQL channel the `touches` trigger notifies when work is added or rescheduled.
pub const NOTIFY_CHANNEL: &str = "touchbot_outbox";

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DispatcherConfig {
    /// Touches handled at the same time by one dispatcher process.
    pub workers: usize,
    /// Touches claimed per round trip.
    pub batch_size: i64,
    /// How long a worker may hold a touch before the rescue job takes it back, on the
    /// database's clock; renewed when the send starts.
    pub lease_seconds: u64,
    /// The longest the run loop sleeps without a notification.
    pub poll_interval_seconds: u64,
    /// Tries before a temporarily failing touch is given up as failed. Waiting (a "slow
    /// down", a paused chat, a missing channel) is not a try.
    pub max_attempts: i32,
    pub backoff_base_seconds: u64,
    pub backoff_max_seconds: u64,
    /// On SIGTERM or SIGINT, how long sends already handed to a channel may take to finish
    /// before `serve` stops anyway.
    pub shutdown_grace_seconds: u64,
    pub rate_limits: RateLimits,
    /// WhatsApp's 24-hour window and the templates registered for outside it; read from
    /// `[whatsapp]` by `config::load`, not from this section.
    #[serde(skip)]
    pub window: ServiceWindow,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            workers: 4,
            batch_size: 50,
            lease_seconds: 120,
            poll_interval_seconds: 30,
            max_attempts: 6,
            backoff_base_seconds: 30,
            backoff_max_seconds: 3600,
            shutdown_grace_seconds: 20,
            rate_limits: RateLimits::default(),
            window: ServiceWindow::default(),
        }
    }
}

impl DispatcherConfig {
    pub(crate) fn lease(&self) -> TimeDelta {
        TimeDelta::seconds(self.lease_seconds.max(1) as i64)
    }
}

/// What a template gets to work with. The dispatcher knows no message text; a `Render`
/// implementation turns this into one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TouchToSend {
    pub id: TouchId,
    pub account_id: AccountId,
    pub touch_key: String,
    pub kind: TouchKind,
    pub category: MessageCategory,
    pub template: String,
    pub account_name: String,
    /// The client contact, or `None` for an internal reminder to staff.
    pub contact_name: Option<String>,
    /// Whoever receives it: the contact, or the staff member.
    pub recipient_name: String,
    pub csm_name: Option<String>,
    /// The recipient's locale, else the account's.
    pub locale: String,
    pub renewal_date: Option<NaiveDate>,
    /// Days from today (in the account's time zone) to the renewal date; negative once past.
    pub days_to_renewal: Option<i64>,
    pub to: Address,
    pub idempotency_key: String,
    /// Set when the touch must go as this registered template (WhatsApp outside its window).
    pub as_template: Option<TemplateRef>,
}

/// A rendered message body, before the dispatcher addresses it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rendered {
    pub text: String,
    pub buttons: Vec<Vec<Button>>,
    /// For a touch going as a template: the body's parameters, in their numbered order.
    pub parameters: Vec<String>,
}

/// Turns a touch into text. A failure here fails that one touch for good (a missing template
/// will not appear by retrying), and leaves the contact alone.
pub trait Render: Send + Sync {
    fn render(&self, touch: &TouchToSend) -> anyhow::Result<Rendered>;

    /// The team's post saying that the template `name` for the message `key` is missing, in
    /// `locale`. Renderers without message files (test doubles) get a plain sentence.
    fn template_missing(&self, key: &str, name: &str, _locale: &str) -> anyhow::Result<String> {
        Ok(format!(
            "No WhatsApp template '{name}' is configured for '{key}'."
        ))
    }
}

/// Counts of what one `deliver_due` pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Handed to the channel without a clear answer: left 'unknown', never resent blindly.
    pub unknown: usize,
    /// Handed back unsent because the dispatcher is stopping.
    pub released: usize,
    /// Touches this worker lost to the lease rescue before it could record a result.
    pub lease_lost: usize,
    /// Touches left in place by a database error; the lease rescue picks them up.
    pub errors: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Sent,
    Retried,
    Failed,
    Skipped,
    Unknown,
    Released,
    LeaseLost,
}

impl DeliveryReport {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Sent => self.sent += 1,
            Outcome::Retried => self.retried += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Unknown => self.unknown += 1,
            Outcome::Released => self.released += 1,
            Outcome::LeaseLost => self.lease_lost += 1,
        }
    }

    pub fn add(&mut self, other: DeliveryReport) {
        self.claimed += other.claimed;
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.unknown += other.unknown;
        self.released += other.released;
        self.lease_lost += other.lease_lost;
        self.errors += other.errors;
    }
}

/// The send-time decision for one touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    Send(Box<TouchToSend>),
    /// Sending no longer makes sense; the reason is shown to staff.
    Skip(String),
    /// Only a template may go and none is configured for the message `key`: skipped, and
    /// the team told once per key.
    NoTemplate {
        key: String,
        reason: String,
    },
    /// The stored touch itself is broken.
    Fail(String),
}

/// Re-checks what may have changed since planning and, if the touch still goes out, gathers
/// what its template needs and in which form it may go (WhatsApp's window).
pub fn prepare(row: &SendRow, now: DateTime<Utc>, window: &ServiceWindow) -> Prepared {
    if row.account_lifecycle != "active" {
        return Prepared::Skip(format!("account is {}", row.account_lifecycle));
    }
    let kind: TouchKind = match row.kind.parse() {
        Ok(kind) => kind,
        Err(e) => return Prepared::Fail(format!("the stored touch kind is not valid: {e}")),
    };
    let category: MessageCategory = match row.category.parse() {
        Ok(category) => category,
        Err(e) => return Prepared::Fail(format!("the stored category is not valid: {e}")),
    };

    let (to, recipient_name, locale) = if row.contact_id.is_some() {
        if row.contact_removed {
            return Prepared::Skip("contact removed".into());
        }
        if row.contact_unreachable {
            return Prepared::Skip("contact unreachable".into());
        }
        if row.contact_opted_out {
            return Prepared::Skip(format!("contact opted out of {category} messages"));
        }
        let channel: ChannelKind = match row.contact_channel.as_deref().unwrap_or("").parse() {
            Ok(channel) => channel,
            Err(e) => return Prepared::Fail(format!("the contact's channel is not valid: {e}")),
        };
        let Some(address) = row.contact_address.clone() else {
            return Prepared::Skip(format!(
                "contact has no {channel} address yet (they have not joined the bot)"
            ));
        };
        (
            Address { channel, address },
            row.contact_name.clone().unwrap_or_default(),
            row.contact_locale.clone(),
        )
    } else if row.staff_id.is_some() {
        let Some(telegram_id) = row.staff_telegram_user_id else {
            return Prepared::Skip("CSM has no Telegram id".into());
        };
        (
            Address {
                channel: ChannelKind::Telegram,
                address: telegram_id.to_string(),
            },
            row.staff_name.clone().unwrap_or_default(),
            row.staff_locale.clone(),
        )
    } else {
        return Prepared::Skip("the touch has no recipient any more".into());
    };

    let locale = locale.unwrap_or_else(|| row.account_locale.clone());
    let as_template = if to.channel == ChannelKind::Whatsapp {
        let last_inbound = row.contact_last_inbound_at;
        match window.form(&row.template, &locale, last_inbound, row.template_only, now) {
            Form::FreeText => None,
            Form::Template(template) => Some(template),
            Form::NotSendable(reason) => {
                return Prepared::NoTemplate {
                    key: row.template.clone(),
                    reason,
                };
            }
        }
    } else {
        None
    };
    let tz: chrono_tz::Tz = row.account_time_zone.parse().unwrap_or(chrono_tz::UTC);
    let today = now.with_timezone(&tz).date_naive();
    Prepared::Send(Box::new(TouchToSend {
        id: row.id,
        account_id: row.account_id,
        touch_key: row.touch_key.clone(),
        kind,
        category,
        template: row.template.clone(),
        account_name: row.account_name.clone(),
        contact_name: row.contact_id.and(row.contact_name.clone()),
        recipient_name,
        csm_name: row.csm_name.clone(),
        locale,
        renewal_date: row.renewal_date,
        days_to_renewal: row.renewal_date.map(|d| (d - today).num_days()),
        to,
        idempotency_key: outbox::idempotency_key(row.account_id, &row.touch_key),
        as_template,
    }))
}

/// Whether a permanent failure says something about the recipient rather than the message.
fn makes_contact_unreachable(reason: PermanentReason) -> bool {
    match reason {
        PermanentReason::Blocked
        | PermanentReason::UnknownChat
        | PermanentReason::InvalidAddress => true,
        PermanentReason::Rejected => false,
    }
}

struct Pass<'a> {
    pool: &'a PgPool,
    channels: &'a Channels,
    renderer: &'a dyn Render,
    config: &'a DispatcherConfig,
    clock: Clock,
    stop: Stop,
}

/// Claims and delivers everything due at `now`, batch after batch, until nothing due is left.
/// A touch retried during the pass is due again only after `now`, so the pass ends.
pub async fn deliver_due(
    pool: &PgPool,
    channels: &Channels,
    renderer: &dyn Render,
    config: &DispatcherConfig,
    worker_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<DeliveryReport> {
    let mut report = DeliveryReport::default();
    loop {
        let batch = deliver_batch(pool, channels, renderer, config, worker_id, now).await?;
        if batch.claimed == 0 {
            return Ok(report);
        }
        report.add(batch);
    }
}

/// Claims one batch due at `now` and delivers it, recording every change at `now`. Leases
/// run on the database's clock, and each is renewed when its send starts.
pub async fn deliver_batch(
    pool: &PgPool,
    channels: &Channels,
    renderer: &dyn Render,
    config: &DispatcherConfig,
    worker_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<DeliveryReport> {
    let pass = Pass {
        pool,
        channels,
        renderer,
        config,
        clock: Clock::Fixed(now),
        stop: Stop::default(),
    };
    pass.deliver_batch(worker_id, now).await
}

impl Pass<'_> {
    async fn deliver_batch(
        &self,
        worker_id: &str,
        due_at: DateTime<Utc>,
    ) -> anyhow::Result<DeliveryReport> {
        let mut report = DeliveryReport::default();
        let batch = outbox::claim_due(
            self.pool,
            worker_id,
            due_at,
            self.config.lease(),
            self.config.batch_size.max(1),
        )
        .await
        .context("could not claim due touches from the outbox")?;
        report.claimed = batch.len();
        let outcomes: Vec<_> = futures::stream::iter(batch)
            .map(|lease| self.deliver_one(lease))
            .buffer_unordered(self.config.workers.max(1))
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Ok(outcome) => report.count(outcome),
                Err((id, e)) => {
                    report.errors += 1;
                    tracing::error!(touch_id = %id, error = ?e, "could not record a delivery");
                }
            }
        }
        Ok(report)
    }

    async fn deliver_one(&self, lease: Lease) -> Result<Outcome, (TouchId, anyhow::Error)> {
        self.try_deliver(lease).await.or_else(|e| match e {
            OutboxError::LeaseLost(_) => {
                tracing::warn!(touch_id = %lease.id, attempt = lease.attempt, "lease lost");
                Ok(Outcome::LeaseLost)
            }
            OutboxError::Database(e) => Err((lease.id, e.into())),
        })
    }

    async fn retry(
        &self,
        lease: Lease,
        at: DateTime<Utc>,
        error: &str,
        counts: bool,
    ) -> Result<Outcome, OutboxError> {
        outbox::retry_later(self.pool, lease, at, error, counts, self.clock.now()).await?;
        Ok(Outcome::Retried)
    }

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

    fn backoff_at(&self, attempt: i32) -> DateTime<Utc> {
        backoff_at(self.config, attempt, self.clock.now())
    }

    async fn try_deliver(&self, lease: Lease) -> Result<Outcome, OutboxError> {
        if self.stop.raised() {
            outbox::release(self.pool, lease, self.clock.now()).await?;
            return Ok(Outcome::Released);
        }
        let now = self.clock.now();
        let Some(row) = outbox::load_for_send(self.pool, lease.id).await? else {
            // Deleted between the claim and now: nothing left to deliver or record.
            return Ok(Outcome::LeaseLost);
        };
        let touch = match prepare(&row, now, &self.config.window) {
            Prepared::Send(touch) => touch,
            Prepared::Skip(reason) => {
                tracing::info!(touch_id = %lease.id, %reason, "touch skipped");
                outbox::skip(self.pool, lease, &reason, now).await?;
                return Ok(Outcome::Skipped);
            }
            Prepared::NoTemplate { key, reason } => {
                tracing::info!(touch_id = %lease.id, %reason, "touch skipped");
                let notice = self.template_notice(&key, &row);
                template_notice::skip_and_tell(self.pool, lease, &key, &reason, notice, now)
                    .await?;
                return Ok(Outcome::Skipped);
            }
            Prepared::Fail(reason) => {
                outbox::fail_permanently(self.pool, lease, &reason, now).await?;
                return Ok(Outcome::Failed);
            }
        };
        let kind = touch.to.channel;
        let (Some(channel), Some(throttle)) =
            (self.channels.get(kind), self.channels.throttle(kind))
        else {
            let error = format!(
                "no {kind} channel is configured in this dispatcher; the touch waits until one is"
            );
            return self
                .retry(lease, self.backoff_at(lease.attempt), &error, false)
                .await;
        };
        if let Some(until) = throttle.paused_until(&touch.to.address, now) {
            let error = format!("waiting: {kind} asked us to slow down for this chat");
            return self.retry(lease, until, &error, false).await;
        }
        let rendered = match self.renderer.render(&touch) {
            Ok(rendered) => rendered,
            Err(e) => {
                let reason = format!("could not render template '{}': {e:#}", touch.template);
                outbox::fail_permanently(self.pool, lease, &reason, now).await?;
                return Ok(Outcome::Failed);
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

        if !self.stop.wait_turn(throttle, &touch.to.address).await {
            outbox::release(self.pool, lease, self.clock.now()).await?;
            return Ok(Outcome::Released);
        }
        let tries =
            outbox::mark_sending(self.pool, lease, self.clock.now(), self.config.lease()).await?;
        let result = channel.send(&message).await;
        let now = self.clock.now();
        let after = after_send(result, &touch.to, throttle, tries, self.config, now);
        record_patiently(RECORD_PATIENCE, || {
            self.record(lease, &row, after.clone(), now)
        })
        .await
    }

    /// Stores what became of a send, as `after_send` read the channel's answer.
    async fn record(
        &self,
        lease: Lease,
        row: &SendRow,
        after: AfterSend,
        now: DateTime<Utc>,
    ) -> Result<Outcome, OutboxError> {
        match after {
            AfterSend::Sent(delivered) => {
                outbox::complete(self.pool, lease, &delivered.provider_message_id, now).await?;
                Ok(Outcome::Sent)
            }
            AfterSend::Retry { at, error, counts } => self.retry(lease, at, &error, counts).await,
            AfterSend::Unknown { reason } => {
                tracing::warn!(touch_id = %lease.id, %reason, "send outcome unknown");
                outbox::mark_unknown(self.pool, lease, &reason, now).await?;
                Ok(Outcome::Unknown)
            }
            AfterSend::Fail { reason, refused } => {
                match (
                    row.contact_id,
                    refused.filter(|r| makes_contact_unreachable(*r)),
                ) {
                    (Some(contact_id), Some(refused)) => {
                        self.fail_and_mark_unreachable(lease, row, contact_id, refused, &reason)
                            .await?
                    }
                    _ => outbox::fail_permanently(self.pool, lease, &reason, now).await?,
                }
                Ok(Outcome::Failed)
            }
        }
    }

    async fn fail_and_mark_unreachable(
        &self,
        lease: Lease,
        row: &SendRow,
        contact_id: ContactId,
        reason: PermanentReason,
        why: &str,
    ) -> Result<(), OutboxError> {
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        outbox::fail_permanently(&mut *tx, lease, why, now).await?;
        outbox::mark_contact_unreachable(
            &mut tx,
            row.account_id,
            contact_id,
            row.id,
            reason.as_str(),
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::warn!(touch_id = %row.id, contact_id = %contact_id, reason = reason.as_str(),
            "contact marked unreachable");
        Ok(())
    }
}

/// What reconciling the 'unknown' touches did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// The channel confirmed delivery: now 'sent'.
    pub sent: usize,
    /// The channel confirmed nothing arrived: back in the queue.
    pub requeued: usize,
    /// Nobody can tell; an operator decides (see `outbox::list_unknown` and `outbox::requeue`).
    pub still_unknown: usize,
}

pub const UNSUPPORTED_LOOKUP_REASON: &str = "the send was cut short (the worker stopped, or the \
    channel's answer was lost) and this channel cannot tell whether the message arrived; it is \
    not resent automatically. Check with the recipient, then requeue it if it never arrived";

/// Asks each unknown touch's channel whether the message arrived, and settles what it can.
pub async fn reconcile_unknown(
    pool: &PgPool,
    channels: &Channels,
    now: DateTime<Utc>,
) -> anyhow::Result<Reconciled> {
    let mut result = Reconciled::default();
    let unknown = outbox::list_unknown(pool)
        .await
        .context("could not list the touches with an unknown outcome")?;
    for touch in unknown {
        let Some(channel) = touch.channel.and_then(|kind| channels.get(kind)) else {
            let reason = match touch.channel {
                Some(kind) => format!(
                    "the worker stopped while sending; no {kind} channel is configured here to \
                     ask whether the message arrived"
                ),
                None => "the worker stopped while sending, and the recipient is gone".into(),
            };
            outbox::explain_unknown(pool, touch.id, &reason, now).await?;
            result.still_unknown += 1;
            continue;
        };
        match channel.lookup(&touch.idempotency_key).await {
            Lookup::Sent(delivered) => {
                outbox::resolve_unknown_as_sent(
                    pool,
                    touch.id,
                    &delivered.provider_message_id,
                    now,
                )
                .await?;
                result.sent += 1;
            }
            Lookup::NotSent => {
                let why = "the channel confirmed the interrupted send never arrived";
                outbox::requeue_unknown(pool, touch.id, why, now).await?;
                result.requeued += 1;
            }
            Lookup::Unsupported => {
                outbox::explain_unknown(pool, touch.id, UNSUPPORTED_LOOKUP_REASON, now).await?;
                result.still_unknown += 1;
            }
        }
    }
    Ok(result)
}

/// The periodic safety net: take back expired leases, then settle what became 'unknown'.
pub async fn rescue_and_reconcile(
    pool: &PgPool,
    channels: &Channels,
    now: DateTime<Utc>,
) -> anyhow::Result<(Rescued, Reconciled)> {
    let mut conn = pool.acquire().await.context("could not reach PostgreSQL")?;
    let rescued = outbox::rescue_expired_leases(&mut conn, now)
        .await
        .context("could not rescue expired leases")?;
    drop(conn);
    let reconciled = reconcile_unknown(pool, channels, now).await?;
    if rescued != Rescued::default() || reconciled != Reconciled::default() {
        tracing::info!(?rescued, ?reconciled, "outbox rescue");
    }
    Ok((rescued, reconciled))
}

/// Delivers touches as they fall due until `shutdown` turns true (or its sender is dropped).
///
/// It wakes on a NOTIFY from the `touches` trigger, at the next due time it knows of, and at
/// least every `poll_interval_seconds` in case a notification was missed (they are not kept
/// while the listener is reconnecting). Expired leases are not handled here: the scheduler's
/// rescue job does that. Once `shutdown` is raised it claims nothing more, lets the sends
/// already handed to a channel finish, and hands the rest of its batch back unsent.
pub async fn run_dispatcher(
    pool: PgPool,
    channels: Arc<Channels>,
    renderer: Arc<dyn Render>,
    config: DispatcherConfig,
    worker_id: String,
    mut shutdown: watch::Receiver<bool>,
    retime: Option<Arc<CalendarConfig>>,
) -> anyhow::Result<()> {
    let poll = Duration::from_secs(config.poll_interval_seconds.max(1));
    let mut wakeup = Wakeup::listen(&pool, NOTIFY_CHANNEL).await;
    tracing::info!(worker_id, "dispatcher started");
    let pass = Pass {
        pool: &pool,
        channels: &channels,
        renderer: renderer.as_ref(),
        config: &config,
        clock: Clock::Wall,
        stop: Stop::new(&shutdown),
    };

    while !pass.stop.raised() {
        if let Some(calendar) = &retime {
            retime_backlog(&pool, calendar).await;
        }
        let mut report = DeliveryReport::default();
        while !pass.stop.raised() {
            match pass.deliver_batch(&worker_id, Utc::now()).await {
                Ok(batch) if batch.claimed > 0 => report.add(batch),
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(error = ?e, "delivery pass failed");
                    break;
                }
            }
        }
        if report.claimed > 0 {
            tracing::info!(?report, "delivery pass");
        }
        let next = outbox::next_due_at(&pool, Utc::now()).await;
        wakeup
            .wait(wait_before_next_pass(next, poll, Utc::now()), &mut shutdown)
            .await;
    }
    tracing::info!(worker_id, "dispatcher stopped");
    Ok(())
}

/// Gives long-overdue touches back to the calendar before they can be claimed (see
/// `backlog`); a failure only means they go out as they are.
async fn retime_backlog(pool: &PgPool, calendar: &CalendarConfig) {
    match super::backlog::retime_overdue(pool, calendar, Utc::now()).await {
        Ok(done) if done.accounts > 0 || done.failed > 0 => {
            tracing::info!(?done, "re-timed overdue touches")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not look for overdue touches"),
    }
}

#[cfg(test)]
mod tests;
