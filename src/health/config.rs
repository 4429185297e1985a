//! The health model's settings. Every weight, band and point value is data, so a team can tune
//! the model to its own playbook. The defaults live twice, as Rust values and as the commented
//! `default.toml` users copy; a test keeps the two equal.

use serde::{Deserialize, Serialize};

/// The body of the `[health]` section, as shipped. Sub-tables carry their full path
/// (`[health.weights]`), so the text belongs right below a `[health]` header.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    pub model: ModelKind,
    /// A critical ticket open longer than this many days counts as overdue (both models).
    pub critical_overdue_days: u32,
    /// An NPS answer older than this many days no longer describes the relationship.
    pub nps_max_age_days: u32,
    pub bands: Bands,
    pub weights: Weights,
    pub onboarding: Onboarding,
    pub usage: UsageRules,
    pub engagement: EngagementRules,
    pub support: SupportRules,
    pub relationship: RelationshipRules,
    pub rules: RulePoints,
}

/// Which model turns the facts into a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Components scored 0-100 and combined by weight.
    Weighted,
    /// Points added and taken away by fixed rules, clamped to 0-100.
    Rules,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Weighted => "weighted",
            ModelKind::Rules => "rules",
        }
    }
}

/// Where the categories start: green at `green_from` and above, yellow from `yellow_from`,
/// red below that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bands {
    pub green_from: u8,
    pub yellow_from: u8,
}

/// Relative weights of the components; they need not add up to 100. A weight of 0 leaves the
/// component out of the model entirely.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    pub usage: f64,
    pub engagement: f64,
    pub support: f64,
    pub outcomes: f64,
    pub relationship: f64,
    pub payments: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Onboarding {
    /// The onboarding weights apply while the account is younger than this many days.
    pub days: u32,
    pub weights: Weights,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageRules {
    pub seats_weight: f64,
    pub logins_weight: f64,
    pub adoption_weight: f64,
    /// Active users per licence at or above which seats score 100 (below: proportionally less).
    pub full_seat_share: f64,
    /// Login days out of 30 at or above which logins score 100.
    pub full_login_days: u32,
    /// Feature adoption at or above which adoption scores 100.
    pub full_adoption: f64,
    /// Active users down by more than this share from 30 days ago costs `drop_penalty`.
    pub drop_share: f64,
    pub drop_penalty: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngagementRules {
    pub touches_weight: f64,
    pub checkins_weight: f64,
    /// Share of touches answered at or above which the answer rate scores 100.
    pub full_answer_rate: f64,
    /// How many of the latest check-ins count.
    pub checkins_considered: u32,
    /// Points off per unreachable contact, and per opted-out contact.
    pub unreachable_penalty: u8,
    pub opted_out_penalty: u8,
    /// At most this many points off for unreachable and opted-out contacts together.
    pub max_contact_penalty: u8,
    /// Points on when the client answered at least one NPS survey in the last 90 days.
    pub nps_answer_bonus: u8,
    /// Days after a contact read an asking touch (a WhatsApp read receipt) and left it
    /// unanswered from which it counts as unanswered, before its reply window ends.
    pub read_unanswered_days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupportRules {
    pub volume_weight: f64,
    pub critical_weight: f64,
    pub csat_weight: f64,
    /// Tickets in the last 30 days: fewer than `yellow_from` is green, more than `red_above`
    /// is red, in between yellow.
    pub yellow_from: u32,
    pub red_above: u32,
    pub green_volume_score: u8,
    pub yellow_volume_score: u8,
    pub red_volume_score: u8,
    /// Score of the critical-ticket part when one is open but not yet overdue, and when one is
    /// overdue. None open scores 100.
    pub critical_open_score: u8,
    pub critical_overdue_score: u8,
    /// Tickets up by at least this many against the previous 30 days costs `rising_penalty`.
    pub rising_min_increase: u32,
    pub rising_penalty: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelationshipRules {
    pub contacts_weight: f64,
    pub sponsor_weight: f64,
    pub champion_weight: f64,
    pub nps_weight: f64,
    /// Score by number of active contacts: the first entry for 0 contacts, the next for 1, and
    /// so on; the last entry covers every larger number.
    pub contact_scores: Vec<u8>,
    pub promoter_score: u8,
    pub passive_score: u8,
    pub detractor_score: u8,
}

/// The rule model's points. Negative numbers take points away.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulePoints {
    /// Logged in on more than `login_days_high_above` of the last 30 days.
    pub login_days_high_above: u32,
    pub login_high: i32,
    /// Logged in on at least `login_days_low_from` days (and not above the high mark).
    pub login_days_low_from: u32,
    pub login_low: i32,
    /// Active users above this share of licences.
    pub active_share_above: f64,
    pub active_users: i32,
    pub no_critical: i32,
    pub critical_overdue: i32,
    pub promoter: i32,
    pub detractor: i32,
    /// Every payment of the last 6 months on time.
    pub payments_on_time: i32,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            model: ModelKind::Weighted,
            critical_overdue_days: 7,
            nps_max_age_days: 365,
            bands: Bands::default(),
            weights: Weights::default(),
            onboarding: Onboarding::default(),
            usage: UsageRules::default(),
            engagement: EngagementRules::default(),
            support: SupportRules::default(),
            relationship: RelationshipRules::default(),
            rules: RulePoints::default(),
        }
    }
}

impl Default for Bands {
    fn default() -> Self {
        Bands {
            green_from: 80,
            yellow_from: 50,
        }
    }
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            usage: 30.0,
            engagement: 25.0,
            support: 20.0,
            outcomes: 15.0,
            relationship: 10.0,
            payments: 0.0,
        }
    }
}

