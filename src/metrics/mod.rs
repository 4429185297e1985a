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
//! - `share`: a scope's (or each CSM's) share of the facts, borrowed

mod escalations;
mod facts;
mod health;
mod load;
mod nps;
mod renewals;
mod response;
mod revenue;
mod share;
pub mod targets;
pub mod text;
mod weekly;

#[cfg(test)]
pub(crate) mod tests;

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

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::config::Settings;
use crate::domain::{AccountId, StaffId, StaffRole};
use crate::escalation::config::LadderConfig;
use share::Share;

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
    figures(facts.now, scope, &Share::of(facts, scope), params)
}

/// The figures of `share`, the facts of `scope`'s accounts.
fn figures(now: DateTime<Utc>, scope: Scope, share: &Share, params: &Params) -> TeamMetrics {
    let accounts = &share.accounts;
    // Churned accounts keep their answers but no longer count in the response rate.
    let churned: HashSet<AccountId> = accounts
        .iter()
        .filter(|a| !a.is_served())
        .map(|a| a.id)
        .collect();
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
            let mut nps = nps_of(share.nps.iter().copied(), now - params.nps_window, now);
            for k in &share.nps_kept {
                nps.add_counts(&k.nps);
            }
            nps
        },
        nps_from: now - params.nps_window,
        nps_days: params.nps_window.num_days(),
        health: health::summarize(accounts.iter().copied()),
        response: share
            .responses
            .iter()
            .filter(|r| !churned.contains(&r.account))
            .fold(ResponseRate::default(), |mut sum, r| {
                sum.add(&r.rate);
                sum
            }),
        response_from: now - params.response_window,
        response_days: params.response_window.num_days(),
        reply_window_days: params.reply_window.num_days(),
        escalations: escalation_ages(share.escalations.iter().copied(), now, &params.ladder),
        renewals: renewals_ahead(accounts.iter().copied(), params.renewal_days),
        renewal_days: params.renewal_days,
        retention: revenue::retention_among(
            accounts.iter().copied(),
            share.payments.iter().copied(),
            now,
        ),
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
    let mut parts = Share::by_owner(facts);
    let now = facts.now;
    let mut row = |csm: Option<StaffId>, scope: Scope| {
        figures(now, scope, &parts.remove(&csm).unwrap_or_default(), params)
    };
    let mut out: Vec<CsmMetrics> = people
        .into_iter()
        .map(|s| CsmMetrics {
            staff_id: Some(s.id),
            name: s.name.clone(),
            metrics: row(Some(s.id), Scope::Csm(s.id)),
        })
        .collect();
    if facts.accounts.iter().any(|a| a.csm.is_none()) {
        out.push(CsmMetrics {
            staff_id: None,
            name: "(no CSM)".into(),
            metrics: row(None, Scope::Unassigned),
        });
    }
    out
}
