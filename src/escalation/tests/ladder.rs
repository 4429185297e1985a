use super::*;
use crate::escalation::config::LadderConfig;
use crate::escalation::{Level, Status, escalation_day, ladder_level, steps_due};

fn opened() -> DateTime<Utc> {
    utc(2027, 3, 1, 15, 30)
}

fn at(days: i64, minutes: i64) -> DateTime<Utc> {
    opened() + Duration::days(days) + Duration::minutes(minutes)
}

fn level(now: DateTime<Utc>) -> Level {
    ladder_level(opened(), now, &LadderConfig::default())
}

fn due(now: DateTime<Utc>, notified: Option<Level>, status: Status) -> Vec<Level> {
    steps_due(opened(), now, notified, status, &LadderConfig::default())
}

#[test]
fn day_1_is_the_first_24_hours_after_opening() {
    assert_eq!(escalation_day(opened(), opened()), 1);
    assert_eq!(escalation_day(opened(), at(1, -1)), 1);
    assert_eq!(escalation_day(opened(), at(1, 0)), 2);
}

#[test]
fn the_csm_alone_owns_it_through_day_7() {
    assert_eq!(escalation_day(opened(), at(7, -1)), 7);
    assert_eq!(level(at(7, -1)), Level::Csm);
}

#[test]
fn the_manager_is_brought_in_on_day_8() {
    assert_eq!(escalation_day(opened(), at(7, 0)), 8);
    assert_eq!(level(at(7, 0)), Level::Manager);
}

#[test]
fn the_manager_still_owns_it_on_day_14() {
    assert_eq!(escalation_day(opened(), at(14, -1)), 14);
    assert_eq!(level(at(14, -1)), Level::Manager);
}

#[test]
fn the_vp_and_sponsor_are_brought_in_on_day_15() {
    assert_eq!(escalation_day(opened(), at(14, 0)), 15);
    assert_eq!(level(at(14, 0)), Level::Vp);
}

#[test]
fn a_new_escalation_is_first_posted_to_the_csm() {
    assert_eq!(due(opened(), None, Status::Open), vec![Level::Csm]);
}

#[test]
fn each_step_is_posted_once() {
    assert!(due(at(3, 0), Some(Level::Csm), Status::Open).is_empty());
    assert_eq!(
        due(at(7, 0), Some(Level::Csm), Status::Acknowledged),
        vec![Level::Manager]
    );
    assert!(due(at(9, 0), Some(Level::Manager), Status::Acknowledged).is_empty());
    assert_eq!(
        due(at(14, 0), Some(Level::Manager), Status::Open),
        vec![Level::Vp]
    );
    assert!(due(at(40, 0), Some(Level::Vp), Status::Open).is_empty());
}

#[test]
fn a_step_missed_while_the_bot_was_down_is_still_posted_before_the_next() {
    assert_eq!(
        due(at(16, 0), Some(Level::Csm), Status::Open),
        vec![Level::Manager, Level::Vp]
    );
}

#[test]
fn a_resolved_escalation_climbs_no_further() {
    assert!(due(at(20, 0), Some(Level::Csm), Status::Resolved).is_empty());
}

#[test]
fn the_ladder_days_follow_the_config() {
    let config = LadderConfig {
        manager_from_day: 3,
        vp_from_day: 5,
    };
    assert_eq!(ladder_level(opened(), at(2, 0), &config), Level::Manager);
    assert_eq!(ladder_level(opened(), at(4, 0), &config), Level::Vp);
}

#[test]
fn a_clock_before_the_opening_counts_as_day_1() {
    assert_eq!(escalation_day(opened(), at(-2, 0)), 1);
    assert_eq!(level(at(-2, 0)), Level::Csm);
}
