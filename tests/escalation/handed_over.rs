//! After a reassessment the rules are handed the new scores and the touches the scoring read
//! (`Known`) instead of reading them back: they must see exactly what reading them back shows.

use chrono::{DateTime, Duration, TimeDelta, Utc};
use sqlx::PgPool;
use touchbot::config::Settings;
use touchbot::domain::{AccountId, Accounts};
use touchbot::escalation::state::{Known, Loaded, load, load_knowing};
use touchbot::health::store::recompute_sharing;

use super::{client, contact, sent};
use crate::fixtures::replies::{self, Answer};
use crate::fixtures::{now, scores};

/// A score written by another path (an import, an older run), `days_ago`.
async fn stored_score(pool: &PgPool, a: AccountId, score: Option<i16>, days_ago: i64) {
    scores::stored_score(pool, a, score, now() - Duration::days(days_ago)).await;
}

async fn reply(pool: &PgPool, a: AccountId, contact: i64, touch: Option<&str>, at: DateTime<Utc>) {
    let touch = match touch {
        Some(key) => Some(
            sqlx::query_scalar("select id from touches where touch_key = $1")
                .bind(key)
                .fetch_one(pool)
                .await
                .unwrap(),
        ),
        None => None,
    };
    replies::stored_reply(pool, a, contact, touch, at, Answer::Checkin).await;
}

/// What the rules see of one account's health and touches, in a stable order.
fn seen(loaded: &Loaded, a: AccountId) -> String {
    let state = &loaded.states[&a];
    let mut health = state.health.clone();
    health.history.sort();
    let mut touches = state.touches.clone();
    touches.sort_by_key(|t| (t.sent_at, t.answered));
    format!("{health:?} {touches:?}")
}

#[sqlx::test]
async fn the_rules_see_the_same_health_and_touches_handed_over_as_read_back(pool: PgPool) {
    let settings = Settings::default();
    let config = &settings.escalation;
    let day = |n: i64| now() - Duration::days(n);
    let scored_before = client(&pool, "Northwind", None, None).await;
    let maria = contact(&pool, scored_before, "maria").await;
    let never_scored = client(&pool, "Contoso", None, None).await;
    let dana = contact(&pool, never_scored, "dana").await;

    // Answered by a linked reply; in the contact's own words two days later; not at all;
    // a survey too old for the rules, a check-in older still.
    sent(&pool, scored_before, maria, "linked", "checkin", day(40)).await;
    reply(&pool, scored_before, maria, Some("linked"), day(39)).await;
    sent(&pool, scored_before, maria, "own-words", "checkin", day(20)).await;
    reply(&pool, scored_before, maria, None, day(18)).await;
    sent(&pool, scored_before, maria, "silent", "nps", day(9)).await;
    sent(&pool, scored_before, maria, "old-survey", "nps", day(200)).await;
    sent(
        &pool,
        scored_before,
        maria,
        "old-checkin",
        "checkin",
        day(300),
    )
    .await;
    sent(&pool, never_scored, dana, "fresh", "checkin", day(1)).await;
    // Scores before: one too old for the drop window, one without enough data, two inside.
    stored_score(&pool, scored_before, Some(90), 45).await;
    stored_score(&pool, scored_before, Some(85), 20).await;
    stored_score(&pool, scored_before, Some(60), 10).await;
    stored_score(&pool, scored_before, None, 2).await;

    let ids = [scored_before, never_scored];
    let among = Accounts::Listed(&ids);
    let window = TimeDelta::days(i64::from(config.health_drop.window_days));
    let done = recompute_sharing(&pool, &settings.health, now(), "test", among, window)
        .await
        .unwrap();
    let handed = load_knowing(
        &pool,
        config,
        now(),
        among,
        Some(Known::after(&done, config, now())),
    )
    .await
    .unwrap();
    let read = load(&pool, config, now(), among).await.unwrap();

    for a in ids {
        assert_eq!(seen(&handed, a), seen(&read, a));
    }
    let state = &read.states[&scored_before];
    assert!(
        state.health.previous_category.is_none(),
        "the last score had too little data"
    );
    assert_eq!(
        state.health.history.len(),
        3,
        "two scores in the window and the new one"
    );
    assert_eq!(state.touches.len(), 3);
    assert_eq!(state.touches.iter().filter(|t| t.answered).count(), 2);
}
