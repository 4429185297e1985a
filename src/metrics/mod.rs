//! The team metrics a manager asks for (DOMAIN.md, "Team metrics"), per portfolio and per
//! CSM: NPS with its number of answers, average health and its 30-day move, accounts per
//! category, the response rate to touches, open escalations by age, renewals ahead with their
//! health, and revenue retention (NRR, GRR) where payments carry amounts.
//!
//! A pure core with one edge: `load` reads the facts of a whole portfolio in a handful of
//! queries; [`compute`] turns them into the figures for any [`Scope`], so the CLI, `/status` in
//! chat and the weekly digest show the same numbers from the same facts.
//! - `facts`: the rows read; `nps`, `health`, `response`, `escalations`, `renewals`,
//!   `revenue`: one figure each; `targets`: the playbook's targets
//! - `text`: the figures as plain lines, for any channel; `weekly`: the weekly digest posts

mod escalations;
mod facts;
mod health;
mod load;
mod nps;
mod renewals;
mod response;
mod revenue;
pub mod targets;
pub mod text;
mod weekly;

#[cfg(test)]
mod tests;

pub use escalations::{AgeBucket, EscalationAges, escalation_ages};
pub use facts::{
    AccountFacts, AccountNps, AccountResponse, AskedTouch, Facts, HealthNow, NpsReply,
    OpenEscalation, Payment, StaffFacts,
};
pub use health::{HealthSummary, summarize as summarize_health};
pub use load::{keep_nps_counts, keep_response_counts, load};
pub use nps::{Nps, nps_of};
pub use renewals::{RenewalAhead, renewals_ahead};
pub use response::{ResponseRate, response_rate};
pub use revenue::{HISTORY_TOLERANCE_DAYS, NoRetention, Retention, retention};
pub use weekly::{WeeklyReport, iso_week, queue_weekly_digests, weekly_due, weekly_text};

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::config::Settings;
use crate::domain::{AccountId, StaffId, StaffRole};
use crate::escalation::config::LadderConfig;

/// The periods the figures look back over, and the escalation ladder the ages follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// NPS answers received in this long before `now` (90 days by default; the API asks for
    /// any period, to the second).
    pub nps_window: TimeDelta,
    /// Touches sent in this long before `now`, for the response rate.
    pub response_window: TimeDelta,
    /// A touch answered later than this after its send counts as unanswered.
    pub reply_window: TimeDelta,
    /// Renewals in the next this many days.
    pub renewal_days: i64,
    pub ladder: LadderConfig,
}

impl Params {
    /// Whether the touch counts kept beside the scores (`keep_response_counts`, counted with
    /// the default windows) answer for these periods.
    fn counts_kept(&self) -> bool {
        let default = Params::default();
        self.response_window == default.response_window && self.reply_window == default.reply_window
    }

    /// Whether the NPS counts kept beside the scores (over the default window, by the
    /// reassessment's `health::store::summary::keep`, or `keep_nps_counts` for other writers)
    /// answer for this window.
    fn nps_kept(&self) -> bool {
        self.nps_window == Params::default().nps_window
    }

    pub fn from_settings(settings: &Settings) -> Params {
        Params {
            ladder: settings.escalation.ladder.clone(),
            ..Params::default()
        }
    }
}

impl Default for Params {
    fn default() -> Self {
        Params {
            nps_window: TimeDelta::days(90),
            response_window: TimeDelta::days(90),
            reply_window: crate::inbound::REPLY_WINDOW,
            // The renewal work starts 120 days out (DOMAIN.md, "The touch calendar").
            renewal_days: 120,
            ladder: LadderConfig::default(),
        }
    }
}

/// Which accounts a set of figures covers. An account belongs to its current CSM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind", content = "staff_id")]
pub enum Scope {
    Portfolio,
    Csm(StaffId),
    /// Accounts nobody owns.
    Unassigned,
}

