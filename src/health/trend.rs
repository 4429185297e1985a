//! How the score moves. The trend matters as much as the value ("65 and rising beats 75 and
//! falling"), and two escalations hang on it: a drop of more than N points within 30 days, and
//! the category turning red.
//!
//! A history is a list of scores with their times, in any order. The score "at" an instant is
//! the latest one recorded at or before it; points after `now` are ignored.

use super::score::Category;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScorePoint {
    pub at: DateTime<Utc>,
    pub score: u8,
}

/// Change in points over the last 7, 30 and 90 days; `None` where the history does not reach
/// that far back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trend {
    pub change_7d: Option<i32>,
    pub change_30d: Option<i32>,
    pub change_90d: Option<i32>,
}

/// A fall from a recent high to the current score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreDrop {
    pub from: u8,
    pub from_at: DateTime<Utc>,
    pub to: u8,
    pub points: u8,
}

/// The score in force at `at`: the latest point at or before it (the later one on a tie).
pub fn score_at(history: &[ScorePoint], at: DateTime<Utc>) -> Option<ScorePoint> {
    history
        .iter()
        .filter(|p| p.at <= at)
        .fold(None, |best: Option<ScorePoint>, p| match best {
            Some(b) if b.at > p.at => Some(b),
            _ => Some(*p),
        })
}

/// Current score minus the score in force `window` ago.
pub fn change_over(history: &[ScorePoint], now: DateTime<Utc>, window: TimeDelta) -> Option<i32> {
    let current = score_at(history, now)?;
    let before = score_at(history, now - window)?;
    Some(i32::from(current.score) - i32::from(before.score))
}

pub fn trend(history: &[ScorePoint], now: DateTime<Utc>) -> Trend {
    Trend {
        change_7d: change_over(history, now, TimeDelta::days(7)),
        change_30d: change_over(history, now, TimeDelta::days(30)),
        change_90d: change_over(history, now, TimeDelta::days(90)),
    }
}

/// The largest fall to the current score from any score in force during the last `window`
/// (including the one already in force when the window opened). `None` without a fall.
pub fn largest_drop(
    history: &[ScorePoint],
    now: DateTime<Utc>,
    window: TimeDelta,
) -> Option<ScoreDrop> {
    let current = score_at(history, now)?;
    let start = now - window;
    let peak = score_at(history, start)
        .into_iter()
        .chain(
            history
                .iter()
                .filter(|p| p.at > start && p.at <= now)
                .copied(),
        )
        // The highest score; on a tie, the latest, so `from_at` is as recent as it can be.
        .fold(None, |best: Option<ScorePoint>, p| match best {
            Some(b) if (b.score, b.at) > (p.score, p.at) => Some(b),
            _ => Some(p),
        })?;
    (peak.score > current.score).then(|| ScoreDrop {
        from: peak.score,
        from_at: peak.at,
        to: current.score,
        points: peak.score - current.score,
    })
}

/// A fall of strictly more than `points` within `window`: exactly `points` does not count.
pub fn dropped_more_than(
    history: &[ScorePoint],
    now: DateTime<Utc>,
    points: u8,
    window: TimeDelta,
) -> Option<ScoreDrop> {
    largest_drop(history, now, window).filter(|d| d.points > points)
}

/// True when the account is red now and was not before. An account that had no score yet
/// (`previous` is `None`) and is red at its first score counts as turned red: nobody has been
/// told about it.
pub fn turned_red(previous: Option<Category>, current: Option<Category>) -> bool {
    current == Some(Category::Red) && previous != Some(Category::Red)
}
