//! The latest score of many accounts at an instant, with the one in force 30 days before:
//! from the per-account summary (`account_health`) where it holds what that instant would
//! read, otherwise from the history. The portfolio's figures (`metrics`) and the account
//! tables read it here, so both fall back to the history the same way.

use std::collections::HashMap;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::AccountId;
use crate::health::Category;

/// An account's latest stored score at an instant, without its components.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreNow {
    /// The row of `health_scores` it is.
    pub score_id: i64,
    /// None when the computation found too little data to score.
    pub score: Option<u8>,
    pub category: Option<Category>,
    /// The latest score with a value 30 days before the instant asked.
    pub score_30d_ago: Option<u8>,
}

impl ScoreNow {
    pub fn new(
        score_id: i64,
        score: Option<i16>,
        category: Option<&str>,
        score_30d_ago: Option<i16>,
    ) -> ScoreNow {
        ScoreNow {
            score_id,
            score: score.and_then(|s| u8::try_from(s).ok()),
            category: category.and_then(Category::from_stored),
            score_30d_ago: score_30d_ago.and_then(|s| u8::try_from(s).ok()),
        }
    }

    /// Points gained (negative: lost) against the score in force 30 days before.
    pub fn change_30d(&self) -> Option<i32> {
        Some(i32::from(self.score?) - i32::from(self.score_30d_ago?))
    }
}

/// The latest score at `now` of the accounts `among` (every one for `None`) scored by then.
pub async fn latest_at(
    pool: &PgPool,
    now: DateTime<Utc>,
    among: Option<&[i64]>,
) -> anyhow::Result<HashMap<AccountId, ScoreNow>> {
    let rows = sqlx::query!(
        r#"select account_id as "account_id!", score_id as "score_id!", score,
                  category, score_30d_ago
           from account_health_at($1)
           where $2::int8[] is null or account_id = any($2)"#,
        now,
        among
    )
    .fetch_all(pool)
    .await
    .context("reading the latest scores from the summary")?;
    let mut out: HashMap<AccountId, ScoreNow> = rows
        .into_iter()
        .map(|r| {
            let s = ScoreNow::new(r.score_id, r.score, r.category.as_deref(), r.score_30d_ago);
            (AccountId(r.account_id), s)
        })
        .collect();
    let uncovered: Option<Vec<i64>> = among.map(|ids| {
        ids.iter()
            .copied()
            .filter(|id| !out.contains_key(&AccountId(*id)))
            .collect()
    });
    if uncovered.as_ref().is_none_or(|ids| !ids.is_empty()) {
        out.extend(from_history(pool, now, uncovered.as_deref()).await?);
    }
    Ok(out)
}

/// As [`latest_at`], from the history, for the accounts among `among` (every one for `None`)
/// whose summary row does not describe `now` (scored after it, or never summarized): a probe
/// of the history per account, which the summary spares the others.
pub async fn from_history(
    pool: &PgPool,
    now: DateTime<Utc>,
    among: Option<&[i64]>,
) -> anyhow::Result<HashMap<AccountId, ScoreNow>> {
    let rows = sqlx::query!(
        r#"select a.id, h.id as score_id, h.score as "score?", h.category as "category?",
                  b.score as "score_30d_ago?"
           from accounts a
           cross join lateral (
               select id, score, category from health_scores
               where account_id = a.id and computed_at <= $1
               order by computed_at desc, id desc limit 1
           ) h
           left join lateral (
               select score from health_scores
               where account_id = a.id and score is not null
                 and computed_at <= $1::timestamptz - interval '30 days'
               order by computed_at desc, id desc limit 1
           ) b on true
           where ($2::int8[] is null or a.id = any($2))
             and not exists (select 1 from account_health_at($1) s where s.account_id = a.id)"#,
        now,
        among
    )
    .fetch_all(pool)
    .await
    .context("reading the latest scores from the history")?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let s = ScoreNow::new(r.score_id, r.score, r.category.as_deref(), r.score_30d_ago);
            (AccountId(r.id), s)
        })
        .collect())
}
