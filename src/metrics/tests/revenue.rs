use chrono::{DateTime, Months, TimeDelta, Utc};

use super::{account, churned, days_ago, now};
use crate::domain::AccountId;
use crate::metrics::{AccountFacts, NoRetention, Payment, Retention, retention};

fn months_ago(n: u32) -> DateTime<Utc> {
    now().checked_sub_months(Months::new(n)).unwrap()
}

fn paid(account: i64, at: DateTime<Utc>, units: i64) -> Payment {
    Payment {
        account: AccountId(account),
        paid_at: at,
        amount_cents: units * 100,
    }
}

/// Accounts whose first payment is the earliest of `payments`, as the loader reads it.
fn with_history(mut accounts: Vec<AccountFacts>, payments: &[Payment]) -> Vec<AccountFacts> {
    for a in &mut accounts {
        a.first_payment_at = payments
            .iter()
            .filter(|p| p.account == a.id)
            .map(|p| p.paid_at)
            .min();
    }
    accounts
}

fn ratios(r: &Retention) -> (i64, i64) {
    let (nrr, grr) = r.ratios().unwrap_or_else(|| panic!("no figure: {r:?}"));
    ((nrr * 1000.0).round() as i64, (grr * 1000.0).round() as i64)
}

#[test]
fn payments_without_amounts_give_no_figure() {
    let accounts = [account(1, "A"), account(2, "B")];
    assert_eq!(
        retention(&accounts, &[], now()),
        Retention::NotEnoughData {
            reason: NoRetention::NoAmounts
        }
    );
}

#[test]
fn a_history_shorter_than_two_years_gives_no_figure() {
    let payments = [paid(1, months_ago(22), 1000), paid(1, months_ago(2), 1000)];
    let accounts = with_history(vec![account(1, "A")], &payments);
    assert_eq!(
        retention(&accounts, &payments, now()),
        Retention::NotEnoughData {
            reason: NoRetention::ShortHistory
        }
    );
}

#[test]
fn a_first_payment_within_a_month_of_the_earlier_years_start_is_history_enough() {
    let start = months_ago(24);
    let payments = [
        paid(1, start + TimeDelta::days(31), 1000),
        paid(1, months_ago(6), 1000),
    ];
    let accounts = with_history(vec![account(1, "A")], &payments);
    assert_eq!(
        ratios(&retention(&accounts, &payments, now())),
        (1000, 1000)
    );

    let late = [paid(1, start + TimeDelta::days(32), 1000)];
    let accounts = with_history(vec![account(1, "A")], &late);
    assert!(matches!(
        retention(&accounts, &late, now()),
        Retention::NotEnoughData {
            reason: NoRetention::ShortHistory
        }
    ));
}

#[test]
fn zero_revenue_in_the_earlier_year_gives_no_figure_instead_of_dividing_by_zero() {
    // Paid 0 in the earlier year, and real money only since.
    let payments = [paid(1, months_ago(23), 0), paid(1, months_ago(3), 500)];
    let accounts = with_history(vec![account(1, "A")], &payments);
    assert_eq!(
        retention(&accounts, &payments, now()),
        Retention::NotEnoughData {
            reason: NoRetention::NoEarlierRevenue
        }
    );
}

#[test]
fn expansion_lifts_nrr_above_100_but_grr_counts_only_what_was_kept() {
    let payments = [
        // A grew from 1000 to 1500; B shrank from 1000 to 800; C stopped paying.
        paid(1, months_ago(23), 1000),
        paid(1, months_ago(6), 1500),
        paid(2, months_ago(18), 600),
        paid(2, months_ago(14), 400),
        paid(2, months_ago(1), 800),
        paid(3, months_ago(20), 1000),
        // D is new business: it paid only in the last 12 months and stays out.
        paid(4, months_ago(2), 5000),
    ];
    let accounts = with_history(
        vec![
            account(1, "A"),
            account(2, "B"),
            account(3, "C"),
            account(4, "D"),
        ],
        &payments,
    );
    let r = retention(&accounts, &payments, now());
    // NRR = (1500 + 800 + 0) / 3000; GRR = (1000 + 800 + 0) / 3000.
    assert_eq!(ratios(&r), (767, 600));
    assert!(matches!(
        r,
        Retention::Measured {
            accounts: 3,
            before_cents: 300_000,
            now_cents: 230_000,
            ..
        }
    ));
}

#[test]
fn a_churned_account_counts_as_zero_even_if_it_paid_this_year() {
    let payments = [
        paid(1, months_ago(23), 1000),
        paid(1, months_ago(2), 1000),
        paid(2, months_ago(23), 1000),
        paid(2, months_ago(11), 1000),
    ];
    let accounts = with_history(
        vec![account(1, "A"), churned(account(2, "Gone"))],
        &payments,
    );
    assert_eq!(ratios(&retention(&accounts, &payments, now())), (500, 500));
}

#[test]
fn payments_are_split_at_exactly_twelve_months_and_older_than_two_years_are_ignored() {
    let payments = [
        paid(1, months_ago(24), 9000), // the instant the earlier year starts: not in it
        paid(1, months_ago(24) + TimeDelta::seconds(1), 1000),
        paid(1, months_ago(12), 1000), // the earlier year's last instant
        paid(1, months_ago(12) + TimeDelta::seconds(1), 1000),
        paid(1, days_ago(-1), 5000), // not paid yet at `now`
    ];
    let accounts = with_history(vec![account(1, "A")], &payments);
    let r = retention(&accounts, &payments, now());
    assert!(
        matches!(
            r,
            Retention::Measured {
                before_cents: 200_000,
                now_cents: 100_000,
                ..
            }
        ),
        "{r:?}"
    );
}

#[test]
fn only_the_payments_of_the_accounts_in_scope_count() {
    let payments = [
        paid(1, months_ago(23), 1000),
        paid(1, months_ago(1), 1000),
        paid(2, months_ago(23), 1000),
    ];
    let accounts = with_history(vec![account(1, "Mine")], &payments);
    assert_eq!(
        ratios(&retention(&accounts, &payments, now())),
        (1000, 1000)
    );
}
