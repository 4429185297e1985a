//! How long a plan holds: planning the same inputs at any instant before `plan_until`'s answer
//! gives the same touches ahead (the nightly re-plan relies on it to skip an account).

use super::*;
use crate::domain::{AccountId, ContactId, ContactRole, Segment, StaffId, TouchKind};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn contact(id: i64, role: ContactRole, zone: Option<Tz>) -> ContactInput {
    ContactInput {
        id: ContactId(id),
        role,
        time_zone: zone,
        added_on: date(2026, 1, 1),
        opted_out: Vec::new(),
        reachable: true,
    }
}

/// Accounts of every shape the planner treats differently in time: quiet-month renewals,
/// zones on both sides of UTC, a contact in another zone, a recent ticket, sent history.
fn accounts() -> Vec<(AccountInput, Vec<SentTouch>)> {
    let mut out = Vec::new();
    let zones = [
        Tz::UTC,
        Tz::Asia__Almaty,
        Tz::America__New_York,
        Tz::Australia__Sydney,
    ];
    for (i, zone) in zones.into_iter().enumerate() {
        let day_zero = date(2026, 5, 4) + Duration::days(i as i64 * 9);
        let renewal = [Some(date(2027, 8, 3)), None, Some(date(2026, 12, 20))][i % 3];
        let account = AccountInput {
            id: AccountId(1),
            segment: [Segment::Enterprise, Segment::MidMarket, Segment::Smb][i % 3],
            day_zero,
            renewal_date: renewal,
            time_zone: zone,
            csm: Some(StaffId(7)),
            contacts: vec![
                contact(1, ContactRole::DecisionMaker, None),
                contact(2, ContactRole::Champion, Some(Tz::Europe__Berlin)),
                contact(3, ContactRole::User, None),
            ],
            closed_tickets: vec![ClosedTicket {
                ticket: "T-1".to_string(),
                closed_at: Utc.with_ymd_and_hms(2026, 6, 2, 15, 0, 0).unwrap(),
                raised_by: Some(ContactId(3)),
                csat: None,
            }],
        };
        let history = vec![SentTouch {
            touch_key: "welcome:c1".to_string(),
            kind: TouchKind::Welcome,
            contact_id: Some(ContactId(1)),
            sent_at: Utc.from_utc_datetime(&day_zero.and_hms_opt(9, 0, 0).unwrap()),
        }];
        out.push((account, history));
    }
    out
}

/// What the outbox keeps of a plan made at `at`: every touch still to send, and every skipped
/// one not yet past (a past skipped touch is never rewritten).
fn ahead(plan: &[PlannedTouch], at: DateTime<Utc>) -> Vec<&PlannedTouch> {
    plan.iter()
        .filter(|t| t.is_send() || t.due_at > at)
        .collect()
}

#[test]
fn planning_again_before_the_plan_stops_holding_gives_the_same_touches() {
    let config = CalendarConfig::default();
    let mut checked = 0;
    for (account, history) in accounts() {
        // Every 11 hours over four months, so each hour of the day and each weekday come up.
        let mut now = Utc.with_ymd_and_hms(2026, 4, 20, 0, 0, 0).unwrap();
        while now < Utc.with_ymd_and_hms(2026, 8, 20, 0, 0, 0).unwrap() {
            let (first, until) = plan_until(&account, &history, &config, now);
            assert!(
                until >= now,
                "a plan cannot stop holding before it was made"
            );
            for later in [now + (until - now) / 2, until - Duration::seconds(1)] {
                if later <= now || later > now + Duration::days(400) {
                    continue;
                }
                let again = plan(&account, &history, &config, later);
                assert_eq!(
                    ahead(&first, later),
                    ahead(&again, later),
                    "planned at {now} (holds until {until}) and again at {later}"
                );
                checked += 1;
            }
            now += Duration::hours(11);
        }
    }
    assert!(checked > 100, "only {checked} re-plans were compared");
}

#[test]
fn a_plan_stops_holding_by_the_time_its_next_touch_is_due() {
    let config = CalendarConfig::default();
    let (account, history) = accounts().remove(0);
    let now = Utc.with_ymd_and_hms(2026, 4, 20, 0, 0, 0).unwrap();
    let (plan, until) = plan_until(&account, &history, &config, now);
    let next = plan.iter().filter(|t| t.is_send()).map(|t| t.due_at).min();
    assert!(until <= next.expect("the account has touches to send"));
    assert!(
        until > now,
        "nothing is due yet, so the plan holds for a while"
    );
}

#[test]
fn an_account_with_nothing_left_to_plan_holds_its_plan_for_good() {
    let config = CalendarConfig::default();
    let (account, history) = accounts().remove(0);
    let (plan, until) = plan_until(
        &account,
        &history,
        &config,
        Utc.with_ymd_and_hms(2029, 1, 1, 0, 0, 0).unwrap(),
    );
    assert!(plan.iter().all(|t| !t.is_send()));
    assert_eq!(until, DateTime::<Utc>::MAX_UTC);
}
