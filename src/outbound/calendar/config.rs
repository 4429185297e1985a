//! The calendar's settings: every rule, window and limit is data, so a team can change its
//! cadence without a release. The defaults live twice, as Rust values and as the commented
//! `default.toml` users copy; a test keeps the two equal.

use crate::domain::{Segment, TouchKind};
use chrono::{NaiveDate, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The body of the `[calendar]` section, as shipped. Its sub-tables are written with their full
/// path (`[calendar.send_window]`, `[[calendar.rules]]`), so the text belongs right after a
/// `[calendar]` header in a bigger file; [`CalendarConfig::from_section_body`] parses it alone.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    /// How far ahead to plan for an account without a renewal date, counted from day 0.
    pub horizon_days: u32,
    /// A touch whose time passed less than this many days ago is still sent (spread out);
    /// an older one is skipped.
    pub grace_days: u32,
    /// A touch still waiting this many hours after its time (an outage) is re-planned by
    /// these rules before it is sent, rather than sent at once; 0 sends it as it is.
    pub retime_after_hours: u32,
    /// Public holidays, local dates on which nothing is sent.
    pub holidays: Vec<NaiveDate>,
    /// Months (1-12) in which rules with `in_quiet_months = "earlier"` or `"later"` do not land.
    pub quiet_months: Vec<u32>,
    pub send_window: SendWindow,
    pub fatigue: FatigueConfig,
    pub recipients: RecipientConfig,
    pub csat: CsatConfig,
    pub rules: Vec<RuleConfig>,
}

/// The satisfaction survey (1-5) after a support ticket is closed. It is not a rule with a day:
/// each recently closed ticket yields at most one survey, keyed `csat@<ticket>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CsatConfig {
    /// Whether closed tickets are followed by a survey at all.
    pub enabled: bool,
    /// The survey waits this long after the closing, then for the recipient's send window.
    pub delay_minutes: u32,
    /// The survey goes out within this many days of the closing or not at all: older tickets
    /// get none, and one the fatigue limits would push later is dropped.
    pub within_days: u32,
    /// When the ticket does not say who raised it, ask the contact `[calendar.recipients]
    /// csat` picks; with `false` such a ticket gets no survey.
    pub ask_when_raiser_unknown: bool,
    pub template: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SendWindow {
    /// Local time in the recipient's zone; the window is `[start, end)`.
    pub start: ClockTime,
    pub end: ClockTime,
    pub days: Vec<Weekday>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FatigueConfig {
    /// At most one survey (NPS, CSAT) per contact within this many days.
    pub survey_gap_days: u32,
    /// At most this many touches per contact in one ISO week (Monday to Sunday, local).
    pub max_per_week: u32,
    /// Kinds that are dropped, not postponed, when the contact's week is already full.
    pub skip_when_week_full: Vec<TouchKind>,
    /// A touch of the key's kind that falls on the same local day as a touch of one of the
    /// listed kinds for the same person is folded into it (skipped, "merged into ...").
    pub merge_into: BTreeMap<TouchKind, Vec<TouchKind>>,
    /// Highest first. When two touches compete for a day or a week, the higher one keeps it.
    /// Kinds not listed come last.
    pub priority: Vec<TouchKind>,
}

/// Who receives each kind of touch: an ordered list of choices, the first suitable one wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecipientConfig {
    pub welcome: Vec<RecipientChoice>,
    pub checkin: Vec<RecipientChoice>,
    pub nps: Vec<RecipientChoice>,
    pub csat: Vec<RecipientChoice>,
    pub qbr: Vec<RecipientChoice>,
    pub renewal: Vec<RecipientChoice>,
    pub renewal_task: Vec<RecipientChoice>,
    pub task: Vec<RecipientChoice>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientChoice {
    DecisionMaker,
    Champion,
    User,
    /// Any reachable contact, decision makers first.
    AnyContact,
    /// One touch per contact (welcome). Must be the only choice.
    EachContact,
    /// One contact per touch, taking turns across the account (NPS). Must be the only choice.
    Rotation,
    /// The account's CSM (internal tasks). Must be the only choice.
    Csm,
}

impl RecipientChoice {
    /// Whether this choice stands alone rather than being one step of a fallback list.
    pub fn is_exclusive(self) -> bool {
        matches!(
            self,
            RecipientChoice::EachContact | RecipientChoice::Rotation | RecipientChoice::Csm
        )
    }
}

/// What a rule does with a touch that falls in a quiet month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuietMove {
    /// Send it anyway.
    #[default]
    Stay,
    /// Bring it forward to the last working day before the quiet months.
    Earlier,
    /// Push it back to the first working day after the quiet months.
    Later,
}

