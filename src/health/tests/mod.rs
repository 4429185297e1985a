//! Unit tests of the health core, one file per concern. Shared fixtures live here.

mod categories;
mod components;
mod config;
mod explanations;
mod props;
mod rules;
mod trend;
mod weighted;

use super::*;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 6, 1, 12, 0, 0).unwrap()
}

fn days_ago(days: i64) -> DateTime<Utc> {
    now() - TimeDelta::days(days)
}

fn nothing() -> HealthInput {
    HealthInput::empty(now())
}

fn rule_model() -> HealthConfig {
    HealthConfig {
        model: ModelKind::Rules,
        ..HealthConfig::default()
    }
}

/// An established account where everything looks good.
fn thriving() -> HealthInput {
    HealthInput {
        now: now(),
        days_since_day_zero: Some(200),
        usage: UsageFacts {
            active_users: Some(18),
            licences: Some(20),
            login_days_last_30: Some(22),
            feature_adoption: Some(0.7),
            active_users_30_days_ago: Some(17),
        },
        engagement: EngagementFacts {
            touches_sent_90d: Some(10),
            touches_answered_90d: Some(8),
            read_unanswered_early: Some(0),
            recent_checkins_answered: vec![true, true, true, true],
            nps_answers_90d: Some(1),
            unreachable_contacts: Some(0),
            opted_out_contacts: Some(0),
        },
        support: SupportFacts {
            tickets_last_30d: Some(2),
            tickets_prior_30d: Some(3),
            critical_open_since: Some(vec![]),
            csat_avg_90d: Some(5.0),
        },
        payments: PaymentFacts {
            on_time_6m: Some(6),
            late_6m: Some(0),
        },
        outcomes: OutcomeFacts {
            goals_set: Some(4),
            goals_met: Some(4),
        },
        relationship: RelationshipFacts {
            active_contacts: Some(4),
            executive_sponsor: Some(true),
            champion: Some(true),
            last_nps: Some(NpsAnswer {
                score: 10,
                at: days_ago(20),
            }),
        },
    }
}

fn part<'a>(health: &'a HealthScore, name: &str) -> &'a ComponentScore {
    health
        .components
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no component {name} in {health:#?}"))
}

/// The value of one component of the default weighted model.
fn value_of(input: &HealthInput, name: &str) -> Option<u8> {
    part(&score(input, &HealthConfig::default()), name).value
}

fn explanation_of(input: &HealthInput, name: &str) -> String {
    part(&score(input, &HealthConfig::default()), name)
        .explanation
        .clone()
}
