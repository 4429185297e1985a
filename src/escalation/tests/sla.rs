//! Working-hours arithmetic, mostly in Europe/Berlin (09:00-18:00 Mon-Fri): CET is UTC+1,
//! CEST (summer) UTC+2. 2027-03-28 and 2027-10-31 are the Sundays the clocks change.

use super::*;
use crate::escalation::config::SlaConfig;
use crate::escalation::{sla_breached, sla_deadline};
use chrono::NaiveDate;
use chrono_tz::Tz;

const BERLIN: Tz = chrono_tz::Europe::Berlin;

fn berlin(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    BERLIN
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn deadline(opened: DateTime<Utc>) -> DateTime<Utc> {
    sla_deadline(opened, BERLIN, &SlaConfig::default())
}

#[test]
fn a_morning_escalation_is_due_four_hours_later_the_same_day() {
    // Tuesday.
    assert_eq!(
        deadline(berlin(2027, 6, 15, 10, 0)),
        berlin(2027, 6, 15, 14, 0)
    );
}

#[test]
fn an_escalation_before_work_starts_counts_from_nine() {
    assert_eq!(
        deadline(berlin(2027, 6, 15, 6, 45)),
        berlin(2027, 6, 15, 13, 0)
    );
}

#[test]
fn a_deadline_on_the_end_of_the_day_stays_on_that_day() {
    assert_eq!(
        deadline(berlin(2027, 6, 15, 14, 0)),
        berlin(2027, 6, 15, 18, 0)
    );
}

#[test]
fn the_night_does_not_count() {
    // Tuesday 17:00: one hour that evening, three on Wednesday morning.
    assert_eq!(
        deadline(berlin(2027, 6, 15, 17, 0)),
        berlin(2027, 6, 16, 12, 0)
    );
}

#[test]
fn the_weekend_does_not_count() {
    // Friday 16:00: two hours on Friday, two on Monday.
    assert_eq!(
        deadline(berlin(2027, 6, 18, 16, 0)),
        berlin(2027, 6, 21, 11, 0)
    );
}

#[test]
fn an_escalation_on_saturday_is_due_monday_at_one() {
    assert_eq!(
        deadline(berlin(2027, 6, 19, 10, 0)),
        berlin(2027, 6, 21, 13, 0)
    );
}

#[test]
fn a_holiday_does_not_count() {
    let config = SlaConfig {
        holidays: vec![NaiveDate::from_ymd_opt(2027, 6, 21).unwrap()],
        ..SlaConfig::default()
    };
    // Friday 16:00, Monday off: due Tuesday 11:00.
    assert_eq!(
        sla_deadline(berlin(2027, 6, 18, 16, 0), BERLIN, &config),
        berlin(2027, 6, 22, 11, 0)
    );
}

#[test]
fn the_deadline_follows_local_time_when_clocks_go_forward() {
    // Friday 16:00 CET is 15:00 UTC. Monday 11:00 is CEST, so 09:00 UTC, not 10:00.
    let opened = berlin(2027, 3, 26, 16, 0);
    assert_eq!(opened, utc(2027, 3, 26, 15, 0));
    assert_eq!(deadline(opened), utc(2027, 3, 29, 9, 0));
}

#[test]
fn the_deadline_follows_local_time_when_clocks_go_back() {
    // Friday 17:00 CEST is 15:00 UTC. Monday 12:00 is CET, so 11:00 UTC.
    let opened = berlin(2027, 10, 29, 17, 0);
    assert_eq!(opened, utc(2027, 10, 29, 15, 0));
    assert_eq!(deadline(opened), utc(2027, 11, 1, 11, 0));
}

#[test]
fn working_hours_are_read_in_the_zone_given() {
    let almaty: Tz = "Asia/Almaty".parse().unwrap();
    let opened = almaty
        .with_ymd_and_hms(2027, 6, 15, 17, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let expected = almaty
        .with_ymd_and_hms(2027, 6, 16, 12, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        sla_deadline(opened, almaty, &SlaConfig::default()),
        expected
    );
}

#[test]
fn a_longer_sla_spans_several_working_days() {
    let config = SlaConfig {
        first_response_hours: 20,
        ..SlaConfig::default()
    };
    // Thursday 09:00: 9 h Thursday, 9 h Friday, 2 h Monday.
    assert_eq!(
        sla_deadline(berlin(2027, 6, 17, 9, 0), BERLIN, &config),
        berlin(2027, 6, 21, 11, 0)
    );
}

fn breached(first_response: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    sla_breached(
        berlin(2027, 6, 18, 16, 0),
        first_response,
        now,
        BERLIN,
        &SlaConfig::default(),
    )
}

#[test]
fn answering_exactly_at_the_deadline_meets_the_sla() {
    let due = berlin(2027, 6, 21, 11, 0);
    assert!(!breached(Some(due), due + Duration::days(3)));
}

#[test]
fn answering_a_minute_late_breaches_the_sla() {
    let due = berlin(2027, 6, 21, 11, 0);
    assert!(breached(
        Some(due + Duration::minutes(1)),
        due + Duration::days(3)
    ));
}

#[test]
fn an_unanswered_escalation_breaches_only_once_the_deadline_passes() {
    let due = berlin(2027, 6, 21, 11, 0);
    // Saturday: the clock is not running.
    assert!(!breached(None, berlin(2027, 6, 19, 12, 0)));
    assert!(!breached(None, due));
    assert!(breached(None, due + Duration::minutes(1)));
}
