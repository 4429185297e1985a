//! Renewals coming up, with the health of each account: a manager plans the next months'
//! renewal calls from this list, soonest first. Only active accounts renew;
//! "today" is read in each account's own time zone.

use chrono::NaiveDate;
use serde::Serialize;

use super::facts::AccountFacts;
use crate::domain::{AccountId, AccountLifecycle};
use crate::health::Category;

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RenewalAhead {
    pub account: AccountId,
    pub name: String,
    pub date: NaiveDate,
    /// 0 when the renewal is today.
    pub days: i64,
    pub health: Option<u8>,
    pub category: Option<Category>,
}

/// Active accounts renewing within `days` days (today included), soonest first.
pub fn renewals_ahead<'a>(
    accounts: impl IntoIterator<Item = &'a AccountFacts>,
    days: i64,
) -> Vec<RenewalAhead> {
    let mut out: Vec<RenewalAhead> = accounts
        .into_iter()
        .filter(|a| a.lifecycle == AccountLifecycle::Active)
        .filter_map(|a| {
            let (date, left) = (a.renewal_date?, a.days_to_renewal?);
            (0..=days).contains(&left).then(|| RenewalAhead {
                account: a.id,
                name: a.name.clone(),
                date,
                days: left,
                health: a.health.and_then(|h| h.score),
                category: a.health.and_then(|h| h.category),
            })
        })
        .collect();
    // The id last: the accounts come in no particular order, and the list must not follow it.
    out.sort_unstable_by(|a, b| {
        (a.days, &a.name, a.account.0).cmp(&(b.days, &b.name, b.account.0))
    });
    out
}
