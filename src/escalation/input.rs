//! What the rules look at: one account's state, gathered by the caller from storage and the
//! health score. Plain values only, so this core does not depend on how they are computed.

use crate::domain::ContactId;
use chrono::{DateTime, NaiveDate, Utc};

/// Everything the escalation rules need to know about one account at one instant.
#[derive(Debug, Clone, Default)]
pub struct AccountState {
    pub health: HealthState,
    /// The most recent NPS answer from any contact of the account.
    pub last_nps: Option<NpsAnswer>,
    pub usage: Option<UsageChange>,
    /// Critical support tickets that are still open.
    pub critical_tickets: Vec<OpenTicket>,
    /// Touches sent to the client's contacts, most recent first (the rules sort them anyway).
    /// Internal tasks for the CSM do not belong here.
    pub touches: Vec<SentTouch>,
    pub renewal: Option<RenewalState>,
    pub relationship: Vec<RelationshipEvent>,
    /// Check-in answers in which a contact asked for help or for their manager.
    pub help_requests: Vec<HelpRequest>,
}

/// The health score as the health core computed it. `None` means not yet scored, and every
/// health-based rule stays silent.
#[derive(Debug, Clone, Default)]
pub struct HealthState {
    pub score: Option<u8>,
    pub category: Option<HealthCategory>,
    /// The category before the latest recomputation, to say "turned red (was yellow)".
    pub previous_category: Option<HealthCategory>,
    /// Earlier scores with their times, covering at least the drop window (30 days).
    pub history: Vec<(DateTime<Utc>, u8)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HealthCategory {
    Green,
    Yellow,
    Red,
}

impl HealthCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthCategory::Green => "green",
            HealthCategory::Yellow => "yellow",
            HealthCategory::Red => "red",
        }
    }
}

impl std::str::FromStr for HealthCategory {
    type Err = crate::domain::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "green" => Ok(HealthCategory::Green),
            "yellow" => Ok(HealthCategory::Yellow),
            "red" => Ok(HealthCategory::Red),
            _ => Err(crate::domain::ParseError(format!(
                "'{}' is not a health category; use one of: green, yellow, red",
                s.trim()
            ))),
        }
    }
}

/// A contact as the CSM knows them: the id for storage, the name for the evidence text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRef {
    pub id: ContactId,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct NpsAnswer {
    /// 0-10.
    pub score: u8,
    pub comment: Option<String>,
    pub answered_at: DateTime<Utc>,
    pub contact: ContactRef,
    /// An escalation was already opened for this very answer.
    pub already_escalated: bool,
}

/// A usage measure (active users, sessions, seats in use; any unit, the same on both sides).
#[derive(Debug, Clone, Copy)]
pub struct UsageChange {
    pub now: f64,
    pub thirty_days_ago: f64,
}

#[derive(Debug, Clone)]
pub struct OpenTicket {
    /// How the support team names it: "#4821" or a title.
    pub reference: String,
    pub opened_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy)]
pub struct SentTouch {
    pub sent_at: DateTime<Utc>,
    pub answered: bool,
}

#[derive(Debug, Clone)]
pub struct RenewalState {
    pub date: NaiveDate,
    /// Whole days from today (in the account's zone) to the renewal date; negative once passed.
    pub days_left: i64,
    /// The CSM recorded progress on the renewal deal recently (the caller decides how recent).
    pub progress_recorded: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationshipKind {
    SponsorLeft,
    ChampionChanged,
    CompetitorMentioned,
}

/// A signal an integrator or a CSM recorded about the people side of the account.
#[derive(Debug, Clone)]
pub struct RelationshipEvent {
    pub kind: RelationshipKind,
    /// Free text: the competitor's name, who left, who took over.
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
    pub already_escalated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelpKind {
    /// "We need help."
    Help,
    /// "Can I talk to your manager?"
    Manager,
}

#[derive(Debug, Clone)]
pub struct HelpRequest {
    pub contact: ContactRef,
    pub kind: HelpKind,
    /// The contact's own words, if any.
    pub text: Option<String>,
    pub at: DateTime<Utc>,
    pub already_escalated: bool,
}
