use chrono::NaiveDate;

use super::{account, scored};
use crate::domain::AccountLifecycle;
use crate::health::Category;
use crate::metrics::{AccountFacts, renewals_ahead};

fn renewing(id: i64, name: &str, days: i64) -> AccountFacts {
    let mut a = account(id, name);
    a.renewal_date =
        Some(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap() + chrono::Days::new(days.max(0) as u64));
    a.days_to_renewal = Some(days);
    a
}

#[test]
fn renewals_from_today_to_the_horizon_are_listed_soonest_first_with_their_health() {
    let mut paused = renewing(5, "Paused", 10);
    paused.lifecycle = AccountLifecycle::Paused;
    let accounts = [
        scored(renewing(1, "Later", 120), 40, None),
        renewing(2, "Today", 0),
        renewing(3, "Too late", 121),
        renewing(4, "Passed", -1),
        paused,
        scored(renewing(6, "Soon", 30), 85, None),
        account(7, "No date"),
    ];
    let r = renewals_ahead(&accounts, 120);
    let seen: Vec<(&str, i64, Option<u8>, Option<Category>)> = r
        .iter()
        .map(|a| (a.name.as_str(), a.days, a.health, a.category))
        .collect();
    assert_eq!(
        seen,
        [
            ("Today", 0, None, None),
            ("Soon", 30, Some(85), Some(Category::Green)),
            ("Later", 120, Some(40), Some(Category::Red)),
        ]
    );
}

#[test]
fn renewals_on_the_same_day_under_the_same_name_are_listed_by_account_whatever_order_they_come_in()
{
    let accounts = [
        renewing(9, "Acme", 5),
        renewing(3, "acme", 5),
        renewing(4, "Acme", 5),
        renewing(1, "Zeta", 2),
    ];
    let ids: Vec<i64> = renewals_ahead(&accounts, 120)
        .iter()
        .map(|r| r.account.0)
        .collect();
    assert_eq!(ids, vec![1, 4, 9, 3]);
}
