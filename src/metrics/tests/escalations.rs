use chrono::TimeDelta;

use super::{days_ago, now};
use crate::domain::AccountId;
use crate::escalation::config::LadderConfig;
use crate::metrics::{OpenEscalation, escalation_ages};

fn opened(at: chrono::DateTime<chrono::Utc>) -> OpenEscalation {
    OpenEscalation {
        account: AccountId(1),
        opened_at: at,
    }
}

fn counts(open: &[OpenEscalation], ladder: &LadderConfig) -> Vec<u32> {
    escalation_ages(open, now(), ladder)
        .buckets
        .iter()
        .map(|b| b.count)
        .collect()
}

#[test]
fn no_open_escalation_gives_three_empty_buckets() {
    let e = escalation_ages(&[], now(), &LadderConfig::default());
    assert_eq!(e.open, 0);
    let labels: Vec<String> = e.buckets.iter().map(|b| b.label()).collect();
    assert_eq!(labels, ["days 1-7", "days 8-14", "day 15+"]);
}

#[test]
fn ages_fall_into_the_ladder_buckets_at_their_exact_boundaries() {
    let seven_days = TimeDelta::days(7);
    let open = [
        opened(now()),                                      // day 1
        opened(now() - seven_days + TimeDelta::seconds(1)), // still day 7
        opened(now() - seven_days),                         // day 8
        opened(days_ago(14) + TimeDelta::seconds(1)),       // day 14
        opened(days_ago(14)),                               // day 15
        opened(days_ago(200)),
    ];
    assert_eq!(counts(&open, &LadderConfig::default()), [2, 2, 2]);
    assert_eq!(
        escalation_ages(&open, now(), &LadderConfig::default()).open,
        6
    );
}

#[test]
fn the_buckets_follow_a_changed_ladder() {
    let ladder = LadderConfig {
        manager_from_day: 3,
        vp_from_day: 5,
    };
    let e = escalation_ages(&[opened(days_ago(2)), opened(days_ago(3))], now(), &ladder);
    let labels: Vec<String> = e.buckets.iter().map(|b| b.label()).collect();
    assert_eq!(labels, ["days 1-2", "days 3-4", "day 5+"]);
    assert_eq!(
        counts(&[opened(days_ago(2)), opened(days_ago(4))], &ladder),
        [0, 1, 1]
    );
}
