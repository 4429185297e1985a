//! Escalations: a pure core that turns an account's current state into red signals, decides
//! which of them deserve a post, climbs the ownership ladder and keeps the response SLA.
//!
//! The path through the folder, in the order a caller uses it:
//! 1. [`rules::evaluate`] reads an [`AccountState`] and returns the active [`Trigger`]s, one per
//!    [`Reason`] at most, each with a severity, evidence in plain words and a magnitude.
//! 2. [`dedup::reconcile`] compares those triggers with the account's open (and recently
//!    resolved) escalations and says, per reason, whether to open, update silently, re-alert,
//!    hold, or suggest that the condition has cleared; and whether a post goes out at once or
//!    waits for the CSM's daily digest.
//! 3. [`ladder::steps_due`] says who has to be brought in as an escalation ages (CSM, then the
//!    CS manager, then the VP and the executive sponsor), each step once.
//! 4. [`sla::sla_deadline`] and [`sla::sla_breached`] measure the first response in working hours.
//! 5. [`lifecycle`] holds the states and the outcome recorded on resolve.
//!
//! Those modules read no clock, database or network: `now` and every fact come in as
//! arguments, so the demo's accelerated clock and the tests drive them the same way. The edge
//! that does I/O: [`state`] reads the facts, [`engine::run`] stores decisions and queues posts
//! (texts in [`card`]), [`tick::tick`] climbs the ladder and watches the SLA, and [`actions`]
//! is what a person does (take, contacted, snooze, resolve).

pub mod actions;
mod batch;
pub mod card;
pub mod config;
pub mod dedup;
pub mod engine;
pub mod input;
pub mod ladder;
pub mod lifecycle;
pub mod rules;
pub mod sla;
pub mod state;
pub mod store;
pub mod tick;

#[cfg(test)]
mod tests;

pub use config::{DEFAULT_TOML, EscalationConfig};
pub use dedup::{Decision, Delivery, OpenEscalation, ResolvedEscalation, delivery_for, reconcile};
pub use input::{
    AccountState, ContactRef, HealthCategory, HealthState, HelpKind, HelpRequest, NpsAnswer,
    OpenTicket, RelationshipEvent, RelationshipKind, RenewalState, SentTouch, UsageChange,
};
pub use ladder::{Level, escalation_day, ladder_level, steps_due};
pub use lifecycle::{
    ChurnReason, Outcome, OutcomeParseError, Status, TransitionError, nps_recovered,
};
pub use rules::evaluate;
pub use sla::{sla_breached, sla_deadline};

use serde::{Deserialize, Serialize};

/// Why an account is escalated. The string keys are stored and shown; they never change.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Detractor,
    HealthRed,
    HealthDrop,
    UsageDrop,
    CriticalTicket,
    Silence,
    #[serde(rename = "renewal_risk_60")]
    RenewalRisk60,
    #[serde(rename = "renewal_no_progress_30")]
    RenewalNoProgress30,
    SponsorLeft,
    ChampionChanged,
    Competitor,
    HelpRequested,
}

impl Reason {
    pub const ALL: &'static [Reason] = &[
        Reason::Detractor,
        Reason::HealthRed,
        Reason::HealthDrop,
        Reason::UsageDrop,
        Reason::CriticalTicket,
        Reason::Silence,
        Reason::RenewalRisk60,
        Reason::RenewalNoProgress30,
        Reason::SponsorLeft,
        Reason::ChampionChanged,
        Reason::Competitor,
        Reason::HelpRequested,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Detractor => "detractor",
            Reason::HealthRed => "health_red",
            Reason::HealthDrop => "health_drop",
            Reason::UsageDrop => "usage_drop",
            Reason::CriticalTicket => "critical_ticket",
            Reason::Silence => "silence",
            Reason::RenewalRisk60 => "renewal_risk_60",
            Reason::RenewalNoProgress30 => "renewal_no_progress_30",
            Reason::SponsorLeft => "sponsor_left",
            Reason::ChampionChanged => "champion_changed",
            Reason::Competitor => "competitor",
            Reason::HelpRequested => "help_requested",
        }
    }

    /// Whether the signal comes from something that happened once (an answer, a request, a
    /// recorded departure) rather than a measured state. A new event of the same reason is news
    /// even when the escalation is open; an event already escalated never opens another one.
    pub fn is_event(self) -> bool {
        matches!(
            self,
            Reason::Detractor
                | Reason::SponsorLeft
                | Reason::ChampionChanged
                | Reason::Competitor
                | Reason::HelpRequested
        )
    }

    /// Whether the signal can go away on its own while an escalation is open (health recovers,
    /// the ticket closes, a later NPS answer is no longer a detractor). A departed sponsor or a
    /// mentioned competitor does not un-happen, so those are never reported as cleared: a
    /// person decides.
    pub fn clears_by_itself(self) -> bool {
        !self.is_event() || self == Reason::Detractor
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Reason {
    type Err = crate::domain::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Reason::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == norm)
            .ok_or_else(|| {
                let keys: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
                crate::domain::ParseError(format!(
                    "'{}' is not an escalation reason; use one of: {}",
                    s.trim(),
                    keys.join(", ")
                ))
            })
    }
}

/// How urgent a trigger is. Ordered: `Info < Warning < Critical`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    #[default]
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = crate::domain::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "warning" | "warn" => Ok(Severity::Warning),
            "critical" | "crit" => Ok(Severity::Critical),
            _ => Err(crate::domain::ParseError(format!(
                "'{}' is not a severity; use one of: info, warning, critical",
                s.trim()
            ))),
        }
    }
}

/// How bad a signal is, in the reason's own unit, larger meaning worse: points of health lost,
/// percent of usage lost, overdue tickets, unanswered touches. Only magnitudes of the same
/// reason are compared, so the units never mix.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Magnitude(pub f64);

impl Magnitude {
    /// Worse than `earlier` by at least `margin` (in the reason's unit).
    pub fn worse_by(self, earlier: Magnitude, margin: f64) -> bool {
        self.0 >= earlier.0 + margin
    }
}

/// One active red signal for an account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trigger {
    pub reason: Reason,
    pub severity: Severity,
    /// What a CSM reads in the post, e.g. `NPS 3 from Maria: "reports keep timing out"`. It
    /// carries names and the client's words: post it, but keep it out of logs.
    pub evidence: String,
    /// Compared with the magnitude last alerted to spot a state that got worse.
    pub magnitude: Magnitude,
    /// The signal is an event (an NPS answer, a request for help, a departed sponsor) that has
    /// already been escalated once. Such a trigger keeps an open escalation alive but never
    /// opens a new one after a person resolved it.
    pub already_escalated: bool,
}
