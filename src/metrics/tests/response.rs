use chrono::{DateTime, TimeDelta, Utc};

use super::{days_ago, now};
use crate::domain::AccountId;
use crate::metrics::{AskedTouch, ResponseRate, response_rate};

fn touch(sent_days_ago: i64, reply_after: Option<TimeDelta>) -> AskedTouch {
    let sent_at = days_ago(sent_days_ago);
    AskedTouch {
        account: AccountId(1),
        sent_at,
        first_reply_at: reply_after.map(|d| sent_at + d),
    }
}

fn rate_at(touches: &[AskedTouch], now: DateTime<Utc>) -> ResponseRate {
    response_rate(touches, now, TimeDelta::days(90), TimeDelta::days(7))
}

#[test]
fn nothing_asked_gives_no_rate() {
    let r = rate_at(&[], now());
    assert_eq!(r, ResponseRate::default());
    assert_eq!(r.rate(), None);
}

#[test]
fn a_reply_within_the_window_answers_the_touch_and_a_later_one_does_not() {
    let r = rate_at(
        &[
            touch(30, Some(TimeDelta::hours(2))),
            touch(30, Some(TimeDelta::days(7))),
            touch(30, Some(TimeDelta::days(7) + TimeDelta::seconds(1))),
            touch(30, None),
        ],
        now(),
    );
    assert_eq!((r.asked, r.answered, r.waiting), (4, 2, 0));
    assert_eq!(r.rate(), Some(0.5));
}

#[test]
fn an_unanswered_touch_inside_its_window_waits_but_an_answered_one_counts_at_once() {
    let r = rate_at(
        &[
            touch(2, None),
            touch(1, Some(TimeDelta::hours(1))),
            touch(7, None),
        ],
        now(),
    );
    // Sent exactly 7 days ago: its window is over, so it is unanswered.
    assert_eq!((r.asked, r.answered, r.waiting), (2, 1, 1));
}

#[test]
fn a_reply_after_now_is_not_known_yet() {
    let t = touch(10, Some(TimeDelta::days(1)));
    let r = rate_at(&[t], days_ago(10) + TimeDelta::hours(12));
    assert_eq!((r.asked, r.answered, r.waiting), (0, 0, 1));
}

#[test]
fn only_touches_sent_in_the_period_count() {
    let r = rate_at(&[touch(90, None), touch(89, None), touch(-1, None)], now());
    assert_eq!((r.asked, r.waiting), (1, 0));
}
