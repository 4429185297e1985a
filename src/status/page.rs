//! Which accounts the portfolio lists under its figures. A hundred thousand rows cannot be
//! read in a terminal or a chat, so by default it lists the first page of the accounts that
//! most need attention; `--all` (and `GET /api/v1/accounts`, paged) give every account.
//!
//! The order, from the facts the figures already read:
//! 1. red, then yellow, then accounts without a score, then green; churned ones last;
//! 2. within each, the biggest fall of the score over 30 days first (no comparison counts as
//!    no move);
//! 3. then the lowest score;
//! 4. then the nearest renewal ahead (none, or passed, last);
//! 5. then by name.

use serde::Serialize;

use crate::health::Category;
use crate::metrics::AccountFacts;

/// Accounts listed under the figures unless asked for every one.
pub const FIRST_PAGE: usize = 25;

/// What the portfolio lists under its figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// The first this many accounts in the order of attention.
    First(usize),
    /// Every account, by name.
    All,
}

/// How the listed accounts are ordered, as the JSON says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountOrder {
    /// Those that most need attention first (red, yellow, unscored, green; the biggest fall,
    /// the lowest score, the nearest renewal; then the name).
    Attention,
    Name,
}

/// The ids of the first `n` accounts in the order of attention, in that order.
pub fn first_to_look_at(accounts: &[AccountFacts], n: usize) -> Vec<i64> {
    if n == 0 {
        return Vec::new();
    }
    let mut all: Vec<(Rank, &AccountFacts)> = accounts.iter().map(|a| (rank(a), a)).collect();
    // Only the page is sorted by name: an account ranked after the n-th rank cannot be on it,
    // so the names compared are those of the page and its ties, not the portfolio's.
    if all.len() > n {
        let (_, nth, _) = all.select_nth_unstable_by_key(n - 1, |(r, _)| *r);
        let last = nth.0;
        all.retain(|(r, _)| *r <= last);
    }
    all.sort_unstable_by(|(ra, a), (rb, b)| {
        ra.cmp(rb)
            .then_with(|| lowercase(&a.name).cmp(lowercase(&b.name)))
            .then(a.id.0.cmp(&b.id.0))
    });
    all.into_iter().take(n).map(|(_, a)| a.id.0).collect()
}

/// (band, 30-day move, score, days to the renewal ahead): smaller needs attention sooner.
type Rank = (u8, i32, u8, i64);

fn rank(a: &AccountFacts) -> Rank {
    let health = a.health.filter(|_| a.is_served());
    let band = match (a.is_served(), health.and_then(|h| h.category)) {
        (false, _) => 4,
        (true, Some(Category::Red)) => 0,
        (true, Some(Category::Yellow)) => 1,
        (true, None) => 2,
        (true, Some(Category::Green)) => 3,
    };
    let moved = health.and_then(|h| h.change_30d).unwrap_or(0);
    let score = health.and_then(|h| h.score).unwrap_or(u8::MAX);
    let renewal = a.days_to_renewal.filter(|d| *d >= 0).unwrap_or(i64::MAX);
    (band, moved, score, renewal)
}

fn lowercase(name: &str) -> impl Iterator<Item = char> + '_ {
    name.chars().flat_map(char::to_lowercase)
}

#[cfg(test)]
mod tests {
    use super::first_to_look_at;
    use crate::metrics::AccountFacts;
    use crate::metrics::tests::account as unscored;

    #[test]
    fn a_page_of_accounts_that_rank_alike_is_the_first_by_name_whatever_their_case_then_by_id() {
        let mut accounts: Vec<AccountFacts> = (0..40)
            .map(|i| unscored(100 - i, &format!("Account {:02}", 39 - i)))
            .collect();
        accounts.push(unscored(7, "account 00"));
        accounts.push(unscored(8, "ACCOUNT 01"));
        let page = first_to_look_at(&accounts, 4);
        // "account 00" (7) before "Account 00" (100 - 39 = 61) by id, then "ACCOUNT 01" (8)
        // before "Account 01" (62).
        assert_eq!(page, vec![7, 61, 8, 62]);
        assert!(first_to_look_at(&accounts, 0).is_empty());
        assert_eq!(first_to_look_at(&accounts, 100).len(), 42);
    }
}