/// One line of the calendar. Exactly one anchor is set: `day`; `from_day` + `to_day` +
/// `every_days`; or `days_before_renewal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub key: String,
    pub kind: TouchKind,
    pub template: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_day: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_day: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_before_renewal: Option<u32>,
    /// Empty means every segment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<Segment>,
    /// Overrides `[calendar.recipients]` for this rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipients: Option<Vec<RecipientChoice>>,
    #[serde(default)]
    pub in_quiet_months: QuietMove,
}

/// Where a rule puts its touches, once the config is known to be valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// Day N after day 0.
    Day(u32),
    /// Days `from`, `from + every`, ... up to and including `to`.
    Every { from: u32, to: u32, every: u32 },
    /// N days before the renewal date.
    BeforeRenewal(u32),
}

impl RuleConfig {
    /// The rule's anchor, or a description of what is wrong with its anchor fields.
    pub fn anchor(&self) -> Result<Anchor, String> {
        let recurring =
            self.from_day.is_some() || self.to_day.is_some() || self.every_days.is_some();
        let forms = [
            self.day.is_some(),
            recurring,
            self.days_before_renewal.is_some(),
        ];
        if forms.iter().filter(|f| **f).count() != 1 {
            return Err(
                "set exactly one anchor: `day`, or `from_day` + `to_day` + `every_days`, \
                        or `days_before_renewal`"
                    .to_string(),
            );
        }
        if let Some(day) = self.day {
            return Ok(Anchor::Day(day));
        }
        if let Some(days) = self.days_before_renewal {
            return Ok(Anchor::BeforeRenewal(days));
        }
        match (self.from_day, self.to_day, self.every_days) {
            (Some(from), Some(to), Some(every)) => Ok(Anchor::Every { from, to, every }),
            _ => Err(
                "a recurring rule needs all three of `from_day`, `to_day` and `every_days`"
                    .to_string(),
            ),
        }
    }

    pub fn applies_to(&self, segment: Segment) -> bool {
        self.segments.is_empty() || self.segments.contains(&segment)
    }
}

impl RecipientConfig {
    pub fn for_kind(&self, kind: TouchKind) -> &[RecipientChoice] {
        match kind {
            TouchKind::Welcome => &self.welcome,
            TouchKind::Checkin => &self.checkin,
            TouchKind::Nps => &self.nps,
            TouchKind::Csat => &self.csat,
            TouchKind::Qbr => &self.qbr,
            TouchKind::Renewal => &self.renewal,
            TouchKind::RenewalTask => &self.renewal_task,
            TouchKind::Task => &self.task,
        }
    }
}

/// A wall-clock time written `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime(pub NaiveTime);

impl ClockTime {
    pub fn hm(hour: u32, minute: u32) -> ClockTime {
        ClockTime(NaiveTime::from_hms_opt(hour, minute, 0).expect("a valid time of day"))
    }
}

impl TryFrom<String> for ClockTime {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        NaiveTime::parse_from_str(text.trim(), "%H:%M")
            .map(ClockTime)
            .map_err(|_| {
                format!("'{text}' is not a time of day; write it as HH:MM, e.g. \"10:00\"")
            })
    }
}

