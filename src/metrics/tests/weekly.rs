use chrono::{TimeZone, Utc};

use super::{account, now, owned};
use crate::domain::{StaffId, StaffRole};
use crate::metrics::{Facts, Params, Scope, StaffFacts, by_csm, compute, iso_week, weekly_text};

#[test]
fn the_week_is_the_iso_week_in_the_teams_zone() {
    assert_eq!(iso_week(now(), chrono_tz::UTC), "2026-W10");
    // Sunday evening in UTC is already Monday in Almaty.
    let sunday_night = Utc.with_ymd_and_hms(2026, 3, 1, 20, 0, 0).unwrap();
    assert_eq!(iso_week(sunday_night, chrono_tz::UTC), "2026-W09");
    assert_eq!(iso_week(sunday_night, chrono_tz::Asia::Almaty), "2026-W10");
    // 1 January 2027 is a Friday: it belongs to the last week of 2026.
    let new_year = Utc.with_ymd_and_hms(2027, 1, 1, 12, 0, 0).unwrap();
    assert_eq!(iso_week(new_year, chrono_tz::UTC), "2026-W53");
}

#[test]
fn a_managers_digest_of_a_huge_team_stays_within_one_telegram_message() {
    let staff: Vec<StaffFacts> = (1..=300)
        .map(|i| StaffFacts {
            id: StaffId(i),
            name: format!("CSM number {i} with a rather long name"),
            role: StaffRole::Csm,
        })
        .collect();
    let accounts = (1..=300)
        .map(|i| owned(account(1000 + i, &format!("Account {i}")), i))
        .collect();
    let facts = Facts {
        now: now(),
        staff,
        accounts,
        nps: Vec::new(),
        nps_kept: Vec::new(),
        responses: Vec::new(),
        escalations: Vec::new(),
        payments: Vec::new(),
    };
    let params = Params::default();
    let team = by_csm(&facts, &params);
    let text = weekly_text(
        "2026-W10",
        &compute(&facts, Scope::Portfolio, &params),
        Some(&team),
    );
    assert!(
        text.chars().count() <= 4096,
        "{} characters",
        text.chars().count()
    );
    assert!(text.starts_with("The team's week 2026-W10: 300 accounts, 300 active.\n"));
    assert!(
        text.contains("  CSM number 1 with a rather long name: 1 account,"),
        "{text}"
    );
    assert!(
        text.contains(" more: touchbot status shows everyone\n"),
        "{text}"
    );
}

#[test]
fn a_csms_digest_has_no_per_csm_lines() {
    let facts = Facts {
        now: now(),
        staff: Vec::new(),
        accounts: vec![owned(account(1, "Northwind"), 1)],
        nps: Vec::new(),
        nps_kept: Vec::new(),
        responses: Vec::new(),
        escalations: Vec::new(),
        payments: Vec::new(),
    };
    let m = compute(&facts, Scope::Csm(StaffId(1)), &Params::default());
    let text = weekly_text("2026-W10", &m, None);
    assert!(text.starts_with("Your portfolio's week 2026-W10: 1 account, 1 active.\n"));
    assert!(!text.contains("By CSM"), "{text}");
}