impl Default for Onboarding {
    fn default() -> Self {
        // Early on, whether people use the product and talk to us says more than outcomes,
        // which have had no time to show.
        Onboarding {
            days: 90,
            weights: Weights {
                usage: 35.0,
                engagement: 35.0,
                support: 15.0,
                outcomes: 5.0,
                relationship: 10.0,
                payments: 0.0,
            },
        }
    }
}

impl Default for UsageRules {
    fn default() -> Self {
        UsageRules {
            seats_weight: 40.0,
            logins_weight: 40.0,
            adoption_weight: 20.0,
            full_seat_share: 0.8,
            full_login_days: 20,
            full_adoption: 0.6,
            drop_share: 0.3,
            drop_penalty: 20,
        }
    }
}

impl Default for EngagementRules {
    fn default() -> Self {
        EngagementRules {
            touches_weight: 50.0,
            checkins_weight: 50.0,
            full_answer_rate: 0.6,
            checkins_considered: 4,
            unreachable_penalty: 10,
            opted_out_penalty: 10,
            max_contact_penalty: 30,
            nps_answer_bonus: 5,
            read_unanswered_days: 3,
        }
    }
}

impl Default for SupportRules {
    fn default() -> Self {
        SupportRules {
            volume_weight: 40.0,
            critical_weight: 30.0,
            csat_weight: 30.0,
            yellow_from: 5,
            red_above: 10,
            green_volume_score: 100,
            yellow_volume_score: 60,
            red_volume_score: 20,
            critical_open_score: 50,
            critical_overdue_score: 0,
            rising_min_increase: 3,
            rising_penalty: 10,
        }
    }
}

impl Default for RelationshipRules {
    fn default() -> Self {
        RelationshipRules {
            contacts_weight: 40.0,
            sponsor_weight: 20.0,
            champion_weight: 20.0,
            nps_weight: 20.0,
            contact_scores: vec![0, 30, 80, 100],
            promoter_score: 100,
            passive_score: 60,
            detractor_score: 0,
        }
    }
}

impl Default for RulePoints {
    fn default() -> Self {
        RulePoints {
            login_days_high_above: 15,
            login_high: 30,
            login_days_low_from: 5,
            login_low: 15,
            active_share_above: 0.5,
            active_users: 20,
            no_critical: 15,
            critical_overdue: -20,
            promoter: 20,
            detractor: -15,
            payments_on_time: 15,
        }
    }
}

/// The settings could not be read; the message names the problem and the fix.
pub type ConfigParseError = crate::config::SectionParseError;

impl HealthConfig {
    /// Parses the body of a `[health]` section given on its own, such as [`DEFAULT_TOML`].
    pub fn from_section_body(body: &str) -> Result<HealthConfig, ConfigParseError> {
        crate::config::parse_section("health", body)
    }

    /// The component weights for an account this many days past day 0.
    pub fn weights_for(&self, days_since_day_zero: Option<i64>) -> (&Weights, bool) {
        match days_since_day_zero {
            Some(days) if days < i64::from(self.onboarding.days) => {
                (&self.onboarding.weights, true)
            }
            _ => (&self.weights, false),
        }
    }
}

impl Bands {
    pub fn category(&self, score: u8) -> super::Category {
        use super::Category;
        if score >= self.green_from {
            Category::Green
        } else if score >= self.yellow_from {
            Category::Yellow
        } else {
            Category::Red
        }
    }
}
