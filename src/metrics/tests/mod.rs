//! Unit tests of the metrics core: every figure from hand-built facts, with their edges.

mod compute;
mod escalations;
mod health;
mod nps;
mod renewals;
mod response;
mod revenue;
mod text;
mod weekly;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::facts::{AccountFacts, HealthNow};
use crate::domain::{AccountId, AccountLifecycle, StaffId};
use crate::health::Category;

/// Monday 2 March 2026, 09:00 UTC.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn days_ago(n: i64) -> DateTime<Utc> {
    now() - TimeDelta::days(n)
}

/// An active account, not scored, without a CSM or a renewal date (the status tests use it too).
pub(crate) fn account(id: i64, name: &str) -> AccountFacts {
    AccountFacts {
        id: AccountId(id),
        name: name.into(),
        csm: None,
        lifecycle: AccountLifecycle::Active,
        renewal_date: None,
        days_to_renewal: None,
        health: None,
        first_payment_at: None,
    }
}

fn scored(mut a: AccountFacts, score: u8, change_30d: Option<i32>) -> AccountFacts {
    let category = match score {
        80.. => Category::Green,
        50..=79 => Category::Yellow,
        _ => Category::Red,
    };
    a.health = Some(HealthNow {
        score: Some(score),
        category: Some(category),
        change_30d,
    });
    a
}

fn owned(mut a: AccountFacts, csm: i64) -> AccountFacts {
    a.csm = Some(StaffId(csm));
    a
}

fn churned(mut a: AccountFacts) -> AccountFacts {
    a.lifecycle = AccountLifecycle::Churned;
    a
}
