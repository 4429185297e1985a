//! A scope's share of the facts, borrowed rather than copied: at 100,000 accounts, handing
//! each CSM a copy of their accounts (a name each) cost more than computing their figures.

use std::collections::{HashMap, HashSet};

use super::Scope;
use super::facts::{
    AccountFacts, AccountNps, AccountResponse, Facts, NpsReply, OpenEscalation, Payment,
};
use crate::domain::{AccountId, StaffId};

/// The facts of some accounts, each kind in the order of `Facts`.
#[derive(Default)]
pub(super) struct Share<'a> {
    pub accounts: Vec<&'a AccountFacts>,
    pub nps: Vec<&'a NpsReply>,
    pub nps_kept: Vec<&'a AccountNps>,
    pub responses: Vec<&'a AccountResponse>,
    pub escalations: Vec<&'a OpenEscalation>,
    pub payments: Vec<&'a Payment>,
}

/// A fact that belongs to one account.
trait OfAccount {
    fn account(&self) -> AccountId;
}

macro_rules! of_account {
    ($($t:ty),*) => {$(
        impl OfAccount for $t {
            fn account(&self) -> AccountId {
                self.account
            }
        }
    )*};
}
of_account!(
    NpsReply,
    AccountNps,
    AccountResponse,
    OpenEscalation,
    Payment
);

impl<'a> Share<'a> {
    /// The facts of `scope`'s accounts. The facts read for a scope hold only its accounts, so
    /// most often every fact is in it: then no set of 100,000 ids is built.
    pub fn of(facts: &'a Facts, scope: Scope) -> Share<'a> {
        let accounts: Vec<&AccountFacts> = facts
            .accounts
            .iter()
            .filter(|a| scope.includes(a.csm))
            .collect();
        let ids: Option<HashSet<AccountId, ById>> = (accounts.len() < facts.accounts.len())
            .then(|| accounts.iter().map(|a| a.id).collect());
        let within = |id: AccountId| ids.as_ref().is_none_or(|ids| ids.contains(&id));
        Share {
            accounts,
            nps: among(&facts.nps, within),
            nps_kept: among(&facts.nps_kept, within),
            responses: among(&facts.responses, within),
            escalations: among(&facts.escalations, within),
            payments: among(&facts.payments, within),
        }
    }

    /// The facts split by the accounts' owner, in one pass over each kind of fact.
    pub fn by_owner(facts: &'a Facts) -> HashMap<Option<StaffId>, Share<'a>> {
        let owner: HashMap<AccountId, Option<StaffId>, ById> =
            facts.accounts.iter().map(|a| (a.id, a.csm)).collect();
        let mut parts: HashMap<Option<StaffId>, Share<'a>> = HashMap::new();
        for a in &facts.accounts {
            parts.entry(a.csm).or_default().accounts.push(a);
        }
        split(&mut parts, &owner, &facts.nps, |p| &mut p.nps);
        split(&mut parts, &owner, &facts.nps_kept, |p| &mut p.nps_kept);
        split(&mut parts, &owner, &facts.responses, |p| &mut p.responses);
        split(&mut parts, &owner, &facts.escalations, |p| {
            &mut p.escalations
        });
        split(&mut parts, &owner, &facts.payments, |p| &mut p.payments);
        parts
    }
}

fn among<T: OfAccount>(all: &[T], within: impl Fn(AccountId) -> bool) -> Vec<&T> {
    all.iter().filter(|x| within(x.account())).collect()
}

/// Hands each fact of `all` to its account's owner's share; a fact of an account not among
/// the facts is left out.
fn split<'a, T: OfAccount>(
    parts: &mut HashMap<Option<StaffId>, Share<'a>>,
    owner: &HashMap<AccountId, Option<StaffId>, ById>,
    all: &'a [T],
    kind: for<'s> fn(&'s mut Share<'a>) -> &'s mut Vec<&'a T>,
) {
    for x in all {
        if let Some(csm) = owner.get(&x.account()) {
            kind(parts.entry(*csm).or_default()).push(x);
        }
    }
}

/// Hashes account ids with FxHash: SipHash's guard against chosen keys buys nothing for ids
/// the database issued, and over 100,000 accounts and their facts it was most of the split's
/// time.
type ById = rustc_hash::FxBuildHasher;