impl From<ClockTime> for String {
    fn from(time: ClockTime) -> String {
        time.0.format("%H:%M").to_string()
    }
}

/// The settings could not be read; the message names the problem and the fix.
pub type ConfigParseError = crate::config::SectionParseError;

impl CalendarConfig {
    /// The messages sent to clients (not the CSM's reminders), each once with its kind, in
    /// the calendar's order: what WhatsApp templates are registered for.
    pub fn client_messages(&self) -> Vec<(String, TouchKind)> {
        let rules = self.rules.iter().map(|r| (r.template.as_str(), r.kind));
        let csat = self
            .csat
            .enabled
            .then_some((self.csat.template.as_str(), TouchKind::Csat));
        let mut out: Vec<(String, TouchKind)> = Vec::new();
        for (template, kind) in rules.chain(csat) {
            if !kind.is_internal() && !out.iter().any(|(t, _)| t == template) {
                out.push((template.to_string(), kind));
            }
        }
        out
    }

    /// Parses the body of a `[calendar]` section given on its own, such as [`DEFAULT_TOML`].
    pub fn from_section_body(body: &str) -> Result<CalendarConfig, ConfigParseError> {
        crate::config::parse_section("calendar", body)
    }

    pub fn priority_rank(&self, kind: TouchKind) -> usize {
        self.fatigue
            .priority
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(self.fatigue.priority.len())
    }

    pub fn merges_into(&self, kind: TouchKind, other: TouchKind) -> bool {
        self.fatigue
            .merge_into
            .get(&kind)
            .is_some_and(|into| into.contains(&other))
    }

    pub fn recipients_for<'a>(&'a self, rule: &'a RuleConfig) -> &'a [RecipientChoice] {
        rule.recipients
            .as_deref()
            .unwrap_or_else(|| self.recipients.for_kind(rule.kind))
    }
}

impl Default for SendWindow {
    fn default() -> Self {
        SendWindow {
            start: ClockTime::hm(10, 0),
            end: ClockTime::hm(19, 0),
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
        }
    }
}

impl Default for FatigueConfig {
    fn default() -> Self {
        use TouchKind::*;
        FatigueConfig {
            survey_gap_days: 30,
            max_per_week: 3,
            skip_when_week_full: vec![Checkin],
            merge_into: BTreeMap::from([
                (Checkin, vec![Nps, Csat, Renewal, Qbr]),
                (Renewal, vec![Renewal]),
                (RenewalTask, vec![RenewalTask]),
            ]),
            priority: vec![Renewal, Welcome, Nps, Csat, Qbr, Checkin, RenewalTask, Task],
        }
    }
}

impl Default for RecipientConfig {
    fn default() -> Self {
        use RecipientChoice::*;
        RecipientConfig {
            welcome: vec![EachContact],
            checkin: vec![Champion, DecisionMaker, AnyContact],
            nps: vec![Rotation],
            // Only when the ticket does not say who raised it: the champion is the
            // day-to-day user most likely to have dealt with support.
            csat: vec![Champion, DecisionMaker, AnyContact],
            qbr: vec![Champion, DecisionMaker, AnyContact],
            renewal: vec![DecisionMaker],
            renewal_task: vec![Csm],
            task: vec![Csm],
        }
    }
}

impl Default for CalendarConfig {
    fn default() -> Self {
        CalendarConfig {
            horizon_days: 365,
            grace_days: 3,
            retime_after_hours: 3,
            holidays: Vec::new(),
            quiet_months: vec![7, 8],
            send_window: SendWindow::default(),
            fatigue: FatigueConfig::default(),
            recipients: RecipientConfig::default(),
            csat: CsatConfig::default(),
            rules: default_rules(),
        }
    }
}

impl Default for CsatConfig {
    fn default() -> Self {
        CsatConfig {
            enabled: true,
            delay_minutes: 60,
            within_days: 7,
            ask_when_raiser_unknown: true,
            template: "csat".to_string(),
        }
    }
}

