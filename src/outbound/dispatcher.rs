//! The dispatcher's settings and its send-time decision for one touch: whether it still makes
//! sense, and what its template gets to work with (`prepare`). Claiming, sending and recording
//! are `touches` on the delivery engine; its entry points are re-exported here.
//!
//! `deliver_due` does one pass at a given `now` and is what tests and the demo call; the
//! long-running `run_dispatcher` only adds the waiting (LISTEN/NOTIFY with polling as a
//! fallback) and reads the wall clock.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::calendar::CalendarConfig;
use super::outbox;
pub use super::send_row::SendRow;
use super::window::{Form, ServiceWindow, TemplateRef};
use crate::channel::ratelimit::RateLimits;
use crate::channel::{Address, Button, PermanentReason};
use crate::domain::{AccountId, ChannelKind, MessageCategory, TouchId, TouchKind};

pub use super::outbox::{NOTIFY_CHANNEL, UNSUPPORTED_LOOKUP_REASON};
pub use super::touches::{deliver_due, rescue_and_reconcile, run_dispatcher};
pub use crate::delivery::Reconciled;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DispatcherConfig {
    /// Touches handed to a channel at the same time by one dispatcher process.
    pub workers: usize,
    /// Touches claimed per round trip, loaded, marked `sending` and settled together; one
    /// batch is marked at a time, so it is also the most a crash can leave `unknown`.
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
pub type DeliveryReport = crate::delivery::Report;

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
pub(crate) fn makes_contact_unreachable(reason: PermanentReason) -> bool {
    match reason {
        PermanentReason::Blocked
        | PermanentReason::UnknownChat
        | PermanentReason::InvalidAddress => true,
        PermanentReason::Rejected => false,
    }
}

/// Gives long-overdue touches back to the calendar before they can be claimed (see
/// `backlog`); a failure only means they go out as they are.
pub(crate) async fn retime_backlog(pool: &PgPool, calendar: &CalendarConfig) {
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
