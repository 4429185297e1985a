//! Which accounts a set-wise read covers, bound the same way by every query that takes it.

use super::AccountId;

/// The accounts a reassessment (health facts, escalation state) reads at once.
#[derive(Debug, Clone, Copy)]
pub enum Accounts<'a> {
    /// Every account.
    All,
    /// These accounts only: one that replied, a batch of replies.
    Listed(&'a [AccountId]),
    /// Every account whose id lies between the two, both included: a chunk of the portfolio.
    /// Read as one range of each `(account_id, ...)` index, where a list of the same ids
    /// costs a probe per id and leads the planner to scan the whole window of a table.
    Between(AccountId, AccountId),
}

/// The query parameters of [`Accounts`]: `($lo::int8 is null or x.account_id between $lo
/// and $hi) and ($ids::int8[] is null or x.account_id = any($ids))`.
#[derive(Debug, Clone, Default)]
pub struct AccountsParams {
    pub lo: Option<i64>,
    pub hi: Option<i64>,
    pub ids: Option<Vec<i64>>,
}

impl Accounts<'_> {
    pub fn params(&self) -> AccountsParams {
        match self {
            Accounts::All => AccountsParams::default(),
            Accounts::Listed(ids) => AccountsParams {
                ids: Some(ids.iter().map(|a| a.0).collect()),
                ..AccountsParams::default()
            },
            Accounts::Between(lo, hi) => AccountsParams {
                lo: Some(lo.0),
                hi: Some(hi.0),
                ids: None,
            },
        }
    }
}

impl<'a> From<Option<&'a [AccountId]>> for Accounts<'a> {
    fn from(only: Option<&'a [AccountId]>) -> Self {
        only.map_or(Accounts::All, Accounts::Listed)
    }
}

/// The lowest and highest of `ids` (an empty range for none), bound beside `= any($ids)` as a
/// redundant `between $lo and $hi`: PostgreSQL then reads a chunk of the portfolio as one
/// range of an `(account_id, ...)` index even when a table's statistics are stale, where an
/// id list alone was read as a whole-table scan while the outbox grew during a first plan
/// (0.4-0.5 s a read at 100,000 accounts, growing with the table).
pub fn id_bounds(ids: &[i64]) -> (i64, i64) {
    let lo = ids.iter().copied().min();
    let hi = ids.iter().copied().max();
    lo.zip(hi).unwrap_or((1, 0))
}

#[cfg(test)]
mod tests {
    use super::id_bounds;

    #[test]
    fn bounds_of_an_id_list_cover_every_id_and_none_is_an_empty_range() {
        assert_eq!(id_bounds(&[7, 3, 9]), (3, 9));
        assert_eq!(id_bounds(&[5]), (5, 5));
        let (lo, hi) = id_bounds(&[]);
        assert!(lo > hi);
    }
}
