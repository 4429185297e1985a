//! The edge of the health core: gathers the facts for many accounts at once, scores them with
//! the pure core, and keeps every result. The only I/O in `health`.
//! The facts are read in `facts`.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{Category, HealthConfig, HealthInput, HealthScore, score as score_input};
use crate::domain::{AccountId, Accounts};

mod facts;
mod history;
mod latest;

pub use facts::build_inputs;
pub use history::{StoredScore, history, scores_between};
pub use latest::{ScoreNow, from_history as latest_from_history, latest_at};

/// The latest stored score of one account, for tables and cards.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct LatestHealth {
    /// 0-100; none when the computation found too little data to score.
    pub score: Option<u8>,
    pub category: Option<Category>,
    pub computed_at: DateTime<Utc>,
    /// Points gained (negative: lost) against the score in force 30 days before `now`.
    pub change_30d: Option<i32>,
    pub missing: Vec<String>,
    pub summary: String,
    /// The components as stored, with their explanations.
    pub components: Vec<super::ComponentScore>,
}

/// Scores every account that is not churned (or only `only`) at `now` and stores each result
/// as a new row of the history, all in one insert. `cause` says what asked for it ("nightly",
/// "signal", "reply").
pub async fn recompute(
    pool: &PgPool,
    config: &HealthConfig,
    now: DateTime<Utc>,
    cause: &str,
    only: Option<AccountId>,
) -> anyhow::Result<Vec<(AccountId, HealthScore)>> {
    recompute_among(
        pool,
        config,
        now,
        cause,
        only.as_ref().map(std::slice::from_ref),
    )
    .await
}

/// As [`recompute`], for the accounts `among` (every one for `None`): a batch of replies
/// rescores its accounts together.
pub async fn recompute_among(
    pool: &PgPool,
    config: &HealthConfig,
    now: DateTime<Utc>,
    cause: &str,
    among: Option<&[AccountId]>,
) -> anyhow::Result<Vec<(AccountId, HealthScore)>> {
    recompute_accounts(pool, config, now, cause, among.into()).await
}

/// As [`recompute`], for `accounts`: the nightly run goes through the portfolio a range of
/// ids at a time.
pub async fn recompute_accounts(
    pool: &PgPool,
    config: &HealthConfig,
    now: DateTime<Utc>,
    cause: &str,
    accounts: Accounts<'_>,
) -> anyhow::Result<Vec<(AccountId, HealthScore)>> {
    let inputs = build_inputs(pool, config, now, accounts)
        .await
        .context("reading the health facts")?;
    if inputs.is_empty() {
        return Ok(Vec::new());
    }
    // Scoring a chunk of the portfolio is pure work for a core: kept off the async workers,
    // so the other chunk's queries and the server's other tasks go on meanwhile. One
    // account (a reply, a signal) is scored in place, cheaper than the hand-over.
    let (scored, rows) = if inputs.len() > 1 {
        let config = config.clone();
        tokio::task::spawn_blocking(move || score_rows(&inputs, &config))
            .await
            .context("scoring the accounts")??
    } else {
        score_rows(&inputs, config)?
    };
    // The scores and the touch and NPS counts the portfolio's figures read beside them
    // (`account_health`, kept by a trigger) are written together or not at all.
    let mut tx = pool.begin().await.context("storing the health scores")?;
    sqlx::query(
        "insert into health_scores
             (account_id, computed_at, score, category, model, components, missing, summary, cause)
         select u.account_id, $2, u.score, u.category, u.model, u.components,
                array(select jsonb_array_elements_text(u.missing)), u.summary, $3
         from unnest($1::bigint[], $4::smallint[], $5::text[], $6::text[], $7::jsonb[],
                     $8::jsonb[], $9::text[])
              as u(account_id, score, category, model, components, missing, summary)",
    )
    .bind(&rows.ids)
    .bind(now)
    .bind(cause)
    .bind(&rows.scores)
    .bind(&rows.categories)
    .bind(&rows.models)
    .bind(&rows.components)
    .bind(&rows.missing)
    .bind(&rows.summaries)
    .execute(&mut *tx)
    .await
    .context("storing the health scores")?;
    crate::metrics::keep_response_counts(&mut tx, now, &rows.ids).await?;
    crate::metrics::keep_nps_counts(&mut tx, now, &rows.ids).await?;
    tx.commit().await.context("storing the health scores")?;
    Ok(scored)
}

