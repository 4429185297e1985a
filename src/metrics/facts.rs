//! What the metrics are computed from: plain rows read for a whole portfolio at once by
//! `load`, or built by hand in tests. Nothing here is computed yet.

use chrono::{DateTime, NaiveDate, Utc};

use super::nps::Nps;
use super::response::ResponseRate;
use crate::domain::{AccountId, AccountLifecycle, ContactId, StaffId, StaffRole};
use crate::health::Category;

#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// The instant the figures describe.
    pub now: DateTime<Utc>,
    pub staff: Vec<StaffFacts>,
    pub accounts: Vec<AccountFacts>,
    /// NPS answers received in the NPS window, oldest first, of the accounts not in
    /// `nps_kept`.
    pub nps: Vec<NpsReply>,
    /// Per account, its NPS answers of the window already counted (as [`super::nps_of`]
    /// counts them) beside its latest score; those accounts' answers are not in `nps`.
    pub nps_kept: Vec<AccountNps>,
    /// Per account, the touches that asked something in the response window, counted (by
    /// SQL in `load`, as [`super::response_rate`] defines the count).
    pub responses: Vec<AccountResponse>,
    /// Escalations not yet resolved.
    pub escalations: Vec<OpenEscalation>,
    /// Payments with an amount, over the two years before `now`.
    pub payments: Vec<Payment>,
}

impl Facts {
    /// No facts at all: a CSM without accounts.
    pub fn empty(now: DateTime<Utc>) -> Facts {
        Facts {
            now,
            staff: Vec::new(),
            accounts: Vec::new(),
            nps: Vec::new(),
            nps_kept: Vec::new(),
            responses: Vec::new(),
            escalations: Vec::new(),
            payments: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StaffFacts {
    pub id: StaffId,
    pub name: String,
    pub role: StaffRole,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountFacts {
    pub id: AccountId,
    pub name: String,
    pub csm: Option<StaffId>,
    pub lifecycle: AccountLifecycle,
    pub renewal_date: Option<NaiveDate>,
    /// Days from today, in the account's own time zone, to the renewal; negative once passed.
    pub days_to_renewal: Option<i64>,
    /// The latest stored health; `None` until the account has been scored once.
    pub health: Option<HealthNow>,
    /// The first payment with an amount ever recorded for the account: how far back its
    /// payment history reaches.
    pub first_payment_at: Option<DateTime<Utc>>,
}

impl AccountFacts {
    /// Churned accounts keep their history but are no longer scored, touched or renewed.
    pub fn is_served(&self) -> bool {
        self.lifecycle != AccountLifecycle::Churned
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthNow {
    /// `None` when the latest computation found too little data to score.
    pub score: Option<u8>,
    pub category: Option<Category>,
    /// Points gained (negative: lost) against the score in force 30 days earlier.
    pub change_30d: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NpsReply {
    pub account: AccountId,
    pub contact: ContactId,
    pub score: u8,
    pub at: DateTime<Utc>,
}

/// One account's NPS answers in the window, each contact counted once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountNps {
    pub account: AccountId,
    pub nps: Nps,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AskedTouch {
    pub account: AccountId,
    pub sent_at: DateTime<Utc>,
    /// The first reply linked to the touch, if any arrived by `now`.
    pub first_reply_at: Option<DateTime<Utc>>,
}

/// One account's answered, unanswered and waiting touches in the response window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountResponse {
    pub account: AccountId,
    pub rate: ResponseRate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenEscalation {
    pub account: AccountId,
    pub opened_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payment {
    pub account: AccountId,
    pub paid_at: DateTime<Utc>,
    pub amount_cents: i64,
}
