//! `GET /api/v1/accounts/{id}/health`: the account's health history, every computation with
//! its score, category and components, newest first.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ErrorBody;
use super::query::{self, ApiQuery};
use super::{ApiError, ApiState};
use crate::domain::AccountId;
use crate::health::store::{StoredScore, scores_between};

/// How far back the history goes when `since` is left out.
const DEFAULT_DAYS: i64 = 90;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// From this instant on: a date (its start in UTC) or an RFC 3339 time. 90 days before
    /// `until` when left out.
    #[param(example = "2026-01-01")]
    pub since: Option<String>,
    /// Before this instant (not included); now when left out.
    #[param(example = "2026-04-01T00:00:00Z")]
    pub until: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthHistory {
    pub account_id: AccountId,
    /// The period covered: from `since` (included) to `until` (not included).
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Newest first; a computation that found too little data has no score or category.
    pub points: Vec<StoredScore>,
}

/// The account's health as computed over time (after each signal, reply and night).
#[utoipa::path(get, path = "/api/v1/accounts/{id}/health", tag = "health",
    params(("id" = i64, Path, description = "the account's id"), HistoryQuery),
    security(("bearer" = [])),
    responses((status = 200, body = HealthHistory), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody,
        description = "a parameter is unknown or does not parse; `fields` names it")))]
#[tracing::instrument(skip_all, fields(account = id))]
pub async fn history(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<HealthHistory>, ApiError> {
    let until = query::instant("until", q.until.as_deref())?.unwrap_or_else(Utc::now);
    let since = query::instant("since", q.since.as_deref())?
        .unwrap_or(until - TimeDelta::days(DEFAULT_DAYS));
    query::ordered("since", since, "until", until)?;
    let account = super::accounts::account(&state, id).await?.id;
    let points = scores_between(&state.pool, account, since, Some(until)).await?;
    Ok(Json(HealthHistory {
        account_id: account,
        since,
        until,
        points,
    }))
}