/// The columns of the scores' insert, one entry per account.
struct ScoreRows {
    ids: Vec<i64>,
    scores: Vec<Option<i16>>,
    categories: Vec<Option<String>>,
    models: Vec<String>,
    components: Vec<serde_json::Value>,
    missing: Vec<serde_json::Value>,
    summaries: Vec<String>,
}

fn score_rows(
    inputs: &BTreeMap<AccountId, HealthInput>,
    config: &HealthConfig,
) -> anyhow::Result<(Vec<(AccountId, HealthScore)>, ScoreRows)> {
    let scored: Vec<(AccountId, HealthScore)> = inputs
        .iter()
        .map(|(account, input)| (*account, score_input(input, config)))
        .collect();
    let n = scored.len();
    let mut rows = ScoreRows {
        ids: Vec::with_capacity(n),
        scores: Vec::with_capacity(n),
        categories: Vec::with_capacity(n),
        models: Vec::with_capacity(n),
        components: Vec::with_capacity(n),
        missing: Vec::with_capacity(n),
        summaries: Vec::with_capacity(n),
    };
    for (account, s) in &scored {
        rows.ids.push(account.0);
        rows.scores.push(s.score.map(i16::from));
        rows.categories
            .push(s.category.map(|c| c.as_str().to_string()));
        rows.models.push(s.model.clone());
        rows.components.push(serde_json::to_value(&s.components)?);
        // text[] per row cannot travel in a ragged 2-D array, so each list goes as JSON.
        rows.missing.push(serde_json::to_value(&s.missing)?);
        rows.summaries.push(s.summary());
    }
    Ok((scored, rows))
}

/// The latest score of every account at `now` (or only `only`'s), with its change over 30 days.
pub async fn latest_scores(
    pool: &PgPool,
    now: DateTime<Utc>,
    only: Option<AccountId>,
) -> anyhow::Result<HashMap<AccountId, LatestHealth>> {
    latest_scores_among(pool, now, only.as_ref().map(std::slice::from_ref)).await
}

/// As `latest_scores`, for the accounts in `among` only (all of them for `None`): a page of
/// a list reads the scores of its own accounts, not the portfolio's.
pub async fn latest_scores_among(
    pool: &PgPool,
    now: DateTime<Utc>,
    among: Option<&[AccountId]>,
) -> anyhow::Result<HashMap<AccountId, LatestHealth>> {
    let among: Option<Vec<i64>> = among.map(|ids| ids.iter().map(|a| a.0).collect());
    // Which row is each account's latest, from the summary or the history (`latest`); then
    // those rows whole, by primary key. Either way the cost follows the accounts, not the
    // history, which grows by a row per account a night.
    let latest = latest::latest_at(pool, now, among.as_deref()).await?;
    let ids: Vec<i64> = latest.values().map(|s| s.score_id).collect();
    let rows = sqlx::query!(
        r#"select id, computed_at, missing, summary, components
           from health_scores where id = any($1)"#,
        &ids
    )
    .fetch_all(pool)
    .await
    .context("reading the latest scores' components")?;
    let mut whole: HashMap<i64, _> = rows.into_iter().map(|r| (r.id, r)).collect();
    let mut out = HashMap::with_capacity(latest.len());
    for (account, s) in latest {
        let Some(r) = whole.remove(&s.score_id) else {
            continue;
        };
        out.insert(
            account,
            LatestHealth {
                score: s.score,
                category: s.category,
                computed_at: r.computed_at,
                change_30d: s.change_30d(),
                missing: r.missing,
                summary: r.summary,
                components: serde_json::from_value(r.components)
                    .context("a stored health score has unreadable components")?,
            },
        );
    }
    Ok(out)
}
