//! Unit tests of the escalation core, one file per part, named as sentences a CSM would
//! agree with.

mod config;
mod dedup;
mod ladder;
mod lifecycle;
mod rules;
mod sla;

use super::input::{AccountState, ContactRef, HealthCategory, HealthState, NpsAnswer};
use crate::domain::ContactId;
use chrono::{DateTime, Duration, TimeZone, Utc};

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

/// A fixed "now" for the rule tests: Wednesday 2027-06-16, 12:00 UTC.
fn now() -> DateTime<Utc> {
    utc(2027, 6, 16, 12, 0)
}

fn days_ago(days: i64) -> DateTime<Utc> {
    now() - Duration::days(days)
}

fn maria() -> ContactRef {
    ContactRef {
        id: ContactId(11),
        name: "Maria".to_string(),
    }
}

fn nps(score: u8, comment: Option<&str>) -> NpsAnswer {
    NpsAnswer {
        score,
        comment: comment.map(str::to_string),
        answered_at: days_ago(1),
        contact: maria(),
        already_escalated: false,
    }
}

/// A yellow account at 65 with a flat history and nothing else going on.
fn calm() -> AccountState {
    AccountState {
        health: HealthState {
            score: Some(65),
            category: Some(HealthCategory::Yellow),
            previous_category: Some(HealthCategory::Yellow),
            history: vec![(days_ago(20), 65), (days_ago(10), 66), (days_ago(1), 65)],
        },
        ..AccountState::default()
    }
}
