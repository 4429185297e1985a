//! Score history: changes, drops and turning red.

use super::*;

fn history(points: &[(i64, u8)]) -> Vec<ScorePoint> {
    points
        .iter()
        .map(|(days, score)| ScorePoint {
            at: days_ago(*days),
            score: *score,
        })
        .collect()
}

#[test]
fn the_change_is_measured_against_the_score_in_force_at_each_window_start() {
    let h = history(&[(100, 40), (60, 50), (20, 70), (5, 75), (0, 72)]);
    let trend = trend(&h, now());
    assert_eq!(trend.change_7d, Some(72 - 70));
    assert_eq!(trend.change_30d, Some(72 - 50));
    assert_eq!(trend.change_90d, Some(72 - 40));
}

#[test]
fn a_history_that_does_not_reach_back_far_enough_gives_no_change() {
    let h = history(&[(20, 60), (0, 65)]);
    let trend = trend(&h, now());
    assert_eq!(trend.change_7d, Some(5));
    assert_eq!(trend.change_30d, None);
    assert_eq!(trend.change_90d, None);
}

#[test]
fn the_order_of_the_history_does_not_matter() {
    let h = history(&[(0, 72), (20, 70), (100, 40)]);
    assert_eq!(change_over(&h, now(), TimeDelta::days(30)), Some(32));
}

#[test]
fn scores_recorded_after_now_are_ignored() {
    let mut h = history(&[(10, 60)]);
    h.push(ScorePoint {
        at: now() + TimeDelta::days(1),
        score: 10,
    });
    assert_eq!(score_at(&h, now()).unwrap().score, 60);
}

#[test]
fn a_drop_of_exactly_20_points_is_not_more_than_20() {
    let h = history(&[(10, 70), (0, 50)]);
    assert_eq!(dropped_more_than(&h, now(), 20, TimeDelta::days(30)), None);
}

#[test]
fn a_drop_of_21_points_is_more_than_20() {
    let h = history(&[(10, 71), (0, 50)]);
    let drop = dropped_more_than(&h, now(), 20, TimeDelta::days(30)).unwrap();
    assert_eq!(
        drop,
        ScoreDrop {
            from: 71,
            from_at: days_ago(10),
            to: 50,
            points: 21
        }
    );
}

#[test]
fn a_drop_is_measured_from_the_highest_score_within_the_window() {
    // 30 days ago it was 55, but two weeks ago it peaked at 85.
    let h = history(&[(40, 55), (14, 85), (7, 70), (0, 60)]);
    let drop = largest_drop(&h, now(), TimeDelta::days(30)).unwrap();
    assert_eq!((drop.from, drop.to, drop.points), (85, 60, 25));
}

#[test]
fn the_score_in_force_when_the_window_opened_counts_as_a_peak() {
    let h = history(&[(45, 90), (0, 60)]);
    let drop = dropped_more_than(&h, now(), 20, TimeDelta::days(30)).unwrap();
    assert_eq!(drop.from, 90);
}

#[test]
fn a_fall_that_happened_before_the_window_is_not_a_drop_now() {
    let h = history(&[(60, 90), (40, 50), (0, 50)]);
    assert_eq!(dropped_more_than(&h, now(), 20, TimeDelta::days(30)), None);
}

#[test]
fn a_rising_score_has_no_drop() {
    let h = history(&[(20, 40), (0, 80)]);
    assert_eq!(largest_drop(&h, now(), TimeDelta::days(30)), None);
}

#[test]
fn an_empty_history_has_no_change_and_no_drop() {
    assert_eq!(change_over(&[], now(), TimeDelta::days(7)), None);
    assert_eq!(largest_drop(&[], now(), TimeDelta::days(30)), None);
}

#[test]
fn yellow_to_red_is_turning_red() {
    assert!(turned_red(Some(Category::Yellow), Some(Category::Red)));
    assert!(turned_red(Some(Category::Green), Some(Category::Red)));
}

#[test]
fn staying_red_is_not_turning_red_again() {
    assert!(!turned_red(Some(Category::Red), Some(Category::Red)));
}

#[test]
fn leaving_red_or_staying_out_of_it_is_not_turning_red() {
    assert!(!turned_red(Some(Category::Red), Some(Category::Yellow)));
    assert!(!turned_red(Some(Category::Green), Some(Category::Yellow)));
    assert!(!turned_red(Some(Category::Red), None));
}

#[test]
fn a_first_score_that_is_red_counts_as_turning_red() {
    assert!(turned_red(None, Some(Category::Red)));
}
