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
