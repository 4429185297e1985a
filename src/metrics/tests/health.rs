use super::{account, churned, scored};
use crate::metrics::{HealthNow, HealthSummary, summarize_health};

#[test]
fn no_scored_account_gives_no_average_and_no_trend() {
    let s = summarize_health(&[account(1, "A"), account(2, "B")]);
    assert_eq!(
        s,
        HealthSummary {
            unscored: 2,
            ..HealthSummary::default()
        }
    );
}

#[test]
fn the_average_and_the_categories_cover_the_scored_accounts() {
    let s = summarize_health(&[
        scored(account(1, "A"), 90, None),
        scored(account(2, "B"), 60, None),
        scored(account(3, "C"), 30, None),
        account(4, "D"),
    ]);
    assert_eq!((s.green, s.yellow, s.red, s.unscored), (1, 1, 1, 1));
    assert_eq!(s.scored, 3);
    assert_eq!(s.average, Some(60.0));
    assert_eq!(s.change_30d, None);
}

#[test]
fn the_trend_is_the_mean_move_of_the_accounts_scored_30_days_ago_too() {
    // A new account (no score 30 days ago) does not pull the trend down.
    let s = summarize_health(&[
        scored(account(1, "A"), 80, Some(10)),
        scored(account(2, "B"), 70, Some(-4)),
        scored(account(3, "New"), 20, None),
    ]);
    assert_eq!(s.compared, 2);
    assert_eq!(s.change_30d, Some(3.0));
}

#[test]
fn a_churned_account_and_a_score_without_data_are_left_out_of_the_average() {
    let mut no_data = account(2, "B");
    no_data.health = Some(HealthNow {
        score: None,
        category: None,
        change_30d: None,
    });
    let s = summarize_health(&[
        scored(account(1, "A"), 80, None),
        no_data,
        churned(scored(account(3, "Gone"), 10, Some(-50))),
    ]);
    assert_eq!(s.average, Some(80.0));
    assert_eq!((s.scored, s.unscored, s.red), (1, 1, 0));
    assert_eq!(s.change_30d, None);
}
