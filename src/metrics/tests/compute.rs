use chrono::TimeDelta;

use super::{account, churned, days_ago, now, owned, scored};
use crate::domain::{AccountId, ContactId, StaffId, StaffRole};
use crate::metrics::{
    AccountResponse, Facts, NpsReply, OpenEscalation, Params, ResponseRate, Scope, StaffFacts,
    by_csm, compute,
};

fn person(id: i64, name: &str, role: StaffRole) -> StaffFacts {
    StaffFacts {
        id: StaffId(id),
        name: name.into(),
        role,
    }
}

fn nps(account: i64, contact: i64, score: u8) -> NpsReply {
    NpsReply {
        account: AccountId(account),
        contact: ContactId(contact),
        score,
        at: days_ago(3),
    }
}

/// One touch asked 20 days ago and never answered.
fn unanswered(account: i64) -> AccountResponse {
    AccountResponse {
        account: AccountId(account),
        rate: ResponseRate {
            asked: 1,
            answered: 0,
            waiting: 0,
        },
    }
}

/// Aigerim owns Northwind and Contoso (churned), Bolat owns Initech, nobody owns Umbrella;
/// Dana is a CSM without accounts, Mira a manager.
fn facts() -> Facts {
    Facts {
        now: now(),
        staff: vec![
            person(1, "Aigerim", StaffRole::Csm),
            person(2, "bolat", StaffRole::Csm),
            person(3, "Dana", StaffRole::Csm),
            person(4, "Mira", StaffRole::CsManager),
        ],
        accounts: vec![
            owned(scored(account(10, "Northwind"), 90, Some(5)), 1),
            churned(owned(scored(account(11, "Contoso"), 20, None), 1)),
            owned(scored(account(12, "Initech"), 40, Some(-10)), 2),
            account(13, "Umbrella"),
        ],
        nps: vec![nps(10, 100, 10), nps(11, 110, 0), nps(12, 120, 9)],
        nps_kept: Vec::new(),
        responses: vec![unanswered(10), unanswered(11), unanswered(12)],
        escalations: vec![
            OpenEscalation {
                account: AccountId(12),
                opened_at: days_ago(9),
            },
            OpenEscalation {
                account: AccountId(13),
                opened_at: now() - TimeDelta::hours(1),
            },
        ],
        payments: Vec::new(),
    }
}

#[test]
fn a_csms_figures_cover_only_their_accounts() {
    let m = compute(&facts(), Scope::Csm(StaffId(1)), &Params::default());
    assert_eq!((m.accounts, m.active), (2, 1));
    // The churned account's detractor still counts in NPS ...
    assert_eq!((m.nps.answers, m.nps.score()), (2, Some(0)));
    // ... but it is no longer scored or touched.
    assert_eq!((m.health.scored, m.health.average), (1, Some(90.0)));
    assert_eq!(m.response.asked, 1);
    assert_eq!(m.escalations.open, 0);
}

#[test]
fn the_portfolio_covers_every_account_whoever_owns_it() {
    let m = compute(&facts(), Scope::Portfolio, &Params::default());
    assert_eq!((m.accounts, m.active), (4, 3));
    assert_eq!(m.nps.answers, 3);
    assert_eq!((m.health.scored, m.health.unscored), (2, 1));
    assert_eq!(m.health.average, Some(65.0));
    assert_eq!(m.health.change_30d, Some(-2.5));
    assert_eq!(m.response.asked, 2);
    let ages: Vec<u32> = m.escalations.buckets.iter().map(|b| b.count).collect();
    assert_eq!(ages, [1, 1, 0]);
}

#[test]
fn every_csm_gets_a_row_by_name_and_unowned_accounts_come_last() {
    let rows = by_csm(&facts(), &Params::default());
    let seen: Vec<(&str, Option<StaffId>, usize)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.staff_id, r.metrics.accounts))
        .collect();
    assert_eq!(
        seen,
        [
            ("Aigerim", Some(StaffId(1)), 2),
            ("bolat", Some(StaffId(2)), 1),
            ("Dana", Some(StaffId(3)), 0),
            ("(no CSM)", None, 1),
        ]
    );
}

#[test]
fn a_manager_who_owns_an_account_gets_a_row_too() {
    let mut f = facts();
    f.accounts[3].csm = Some(StaffId(4));
    let names: Vec<String> = by_csm(&f, &Params::default())
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["Aigerim", "bolat", "Dana", "Mira"]);
}