impl Scope {
    fn includes(self, csm: Option<StaffId>) -> bool {
        match self {
            Scope::Portfolio => true,
            Scope::Csm(id) => csm == Some(id),
            Scope::Unassigned => csm.is_none(),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct TeamMetrics {
    pub at: DateTime<Utc>,
    pub scope: Scope,
    /// Every account in scope, churned ones included; `active` counts the active ones.
    pub accounts: usize,
    pub active: usize,
    pub nps: Nps,
    /// The NPS answers counted were received after this instant, up to `at`.
    pub nps_from: DateTime<Utc>,
    /// The length of that window in whole days.
    pub nps_days: i64,
    pub health: HealthSummary,
    pub response: ResponseRate,
    /// The touches counted were sent after this instant, up to `at`.
    pub response_from: DateTime<Utc>,
    pub response_days: i64,
    pub reply_window_days: i64,
    pub escalations: EscalationAges,
    pub renewals: Vec<RenewalAhead>,
    pub renewal_days: i64,
    pub retention: Retention,
}

/// The figures for the accounts of `scope` among `facts`.
pub fn compute(facts: &Facts, scope: Scope, params: &Params) -> TeamMetrics {
    let accounts: Vec<&AccountFacts> = facts
        .accounts
        .iter()
        .filter(|a| scope.includes(a.csm))
        .collect();
    let within = Within::new(facts, &accounts);
    let now = facts.now;
    TeamMetrics {
        at: now,
        scope,
        accounts: accounts.len(),
        active: accounts
            .iter()
            .filter(|a| a.lifecycle == crate::domain::AccountLifecycle::Active)
            .count(),
        // An answer stays an answer after its account churned: a detractor who left counts.
        nps: {
            let mut nps = nps_of(
                facts.nps.iter().filter(|n| within.includes(n.account)),
                now - params.nps_window,
                now,
            );
            for k in facts.nps_kept.iter().filter(|k| within.includes(k.account)) {
                nps.add_counts(&k.nps);
            }
            nps
        },
        nps_from: now - params.nps_window,
        nps_days: params.nps_window.num_days(),
        health: health::summarize(accounts.iter().copied()),
        response: facts
            .responses
            .iter()
            .filter(|r| within.serves(r.account))
            .fold(ResponseRate::default(), |mut sum, r| {
                sum.add(&r.rate);
                sum
            }),
        response_from: now - params.response_window,
        response_days: params.response_window.num_days(),
        reply_window_days: params.reply_window.num_days(),
        escalations: escalation_ages(
            facts
                .escalations
                .iter()
                .filter(|e| within.includes(e.account)),
            now,
            &params.ladder,
        ),
        renewals: renewals_ahead(accounts.iter().copied(), params.renewal_days),
        renewal_days: params.renewal_days,
        retention: retention(accounts.iter().copied(), &facts.payments, now),
    }
}

/// Which of the facts' accounts a set of figures covers. The facts read for a scope hold only
/// its accounts (and `by_csm` hands each CSM their share), so most often every one is in it:
/// then no set of 100,000 ids is built, only the few churned ones are kept apart.
struct Within {
    /// `None`: every account among the facts.
    ids: Option<HashSet<AccountId>>,
    churned: HashSet<AccountId>,
}

impl Within {
    fn new(facts: &Facts, accounts: &[&AccountFacts]) -> Within {
        let ids = (accounts.len() < facts.accounts.len())
            .then(|| accounts.iter().map(|a| a.id).collect());
        let churned = accounts
            .iter()
            .filter(|a| !a.is_served())
            .map(|a| a.id)
            .collect();
        Within { ids, churned }
    }

    fn includes(&self, account: AccountId) -> bool {
        self.ids.as_ref().is_none_or(|ids| ids.contains(&account))
    }

    /// In scope and still served (not churned).
    fn serves(&self, account: AccountId) -> bool {
        self.includes(account) && !self.churned.contains(&account)
    }
}

/// One CSM's figures, for the per-CSM table and the managers' digest.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct CsmMetrics {
    /// `None` for the accounts nobody owns.
    pub staff_id: Option<StaffId>,
    pub name: String,
    pub metrics: TeamMetrics,
}

/// Every CSM, and whoever else owns accounts, by name; then the accounts nobody owns, if any.
/// A CSM without accounts is listed too: an empty portfolio is worth seeing.
pub fn by_csm(facts: &Facts, params: &Params) -> Vec<CsmMetrics> {
    let owners: std::collections::HashSet<StaffId> =
        facts.accounts.iter().filter_map(|a| a.csm).collect();
    let mut people: Vec<&StaffFacts> = facts
        .staff
        .iter()
        .filter(|s| s.role == StaffRole::Csm || owners.contains(&s.id))
        .collect();
    people.sort_by_key(|s| (s.name.to_lowercase(), s.id));
    // Each owner's facts apart, so each row reads its own share rather than the portfolio's.
    let mut parts = by_owner(facts);
    let mut part = |csm: Option<StaffId>| {
        parts
            .remove(&csm)
            .unwrap_or_else(|| Facts::empty(facts.now))
    };
    let mut out: Vec<CsmMetrics> = people
        .into_iter()
        .map(|s| CsmMetrics {
            staff_id: Some(s.id),
            name: s.name.clone(),
            metrics: compute(&part(Some(s.id)), Scope::Csm(s.id), params),
        })
        .collect();
    if facts.accounts.iter().any(|a| a.csm.is_none()) {
        out.push(CsmMetrics {
            staff_id: None,
            name: "(no CSM)".into(),
            metrics: compute(&part(None), Scope::Unassigned, params),
        });
    }
    out
}

/// The facts split by the accounts' owner, in one pass over each kind of fact.
fn by_owner(facts: &Facts) -> HashMap<Option<StaffId>, Facts> {
    let owner: HashMap<AccountId, Option<StaffId>> =
        facts.accounts.iter().map(|a| (a.id, a.csm)).collect();
    let mut parts: HashMap<Option<StaffId>, Facts> = HashMap::new();
    let now = facts.now;
    for a in &facts.accounts {
        if let Some(p) = share(&mut parts, &owner, a.id, now) {
            p.accounts.push(a.clone());
        }
    }
    for n in &facts.nps {
        if let Some(p) = share(&mut parts, &owner, n.account, now) {
            p.nps.push(*n);
        }
    }
    for k in &facts.nps_kept {
        if let Some(p) = share(&mut parts, &owner, k.account, now) {
            p.nps_kept.push(k.clone());
        }
    }
    for r in &facts.responses {
        if let Some(p) = share(&mut parts, &owner, r.account, now) {
            p.responses.push(*r);
        }
    }
    for e in &facts.escalations {
        if let Some(p) = share(&mut parts, &owner, e.account, now) {
            p.escalations.push(*e);
        }
    }
    for x in &facts.payments {
        if let Some(p) = share(&mut parts, &owner, x.account, now) {
            p.payments.push(*x);
        }
    }
    parts
}

/// The facts of `account`'s owner; `None` for an account not among the facts.
fn share<'a>(
    parts: &'a mut HashMap<Option<StaffId>, Facts>,
    owner: &HashMap<AccountId, Option<StaffId>>,
    account: AccountId,
    now: DateTime<Utc>,
) -> Option<&'a mut Facts> {
    let csm = *owner.get(&account)?;
    Some(parts.entry(csm).or_insert_with(|| Facts::empty(now)))
}
