//! Revenue retention from the payments an integrator feeds (`payment_on_time` and
//! `payment_late` signals carrying the amount paid).
//!
//! The model: compare the last 12 months with the 12 months before, for the accounts that paid
//! something in the earlier year (the cohort). Accounts that first paid in the last 12 months
//! are new business and stay out.
//! - NRR = the cohort's revenue in the last 12 months / its revenue in the earlier year.
//!   Expansion counts, so it can exceed 100%.
//! - GRR = the same with each account capped at its earlier revenue: only what was kept
//!   counts, so it never exceeds 100%.
//!
//! A churned account counts as 0 for the last 12 months even if it paid in them: it is gone,
//! and its last invoices would hide that for up to a year.
//!
//! Both need a payment history reaching back to the start of the earlier year. If the first
//! amount on record is more than [`HISTORY_TOLERANCE_DAYS`] after that start, the earlier year
//! is only partly known and the ratio would overstate retention, so no figure is given.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Months, TimeDelta, Utc};
use serde::Serialize;

use super::facts::{AccountFacts, Payment};
use crate::domain::AccountId;

/// How late after the start of the earlier year the first recorded payment may be: a monthly
/// invoice paid at the end of the first month still counts as a history from the start.
pub const HISTORY_TOLERANCE_DAYS: i64 = 31;

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Retention {
    Measured {
        /// Net revenue retention, as a ratio (1.1 = 110%).
        nrr: f64,
        /// Gross revenue retention, as a ratio, at most 1.
        grr: f64,
        /// Accounts in the cohort.
        accounts: usize,
        /// The cohort's revenue in the earlier year and in the last 12 months.
        before_cents: i64,
        now_cents: i64,
    },
    NotEnoughData {
        reason: NoRetention,
    },
}

/// Why there is no retention figure.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoRetention {
    /// No payment carries an amount.
    NoAmounts,
    /// Amounts start after the beginning of the earlier year.
    ShortHistory,
    /// Nobody paid anything in the earlier year.
    NoEarlierRevenue,
}

impl NoRetention {
    /// What is missing, in words for the person reading the status.
    pub fn explain(self) -> &'static str {
        match self {
            NoRetention::NoAmounts => "no payment has an amount recorded",
            NoRetention::ShortHistory => "payment amounts go back less than two years",
            NoRetention::NoEarlierRevenue => "no account paid anything 13 to 24 months ago",
        }
    }
}

impl Retention {
    pub fn ratios(&self) -> Option<(f64, f64)> {
        match self {
            Retention::Measured { nrr, grr, .. } => Some((*nrr, *grr)),
            Retention::NotEnoughData { .. } => None,
        }
    }
}

/// Retention at `now` of `accounts`, from `payments` (only those of these accounts count).
pub fn retention<'a>(
    accounts: impl IntoIterator<Item = &'a AccountFacts>,
    payments: impl IntoIterator<Item = &'a Payment>,
    now: DateTime<Utc>,
) -> Retention {
    let accounts: Vec<&AccountFacts> = accounts.into_iter().collect();
    let in_scope: HashSet<AccountId> = accounts.iter().map(|a| a.id).collect();
    retention_among(
        accounts,
        payments
            .into_iter()
            .filter(|p| in_scope.contains(&p.account)),
        now,
    )
}

/// As [`retention`], from `payments` of these accounts only: a scope's share of the facts is
/// split by account already, so no set of its accounts is built again.
pub(super) fn retention_among<'a>(
    accounts: impl IntoIterator<Item = &'a AccountFacts>,
    payments: impl IntoIterator<Item = &'a Payment>,
    now: DateTime<Utc>,
) -> Retention {
    let year_ago = now
        .checked_sub_months(Months::new(12))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let two_years_ago = now
        .checked_sub_months(Months::new(24))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);

    let mut churned = HashSet::new();
    let mut first_payment: Option<DateTime<Utc>> = None;
    for a in accounts {
        if !a.is_served() {
            churned.insert(a.id);
        }
        first_payment = match (first_payment, a.first_payment_at) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
    }
    let Some(first_payment) = first_payment else {
        return not_enough(NoRetention::NoAmounts);
    };
    if first_payment > two_years_ago + TimeDelta::days(HISTORY_TOLERANCE_DAYS) {
        return not_enough(NoRetention::ShortHistory);
    }

    // (earlier year, last 12 months) per account, in cents.
    let mut revenue: HashMap<AccountId, (i64, i64)> = HashMap::new();
    for p in payments {
        if p.paid_at > now || p.paid_at <= two_years_ago {
            continue;
        }
        let entry = revenue.entry(p.account).or_default();
        if p.paid_at <= year_ago {
            entry.0 = entry.0.saturating_add(p.amount_cents);
        } else if !churned.contains(&p.account) {
            entry.1 = entry.1.saturating_add(p.amount_cents);
        }
    }
    let (mut before, mut kept, mut after, mut cohort) = (0i64, 0i64, 0i64, 0usize);
    for (earlier, last) in revenue.values().filter(|(earlier, _)| *earlier > 0) {
        cohort += 1;
        before = before.saturating_add(*earlier);
        after = after.saturating_add(*last);
        kept = kept.saturating_add((*last).min(*earlier));
    }
    if before == 0 {
        return not_enough(NoRetention::NoEarlierRevenue);
    }
    Retention::Measured {
        nrr: after as f64 / before as f64,
        grr: kept as f64 / before as f64,
        accounts: cohort,
        before_cents: before,
        now_cents: after,
    }
}

fn not_enough(reason: NoRetention) -> Retention {
    Retention::NotEnoughData { reason }
}
