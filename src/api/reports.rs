//! What `touchbot status` shows, as JSON: `GET /api/v1/portfolio` (the team metrics, a row per
//! CSM and the first page of accounts to look at; `GET /api/v1/accounts` lists them all), `GET /api/v1/metrics/team` and `GET /api/v1/metrics/csm/{staff}`
//! (the figures alone, over a chosen period). Same loaders, same figures as the CLI, `/status`
//! in chat and the weekly digest.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ErrorBody;
use super::query::{self, ApiQuery};
use super::{ApiError, ApiState};
use crate::metrics::{self, CsmMetrics, Params, Scope, TeamMetrics};
use crate::status::{Portfolio, portfolio_of};
use crate::storage::{StoreError, staff};

/// The period the figures look back over when `from` is left out (as `touchbot status`).
const DEFAULT_DAYS: i64 = 90;

/// No parameters: any given is refused by name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoQuery {}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// Where the NPS and reply-rate windows start (not included): a date (its start in UTC)
    /// or an RFC 3339 time; 90 days before `to` when left out.
    #[param(example = "2026-01-01")]
    pub from: Option<String>,
    /// The instant the figures describe (health, open escalations and renewals as they were
    /// then); now when left out. Not in the future.
    #[param(example = "2026-04-01")]
    pub to: Option<String>,
}

/// The whole portfolio's figures and a row of them per CSM.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamReport {
    pub metrics: TeamMetrics,
    /// Every CSM (and whoever else owns accounts), by name; then the accounts nobody owns.
    pub by_csm: Vec<CsmMetrics>,
}

/// The instant and the look-back settings a period asks for.
fn period(state: &ApiState, q: &PeriodQuery) -> Result<(DateTime<Utc>, Params), ApiError> {
    let now = Utc::now();
    let to = query::instant("to", q.to.as_deref())?.unwrap_or(now);
    // A minute's grace for a caller whose clock runs ahead of ours.
    if to > now + TimeDelta::minutes(1) {
        return Err(ApiError::field(
            "to",
            "is in the future; figures describe what has happened (leave it out for now)",
        ));
    }
    let to = to.min(now);
    let from = query::instant("from", q.from.as_deref())?;
    let from = from.unwrap_or(to - TimeDelta::days(DEFAULT_DAYS));
    query::ordered("from", from, "to", to)?;
    let params = Params {
        nps_window: to - from,
        response_window: to - from,
        ..Params::from_settings(&state.settings)
    };
    Ok((to, params))
}

/// The portfolio as `touchbot status` shows it: the team metrics, a row per CSM and the 25
/// accounts that most need attention (red, then yellow, then unscored, then green; the biggest
/// fall over 30 days, the lowest score, the nearest renewal first), with `total_accounts`.
/// `GET /api/v1/accounts` pages through every account.
#[utoipa::path(get, path = "/api/v1/portfolio", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = Portfolio), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "a parameter was given; there are none")))]
#[tracing::instrument(skip_all)]
pub async fn portfolio(
    State(state): State<ApiState>,
    ApiQuery(NoQuery {}): ApiQuery<NoQuery>,
) -> Result<Json<Portfolio>, ApiError> {
    let params = Params::from_settings(&state.settings);
    Ok(Json(
        portfolio_of(&state.pool, Utc::now(), None, &params).await?,
    ))
}

/// The team metrics of the whole portfolio and of each CSM, over a period.
#[utoipa::path(get, path = "/api/v1/metrics/team", tag = "reports", params(PeriodQuery),
    security(("bearer" = [])),
    responses((status = 200, body = TeamReport), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody,
        description = "a parameter is unknown or does not parse; `fields` names it")))]
#[tracing::instrument(skip_all)]
pub async fn team(
    State(state): State<ApiState>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Json<TeamReport>, ApiError> {
    let (at, params) = period(&state, &q)?;
    let facts = metrics::load(&state.pool, at, None, &params).await?;
    Ok(Json(TeamReport {
        metrics: metrics::compute(&facts, Scope::Portfolio, &params),
        by_csm: metrics::by_csm(&facts, &params),
    }))
}

/// One CSM's metrics (the accounts they own now), over a period.
#[utoipa::path(get, path = "/api/v1/metrics/csm/{staff}", tag = "reports",
    params(("staff" = String, Path, description = "a staff id, a name or a unique part of it"),
        PeriodQuery),
    security(("bearer" = [])),
    responses((status = 200, body = CsmMetrics), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody,
        description = "a parameter does not parse, or the name fits several people")))]
#[tracing::instrument(skip_all)]
pub async fn csm(
    State(state): State<ApiState>,
    Path(key): Path<String>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Json<CsmMetrics>, ApiError> {
    let (at, params) = period(&state, &q)?;
    let person = staff::find(&state.pool, &key).await.map_err(|e| match e {
        e @ StoreError::Ambiguous { .. } => ApiError::field("staff", e.to_string()),
        e => e.into(),
    })?;
    let facts = metrics::load(&state.pool, at, Some(person.id), &params).await?;
    Ok(Json(CsmMetrics {
        staff_id: Some(person.id),
        name: person.name,
        metrics: metrics::compute(&facts, Scope::Csm(person.id), &params),
    }))
}
