//! Every threshold of the escalation rules, the ladder and the SLA, as data. The defaults are
//! the playbook's numbers (DOMAIN.md) and live twice, as Rust values and as the commented
//! `default.toml` users copy; a test keeps the two equal.

use super::Severity;
use crate::outbound::calendar::ClockTime;
use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The body of the `[escalation]` section, as shipped. Sub-tables carry their full path
/// (`[escalation.silence]`), so the text belongs right after an `[escalation]` header.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationConfig {
    /// Non-critical posts wait for the CSM's daily digest; critical ones always go at once.
    pub digest_non_critical: bool,
    /// After a person resolves an escalation, the same signal does not reopen it for this many
    /// days unless it gets worse.
    pub quiet_after_resolve_days: u32,
    pub detractor: DetractorRule,
    pub health_red: HealthRedRule,
    pub health_drop: HealthDropRule,
    pub usage_drop: UsageDropRule,
    pub critical_ticket: CriticalTicketRule,
    pub silence: SilenceRule,
    pub renewal: RenewalRule,
    pub relationship: RelationshipRule,
    pub help_request: HelpRequestRule,
    pub ladder: LadderConfig,
    pub sla: SlaConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetractorRule {
    pub enabled: bool,
    /// Answers from 0 up to and including this score are detractors.
    pub max_score: u8,
    pub severity: Severity,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthRedRule {
    pub enabled: bool,
    pub severity: Severity,
    /// Health points lost since the last post that make a new post.
    pub realert_margin: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthDropRule {
    pub enabled: bool,
    /// The drop must be strictly larger than this many points.
    pub more_than_points: u8,
    pub window_days: u32,
    pub severity: Severity,
    pub realert_margin: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageDropRule {
    pub enabled: bool,
    /// Usage now against 30 days ago; the fall must be strictly larger than this.
    pub more_than_percent: u32,
    pub severity: Severity,
    /// Further percentage points lost that make a new post.
    pub realert_margin: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CriticalTicketRule {
    pub enabled: bool,
    /// A critical ticket open strictly longer than this many days is a signal.
    pub open_more_than_days: u32,
    pub severity: Severity,
    /// More overdue tickets than at the last post that make a new post.
    pub realert_margin: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SilenceRule {
    pub enabled: bool,
    /// Unanswered touches in a row, counting back from the latest.
    pub min_touches: u32,
    /// Days since the first of those unanswered touches was sent.
    pub min_days: u32,
    pub severity: Severity,
    /// More unanswered touches than at the last post that make a new post.
    pub realert_margin: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RenewalRule {
    pub enabled: bool,
    /// Renewal within this many days and health below `risk_health_below`: an alert.
    pub risk_days: u32,
    pub risk_health_below: u8,
    pub risk_severity: Severity,
    pub risk_realert_margin: f64,
    /// Renewal within this many days and no progress recorded: an escalation.
    pub no_progress_days: u32,
    pub no_progress_severity: Severity,
    /// Within this many days the no-progress escalation is posted again as urgent.
    pub urgent_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelationshipRule {
    pub enabled: bool,
    /// Events older than this that were never escalated are left alone.
    pub max_age_days: u32,
    pub sponsor_left_severity: Severity,
    pub champion_changed_severity: Severity,
    pub competitor_severity: Severity,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HelpRequestRule {
    pub enabled: bool,
    pub max_age_days: u32,
    pub severity: Severity,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LadderConfig {
    /// Day 1 is the first 24 hours after opening.
    pub manager_from_day: u32,
    pub vp_from_day: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaConfig {
    pub first_response_hours: u32,
    /// The team's zone, in which the working hours and holidays are read.
    pub time_zone: Tz,
    pub start: ClockTime,
    pub end: ClockTime,
    pub days: Vec<Weekday>,
    pub holidays: Vec<NaiveDate>,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        EscalationConfig {
            digest_non_critical: true,
            quiet_after_resolve_days: 14,
            detractor: DetractorRule::default(),
            health_red: HealthRedRule::default(),
            health_drop: HealthDropRule::default(),
            usage_drop: UsageDropRule::default(),
            critical_ticket: CriticalTicketRule::default(),
            silence: SilenceRule::default(),
            renewal: RenewalRule::default(),
            relationship: RelationshipRule::default(),
            help_request: HelpRequestRule::default(),
            ladder: LadderConfig::default(),
            sla: SlaConfig::default(),
        }
    }
}

impl Default for DetractorRule {
    fn default() -> Self {
        DetractorRule {
            enabled: true,
            max_score: 6,
            severity: Severity::Critical,
        }
    }
}

impl Default for HealthRedRule {
    fn default() -> Self {
        HealthRedRule {
            enabled: true,
            severity: Severity::Warning,
            realert_margin: 10.0,
        }
    }
}

impl Default for HealthDropRule {
    fn default() -> Self {
        HealthDropRule {
            enabled: true,
            more_than_points: 20,
            window_days: 30,
            severity: Severity::Warning,
            realert_margin: 10.0,
        }
    }
}

impl Default for UsageDropRule {
    fn default() -> Self {
        UsageDropRule {
            enabled: true,
            more_than_percent: 30,
            severity: Severity::Warning,
            realert_margin: 15.0,
        }
    }
}

impl Default for CriticalTicketRule {
    fn default() -> Self {
        CriticalTicketRule {
            enabled: true,
            open_more_than_days: 7,
            severity: Severity::Warning,
            realert_margin: 1.0,
        }
    }
}

impl Default for SilenceRule {
    fn default() -> Self {
        SilenceRule {
            enabled: true,
            min_touches: 3,
            min_days: 21,
            severity: Severity::Warning,
            realert_margin: 3.0,
        }
    }
}

impl Default for RenewalRule {
    fn default() -> Self {
        RenewalRule {
            enabled: true,
            risk_days: 60,
            risk_health_below: 50,
            risk_severity: Severity::Warning,
            risk_realert_margin: 10.0,
            no_progress_days: 30,
            no_progress_severity: Severity::Critical,
            urgent_days: 7,
        }
    }
}

impl Default for RelationshipRule {
    fn default() -> Self {
        RelationshipRule {
            enabled: true,
            max_age_days: 30,
            sponsor_left_severity: Severity::Critical,
            champion_changed_severity: Severity::Warning,
            competitor_severity: Severity::Warning,
        }
    }
}

impl Default for HelpRequestRule {
    fn default() -> Self {
        HelpRequestRule {
            enabled: true,
            max_age_days: 14,
            severity: Severity::Critical,
        }
    }
}

impl Default for LadderConfig {
    fn default() -> Self {
        LadderConfig {
            manager_from_day: 8,
            vp_from_day: 15,
        }
    }
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig {
            first_response_hours: 4,
            time_zone: Tz::UTC,
            start: ClockTime::hm(9, 0),
            end: ClockTime::hm(18, 0),
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            holidays: Vec::new(),
        }
    }
}

/// The settings could not be read; the message names the problem and the fix.
pub type ConfigParseError = crate::config::SectionParseError;

impl EscalationConfig {
    /// Parses the body of an `[escalation]` section given on its own, such as [`DEFAULT_TOML`].
    pub fn from_section_body(body: &str) -> Result<EscalationConfig, ConfigParseError> {
        crate::config::parse_section("escalation", body)
    }

    /// Every value that parses but makes no sense, as (path, what to do), so a user can fix
    /// the file in one pass. Empty when all is well.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut issues = Vec::new();
        let mut add = |path: &str, message: String| {
            issues.push((format!("escalation.{path}"), message));
        };

        if self.detractor.max_score > 10 {
            add(
                "detractor.max_score",
                format!(
                    "NPS answers run from 0 to 10, so {} cannot be the highest detractor score; \
                     the usual value is 6",
                    self.detractor.max_score
                ),
            );
        }
        if self.health_drop.more_than_points >= 100 {
            add(
                "health_drop.more_than_points",
                "a health score cannot drop by more than 100 points, so this rule would never \
                 fire; use a value below 100, e.g. 20"
                    .to_string(),
            );
        }
        if self.health_drop.window_days == 0 {
            add(
                "health_drop.window_days",
                "the drop is measured over no days at all; use a positive number such as 30"
                    .to_string(),
            );
        }
        if self.usage_drop.more_than_percent >= 100 {
            add(
                "usage_drop.more_than_percent",
                "usage cannot fall by more than 100%, so this rule would never fire; use a value \
                 below 100, e.g. 30"
                    .to_string(),
            );
        }
        if self.silence.min_touches == 0 {
            add(
                "silence.min_touches",
                "silence needs at least one unanswered touch; use a positive number such as 3"
                    .to_string(),
            );
        }
        if self.renewal.risk_health_below > 100 {
            add(
                "renewal.risk_health_below",
                "health scores run from 0 to 100; use a value such as 50".to_string(),
            );
        }
        if self.renewal.urgent_days > self.renewal.no_progress_days {
            add(
                "renewal.urgent_days",
                format!(
                    "the urgent stage ({} days) must fall inside the no-progress window ({} \
                     days); make it smaller, e.g. 7",
                    self.renewal.urgent_days, self.renewal.no_progress_days
                ),
            );
        }
        let margins = [
            ("health_red.realert_margin", self.health_red.realert_margin),
            (
                "health_drop.realert_margin",
                self.health_drop.realert_margin,
            ),
            ("usage_drop.realert_margin", self.usage_drop.realert_margin),
            (
                "critical_ticket.realert_margin",
                self.critical_ticket.realert_margin,
            ),
            ("silence.realert_margin", self.silence.realert_margin),
            (
                "renewal.risk_realert_margin",
                self.renewal.risk_realert_margin,
            ),
        ];
        for (path, margin) in margins {
            if !(margin.is_finite() && margin > 0.0) {
                add(
                    path,
                    format!(
                        "{margin} would post again on every small change; use a positive number"
                    ),
                );
            }
        }
        if self.ladder.manager_from_day < 2 {
            add(
                "ladder.manager_from_day",
                "day 1 belongs to the CSM; bring the manager in on day 2 or later (default 8)"
                    .to_string(),
            );
        }
        if self.ladder.vp_from_day <= self.ladder.manager_from_day {
            add(
                "ladder.vp_from_day",
                format!(
                    "the VP step (day {}) must come after the manager step (day {}); the \
                     default is 15",
                    self.ladder.vp_from_day, self.ladder.manager_from_day
                ),
            );
        }
        if self.sla.first_response_hours == 0 {
            add(
                "sla.first_response_hours",
                "a first response in zero hours cannot be met; use a positive number such as 4"
                    .to_string(),
            );
        }
        if self.sla.end <= self.sla.start {
            add(
                "sla.end",
                format!(
                    "the working day ends ({}) before it starts ({}); set `end` later than \
                     `start`, e.g. start = \"09:00\", end = \"18:00\"",
                    String::from(self.sla.end),
                    String::from(self.sla.start)
                ),
            );
        }
        if self.sla.days.is_empty() {
            add(
                "sla.days",
                "no working days are listed; add at least one, e.g. days = [\"Mon\", \"Tue\"]"
                    .to_string(),
            );
        }
        issues
    }
}
