//! An account's stored scores over a period: every computation whole, newest first (what the
//! API shows), and the numbers alone, oldest first (what a trend is drawn through). One query
//! serves both.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::domain::AccountId;
use crate::health::{Category, ComponentScore, ScorePoint};

/// One computation of an account's health, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StoredScore {
    pub computed_at: DateTime<Utc>,
    /// 0-100; none when no component had data ("not enough data").
    pub score: Option<u8>,
    pub category: Option<Category>,
    /// weighted, weighted (onboarding) or rules.
    pub model: String,
    /// One line: the score, the weakest part and what had no data.
    pub summary: String,
    /// The components that had no data.
    pub missing: Vec<String>,
    /// Each component with its weight, value and explanation.
    pub components: Vec<ComponentScore>,
    /// What asked for the computation: nightly, signal, reply, …
    pub cause: String,
}

/// Every score computed for `account` from `since` (inclusive) until `until` (exclusive, or
/// up to now), newest first, those with too little data to score included.
pub async fn scores_between(
    pool: &PgPool,
    account: AccountId,
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> anyhow::Result<Vec<StoredScore>> {
    let rows = sqlx::query!(
        r#"select computed_at, score, category, model, summary, missing, components, cause
           from health_scores
           where account_id = $1 and computed_at >= $2
             and ($3::timestamptz is null or computed_at < $3)
           order by computed_at desc, id desc"#,
        account.0,
        since,
        until
    )
    .fetch_all(pool)
    .await
    .context("reading the account's health history")?;
    rows.into_iter()
        .map(|r| {
            Ok(StoredScore {
                computed_at: r.computed_at,
                score: r.score.and_then(|s| u8::try_from(s).ok()),
                category: r.category.as_deref().and_then(Category::from_stored),
                model: r.model,
                summary: r.summary,
                missing: r.missing,
                components: serde_json::from_value(r.components)
                    .context("a stored health score has unreadable components")?,
                cause: r.cause,
            })
        })
        .collect()
}

/// Every score computed for `account` since `since`, oldest first. Computations that found
/// too little data to score are left out: a trend is drawn through numbers.
pub async fn history(
    pool: &PgPool,
    account: AccountId,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<ScorePoint>> {
    let mut points: Vec<ScorePoint> = scores_between(pool, account, since, None)
        .await?
        .into_iter()
        .filter_map(|s| {
            Some(ScorePoint {
                at: s.computed_at,
                score: s.score?,
            })
        })
        .collect();
    points.reverse();
    Ok(points)
}