fn rule(key: &str, kind: TouchKind, template: &str) -> RuleConfig {
    RuleConfig {
        key: key.to_string(),
        kind,
        template: template.to_string(),
        day: None,
        from_day: None,
        to_day: None,
        every_days: None,
        days_before_renewal: None,
        segments: Vec::new(),
        recipients: None,
        in_quiet_months: QuietMove::Stay,
    }
}

impl RuleConfig {
    fn on_day(mut self, day: u32) -> Self {
        self.day = Some(day);
        self
    }
    fn every(mut self, from: u32, to: u32, every: u32) -> Self {
        (self.from_day, self.to_day, self.every_days) = (Some(from), Some(to), Some(every));
        self
    }
    fn before_renewal(mut self, days: u32) -> Self {
        self.days_before_renewal = Some(days);
        self
    }
    fn only(mut self, segments: &[Segment]) -> Self {
        self.segments = segments.to_vec();
        self
    }
    fn quiet(mut self, quiet: QuietMove) -> Self {
        self.in_quiet_months = quiet;
        self
    }
}

fn default_rules() -> Vec<RuleConfig> {
    use QuietMove::{Earlier, Later};
    use Segment::{Enterprise, MidMarket, Smb};
    use TouchKind::*;
    vec![
        rule("welcome", Welcome, "welcome").on_day(0),
        rule("checkin-week-1", Checkin, "checkin-week-1").on_day(7),
        rule("checkin-week-2", Checkin, "checkin-week-2").on_day(14),
        rule("checkin-week-3", Checkin, "checkin-week-3").on_day(21),
        rule("checkin-week-4", Checkin, "checkin-week-4").on_day(28),
        rule("checkpoint-30", Task, "task-checkpoint-30").on_day(30),
        rule("results-review-90", Task, "task-review-90").on_day(90),
        rule("nps-30", Nps, "nps").on_day(30),
        rule("nps-90", Nps, "nps").on_day(90),
        rule("nps-180", Nps, "nps").on_day(180),
        rule("checkin-biweekly", Checkin, "checkin")
            .every(90, 179, 14)
            .only(&[MidMarket]),
        rule("checkin-monthly", Checkin, "checkin")
            .every(180, 270, 30)
            .only(&[MidMarket]),
        rule("checkin-enterprise", Checkin, "checkin")
            .every(90, 270, 14)
            .only(&[Enterprise]),
        rule("checkin-smb", Checkin, "checkin")
            .every(90, 270, 30)
            .only(&[Smb]),
        rule("qbr-quarterly", Qbr, "qbr")
            .every(90, 365, 91)
            .only(&[Enterprise])
            .quiet(Later),
        rule("qbr-half-yearly", Qbr, "qbr")
            .every(180, 365, 182)
            .only(&[MidMarket])
            .quiet(Later),
        rule("task-renewal-120", RenewalTask, "task-renewal-120")
            .before_renewal(120)
            .quiet(Earlier),
        rule("task-renewal-90", RenewalTask, "task-renewal-90")
            .before_renewal(90)
            .quiet(Earlier),
        rule("task-renewal-60", RenewalTask, "task-renewal-60")
            .before_renewal(60)
            .quiet(Earlier),
        rule("task-renewal-30", RenewalTask, "task-renewal-30").before_renewal(30),
        rule("task-renewal-7", RenewalTask, "task-renewal-7").before_renewal(7),
        rule("renewal-90", Renewal, "renewal-90")
            .before_renewal(90)
            .quiet(Earlier),
        rule("renewal-60", Renewal, "renewal-60")
            .before_renewal(60)
            .quiet(Earlier),
        rule("renewal-30", Renewal, "renewal-30").before_renewal(30),
        rule("renewal-7", Renewal, "renewal-7").before_renewal(7),
    ]
}
