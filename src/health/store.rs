//! The edge of the health core: gathers the facts for many accounts at once, scores them with
//! the pure core, and keeps every result. The only I/O in `health`.
//! The facts are read in `facts`.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

use super::{Category, HealthConfig, HealthInput, HealthScore, score as score_input};
use crate::domain::{AccountId, Accounts};

mod asked;
mod facts;
mod history;
mod latest;
mod summary;

pub use asked::read as read_asked;
pub use asked::{AskedTouch, AskedTouches, LOOKBACK as ASKED_LOOKBACK, ResponseCounts};
pub use facts::build_inputs;
pub use history::{StoredScore, history, scores_between};
pub use latest::{ScoreNow, from_history as latest_from_history, latest_at};
pub use summary::PriorScores;
use summary::SummaryRow;

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
    let done = recompute_sharing(pool, config, now, cause, accounts, TimeDelta::zero()).await?;
    Ok(done.scores)
}

/// What a recomputation read and computed for a group of accounts, handed on to the
/// escalation rules so that they read none of it again.
#[derive(Debug, Default)]
pub struct Recomputed {
    pub scores: Vec<(AccountId, HealthScore)>,
    /// The asked touches, with each one's answers (the rules' silence counts them).
    pub asked: AskedTouches,
    /// Each account's scores before the new one, over the `history` asked for.
    pub prior: BTreeMap<AccountId, PriorScores>,
}

/// As [`recompute_accounts`], keeping what it read for the escalation rules that follow:
/// the asked touches and the scores of the last `history` before the new ones.
pub async fn recompute_sharing(
    pool: &PgPool,
    config: &HealthConfig,
    now: DateTime<Utc>,
    cause: &str,
    accounts: Accounts<'_>,
    history: TimeDelta,
) -> anyhow::Result<Recomputed> {
    let asked = asked::read(pool, now, accounts).await?;
    let inputs = facts::inputs_with(pool, config, now, accounts, &asked)
        .await
        .context("reading the health facts")?;
    if inputs.is_empty() {
        return Ok(Recomputed::default());
    }
    let prior = summary::read_prior(pool, now, accounts, history).await?;
    // Scoring a chunk of the portfolio is pure work for a core: kept off the async workers,
    // so the other chunk's queries and the server's other tasks go on meanwhile. One
    // account (a reply, a signal) is scored in place, cheaper than the hand-over.
    let (scores, rows) = if inputs.len() > 1 {
        let config = config.clone();
        tokio::task::spawn_blocking(move || score_rows(&inputs, &config))
            .await
            .context("scoring the accounts")??
    } else {
        score_rows(&inputs, config)?
    };
    store(pool, now, cause, &rows, &prior, &asked).await?;
    Ok(Recomputed {
        scores,
        asked,
        prior,
    })
}

/// Writes the scores and the summary rows beside them (`account_health`) together or not at
/// all. The summary rows go first, naming the ids the scores are about to take, so that the
/// trigger that keeps them for other writers leaves them be.
async fn store(
    pool: &PgPool,
    now: DateTime<Utc>,
    cause: &str,
    rows: &ScoreRows,
    prior: &BTreeMap<AccountId, PriorScores>,
    asked: &AskedTouches,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await.context("storing the health scores")?;
    let ids = sqlx::query_scalar!(
        r#"select nextval(pg_get_serial_sequence('health_scores', 'id')) as "id!"
             from generate_series(1, $1::int4)"#,
        i32::try_from(rows.ids.len()).context("too many scores at once")?
    )
    .fetch_all(&mut *tx)
    .await
    .context("numbering the health scores")?;
    let summaries: Vec<SummaryRow> = (0..ids.len())
        .filter_map(|i| {
            let account = AccountId(rows.ids[i]);
            let score = (rows.scores[i], rows.categories[i].clone());
            SummaryRow::after(account, ids[i], score, prior.get(&account), asked, now)
        })
        .collect();
    summary::keep(&mut tx, now, &summaries).await?;
    sqlx::query(
        "insert into health_scores
             (id, account_id, computed_at, score, category, model, components, missing, summary,
              cause)
         select u.id, u.account_id, $2, u.score, u.category, u.model, u.components,
                array(select jsonb_array_elements_text(u.missing)), u.summary, $3
         from unnest($10::bigint[], $1::bigint[], $4::smallint[], $5::text[], $6::text[],
                     $7::jsonb[], $8::jsonb[], $9::text[])
              as u(id, account_id, score, category, model, components, missing, summary)",
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
    .bind(&ids)
    .execute(&mut *tx)
    .await
    .context("storing the health scores")?;
    tx.commit().await.context("storing the health scores")?;
    Ok(())
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
