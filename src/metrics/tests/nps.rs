use super::{days_ago, now};
use crate::domain::{AccountId, ContactId};
use crate::metrics::{Nps, NpsReply, nps_of};
use chrono::TimeDelta;

fn answer(contact: i64, score: u8, ago_days: i64) -> NpsReply {
    NpsReply {
        account: AccountId(1),
        contact: ContactId(contact),
        score,
        at: days_ago(ago_days),
    }
}

fn last_90_days(answers: &[NpsReply]) -> Nps {
    nps_of(answers, now() - TimeDelta::days(90), now())
}

#[test]
fn no_answers_give_no_score_rather_than_zero() {
    let n = last_90_days(&[]);
    assert_eq!(n, Nps::default());
    assert_eq!(n.score(), None);
}

#[test]
fn all_promoters_score_plus_100_and_all_detractors_minus_100() {
    let promoters = [answer(1, 9, 1), answer(2, 10, 2)];
    assert_eq!(last_90_days(&promoters).score(), Some(100));
    let detractors = [answer(1, 0, 1), answer(2, 6, 2)];
    assert_eq!(last_90_days(&detractors).score(), Some(-100));
    let passives = [answer(1, 7, 1), answer(2, 8, 2)];
    assert_eq!(last_90_days(&passives).score(), Some(0));
}

#[test]
fn six_is_a_detractor_seven_and_eight_are_passive_nine_is_a_promoter() {
    let n = last_90_days(&[
        answer(1, 6, 1),
        answer(2, 7, 1),
        answer(3, 8, 1),
        answer(4, 9, 1),
    ]);
    assert_eq!(
        n,
        Nps {
            answers: 4,
            promoters: 1,
            passives: 2,
            detractors: 1
        }
    );
    assert_eq!(n.score(), Some(0));
}

#[test]
fn a_contact_counts_once_with_their_latest_answer_in_the_window() {
    // Contact 1 was a detractor 100 days ago (outside) and a promoter since; contact 2 went
    // from promoter to detractor inside the window.
    let n = last_90_days(&[
        answer(1, 2, 100),
        answer(1, 10, 10),
        answer(2, 10, 60),
        answer(2, 4, 5),
    ]);
    assert_eq!(
        n,
        Nps {
            answers: 2,
            promoters: 1,
            passives: 0,
            detractors: 1
        }
    );
}

#[test]
fn the_window_excludes_its_start_and_includes_now_and_nothing_after_now() {
    let n = last_90_days(&[answer(1, 10, 90), answer(2, 10, 0), answer(3, 0, -1)]);
    assert_eq!((n.answers, n.promoters), (1, 1));
}

#[test]
fn the_score_is_rounded_to_a_whole_number() {
    // 2 promoters, 1 detractor of 3: 33.3 → 33; 1 of 3 promoters → 33; 2 of 3 detractors → -67.
    let n = last_90_days(&[answer(1, 9, 1), answer(2, 9, 1), answer(3, 0, 1)]);
    assert_eq!(n.score(), Some(33));
    let n = last_90_days(&[answer(1, 0, 1), answer(2, 0, 1), answer(3, 8, 1)]);
    assert_eq!(n.score(), Some(-67));
}
