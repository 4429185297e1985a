//! The touch calendar: a pure core deciding, for one account, every touch — which rule places
//! it, who gets it, on which local day and time, and whether it is sent, moved or skipped.
//!
//! How a touch is placed ([`plan`]):
//! 1. Each rule that applies to the account's segment fires on its nominal day(s): `day` N after
//!    day 0, every `every_days` from `from_day` to `to_day` (inclusive), or N days before the
//!    renewal date. The plan covers day 0 through the renewal date (or `horizon_days` without
//!    one); renewal touches dated before day 0 are left out.
//! 2. A recipient is chosen (see [`config::RecipientConfig`]). Nobody suitable means a skipped
//!    touch with the reason ("no reachable decision maker", "no CSM assigned").
//! 3. Quiet months move a touch only if its rule says so: renewal work (120, 90 and 60 days out)
//!    comes forward to the last working day before the quiet months, a QBR waits for the first
//!    working day after them; the 30- and 7-day renewal deadlines are never moved. When the
//!    earlier day has already passed at planning time, the touch stays on its nominal day.
//! 4. Weekends and holidays (in the recipient's local calendar) move a touch forward to the
//!    next sending day.
//! 5. A touch whose day is more than `grace_days` in the past is skipped as overdue; a more
//!    recent one is moved to the next free slot at or after `now`.
//! 6. Touches are then placed highest priority first. Per contact and local day at most one
//!    touch is sent: a lower one is merged into the one already there when `merge_into` allows
//!    (a check-in on an NPS day is skipped as "merged into nps-30"), otherwise it moves to the
//!    next sending day. A full ISO week (`max_per_week`) pushes a touch into the next week, or
//!    skips it for kinds in `skip_when_week_full`. Surveys keep `survey_gap_days` apart per
//!    contact. Internal tasks for the CSM only merge with the same kind; they are never capped.
//! 7. The time is the window start in the recipient's zone (contact's, else account's), or
//!    `now` when placed today after the window opened. A start time skipped by a clock change
//!    becomes the first valid instant; a repeated one the earlier instant.
//!
//! The day-30 checkpoint and day-90 results review of the 30-60-90 framework are separate
//! internal tasks (kind `task`) for the CSM, not merged into the client's NPS: they ask the CSM
//! to review the account and go to a different person, so they never crowd the client.
//!
//! A support ticket closed recently brings a CSAT survey (`csat@<ticket>`, see
//! [`config::CsatConfig`]) for the contact who raised it, or, when the ticket names nobody, for
//! the contact the csat recipient list picks. It is due `delay_minutes` after the closing (then
//! the send window) and placed like any other survey in step 6, except that it is never
//! postponed past `within_days` after the closing: a survey about an old ticket is dropped, with
//! the reason. A raiser who cannot be asked (unreachable, opted out of surveys) is not replaced
//! by somebody else: the question is about their ticket. A ticket the helpdesk closed with a
//! rating, or closed more than `within_days` ago, gets none.
//!
//! Touches already in the history are not returned, but count towards merging, the weekly cap,
//! the survey gap and the NPS rotation.

pub mod config;
mod fatigue;
mod planner;
mod recipients;
mod rules;
mod stability;
mod validate;
mod window;

#[cfg(test)]
mod csat_tests;
#[cfg(test)]
mod stability_tests;
#[cfg(test)]
mod tests;

pub use config::{
    Anchor, CalendarConfig, ClockTime, ConfigParseError, CsatConfig, DEFAULT_TOML, FatigueConfig,
    QuietMove, RecipientChoice, RecipientConfig, RuleConfig, SendWindow,
};
pub use planner::{plan, plan_until};
pub use validate::ConfigIssue;

use crate::domain::{
    AccountId, ContactId, ContactRole, MessageCategory, Segment, StaffId, TouchKind,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

/// Everything the calendar needs to know about one account.
#[derive(Debug, Clone)]
pub struct AccountInput {
    pub id: AccountId,
    pub segment: Segment,
    /// See [`AccountInput::day_zero_of`].
    pub day_zero: NaiveDate,
    pub renewal_date: Option<NaiveDate>,
    pub time_zone: Tz,
    pub csm: Option<StaffId>,
    pub contacts: Vec<ContactInput>,
    /// Support tickets closed recently, one per ticket; older ones may be left out.
    pub closed_tickets: Vec<ClosedTicket>,
}

impl AccountInput {
    /// Day 0 is the go-live date when known, else the contract start.
    pub fn day_zero_of(contract_start: NaiveDate, go_live: Option<NaiveDate>) -> NaiveDate {
        go_live.unwrap_or(contract_start)
    }
}

#[derive(Debug, Clone)]
pub struct ContactInput {
    pub id: ContactId,
    pub role: ContactRole,
    /// The contact's own zone; the account's zone when unknown.
    pub time_zone: Option<Tz>,
    pub added_on: NaiveDate,
    pub opted_out: Vec<MessageCategory>,
    pub reachable: bool,
}

/// A closed support ticket: the reason for a CSAT survey.
#[derive(Debug, Clone)]
pub struct ClosedTicket {
    /// The helpdesk's id for it, e.g. "T-1".
    pub ticket: String,
    /// The latest closing, when a ticket was reopened.
    pub closed_at: DateTime<Utc>,
    /// The contact who raised it: named when it was opened, else when it was closed.
    pub raised_by: Option<ContactId>,
    /// The rating (1-5) the helpdesk already collected with the closing.
    pub csat: Option<u8>,
}

/// A touch that has already gone out.
#[derive(Debug, Clone)]
pub struct SentTouch {
    pub touch_key: String,
    pub kind: TouchKind,
    pub contact_id: Option<ContactId>,
    pub sent_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    Contact(ContactId),
    Staff(StaffId),
    Nobody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Send,
    /// Not sent; the reason in plain words.
    Skip(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTouch {
    /// Unique within the account and stable across re-plans: "nps-90", "checkin-biweekly#3",
    /// "welcome:c17", "renewal-90@2027-03-01".
    pub touch_key: String,
    pub rule: String,
    pub kind: TouchKind,
    pub template: String,
    pub recipient: Recipient,
    /// The day the rule asked for, before any move.
    pub nominal_date: NaiveDate,
    pub due_local: NaiveDateTime,
    pub time_zone: Tz,
    pub due_at: DateTime<Utc>,
    pub decision: Decision,
    /// Why it moved or who was passed over, in plain words.
    pub notes: Vec<String>,
}

impl PlannedTouch {
    pub fn is_send(&self) -> bool {
        self.decision == Decision::Send
    }
}
