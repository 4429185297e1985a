//! What the scorer knows about one account at one instant. Built elsewhere from the database;
//! here every fact is optional, because a missing fact must stay visibly missing rather than
//! count as zero.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// The facts about one account at `now`. `HealthInput::default()` (with a `now`) means "we
/// know nothing", which scores as "not enough data".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthInput {
    /// The instant the facts describe; ages (of tickets, of the last NPS) are measured from it.
    pub now: DateTime<Utc>,
    /// Whole days since the account's day 0; chooses the onboarding profile while it is young.
    pub days_since_day_zero: Option<i64>,
    pub usage: UsageFacts,
    pub engagement: EngagementFacts,
    pub support: SupportFacts,
    pub payments: PaymentFacts,
    pub outcomes: OutcomeFacts,
    pub relationship: RelationshipFacts,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageFacts {
    /// People who used the product in the last 30 days.
    pub active_users: Option<u32>,
    /// Seats the client paid for.
    pub licences: Option<u32>,
    /// Days out of the last 30 on which anyone at the account logged in.
    pub login_days_last_30: Option<u32>,
    /// Share of the product's key features in use, 0.0 to 1.0.
    pub feature_adoption: Option<f64>,
    /// `active_users` as it was 30 days before `now`, for the usage trend.
    pub active_users_30_days_ago: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngagementFacts {
    /// Client-facing touches sent in the last 90 days.
    pub touches_sent_90d: Option<u32>,
    /// How many of those got an answer.
    pub touches_answered_90d: Option<u32>,
    /// Asking touches still inside their reply window that the contact read at least
    /// `read_unanswered_days` ago and has not answered (only WhatsApp reports reads). Not
    /// part of `touches_sent_90d`.
    #[serde(default)]
    pub read_unanswered_early: Option<u32>,
    /// The latest check-ins, most recent first: `true` when answered. Empty means unknown.
    pub recent_checkins_answered: Vec<bool>,
    /// NPS surveys answered in the last 90 days.
    pub nps_answers_90d: Option<u32>,
    /// Contacts the bot can no longer reach (blocked, number gone).
    pub unreachable_contacts: Option<u32>,
    /// Contacts who asked to receive no more messages.
    pub opted_out_contacts: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SupportFacts {
    pub tickets_last_30d: Option<u32>,
    /// Tickets opened in the 30 days before that, for the trend.
    pub tickets_prior_30d: Option<u32>,
    /// When each critical ticket that is still open was opened. `Some(vec![])` means "none
    /// open"; `None` means we do not know.
    pub critical_open_since: Option<Vec<DateTime<Utc>>>,
    /// Average CSAT (1-5) over the last 90 days.
    pub csat_avg_90d: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentFacts {
    /// Invoices paid on time in the last 6 months.
    pub on_time_6m: Option<u32>,
    /// Invoices paid late (or still overdue) in the last 6 months.
    pub late_6m: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutcomeFacts {
    pub goals_set: Option<u32>,
    pub goals_met: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RelationshipFacts {
    /// Contacts at the client who are reachable and have not opted out.
    pub active_contacts: Option<u32>,
    /// Whether someone at the executive level backs the account; `None` when not recorded.
    pub executive_sponsor: Option<bool>,
    pub champion: Option<bool>,
    pub last_nps: Option<NpsAnswer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NpsAnswer {
    /// 0-10.
    pub score: u8,
    pub at: DateTime<Utc>,
}

/// The three NPS groups: 9-10, 7-8, 0-6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpsBand {
    Promoter,
    Passive,
    Detractor,
}

impl NpsBand {
    pub fn of(score: u8) -> NpsBand {
        match score {
            9.. => NpsBand::Promoter,
            7..=8 => NpsBand::Passive,
            _ => NpsBand::Detractor,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NpsBand::Promoter => "promoter",
            NpsBand::Passive => "passive",
            NpsBand::Detractor => "detractor",
        }
    }
}

impl HealthInput {
    /// Nothing known yet, at `now`.
    pub fn empty(now: DateTime<Utc>) -> HealthInput {
        HealthInput {
            now,
            ..HealthInput::default()
        }
    }

    /// The last NPS answer if it is recent enough to still describe the relationship.
    pub(crate) fn fresh_nps(&self, max_age_days: u32) -> Option<NpsAnswer> {
        self.relationship
            .last_nps
            .filter(|nps| self.now - nps.at <= TimeDelta::days(i64::from(max_age_days)))
    }

    /// How long each open critical ticket has been open, oldest first.
    pub(crate) fn critical_ages(&self) -> Option<Vec<TimeDelta>> {
        self.support.critical_open_since.as_ref().map(|since| {
            let mut ages: Vec<TimeDelta> = since.iter().map(|at| self.now - *at).collect();
            ages.sort_unstable_by(|a, b| b.cmp(a));
            ages
        })
    }
}
