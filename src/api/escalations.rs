//! `GET /api/v1/escalations` (filtered, a page at a time, filtered and paged in SQL) and
//! `GET /api/v1/escalations/{id}` with its history: what `touchbot escalation list` and
//! `show` print.

use anyhow::Context as _;
use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::account_views::csm_id;
use super::error::ErrorBody;
use super::query::{self, ApiQuery};
use super::{ApiError, ApiState};
use crate::domain::EscalationId;
use crate::escalation::store::{self, EscalationRow, Event, Filter, Search};
use crate::escalation::{Level, Status};

const CURSOR_TAG: &str = "escalations after:";

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EscalationQuery {
    /// open, acknowledged or resolved; every status when left out.
    #[param(value_type = Option<Status>)]
    pub status: Option<String>,
    /// The highest rung of the ladder told so far: csm, manager or vp.
    #[param(value_type = Option<Level>)]
    pub level: Option<String>,
    /// Only this account's (its id).
    #[param(value_type = Option<i64>)]
    pub account: Option<String>,
    /// Only those this staff member owns: an id, a name or a unique part of it.
    pub csm: Option<String>,
    /// Opened at or after this instant: a date (its start in UTC) or an RFC 3339 time.
    #[param(example = "2026-03-01")]
    pub opened_after: Option<String>,
    /// Opened before this instant (not included).
    #[param(example = "2026-04-01T00:00:00Z")]
    pub opened_before: Option<String>,
    /// Page size, 1 to 200 (50 when left out).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
}

/// A page of escalations, oldest first; pass `next_cursor` back as `cursor` for the next.
#[derive(Debug, Serialize, ToSchema)]
pub struct EscalationPage {
    pub items: Vec<EscalationRow>,
    /// Absent on the last page.
    pub next_cursor: Option<String>,
}

/// One escalation with everything that happened to it, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EscalationDetail {
    pub escalation: EscalationRow,
    pub events: Vec<Event>,
}

/// The filters asked for, and the page size.
async fn search(state: &ApiState, q: &EscalationQuery) -> Result<(Search, i64), ApiError> {
    let limit = query::limit(q.limit.as_deref())?;
    let after = query::read_cursor(CURSOR_TAG, q.cursor.as_deref(), |p| p.parse().ok())?;
    let opened_after = query::instant("opened_after", q.opened_after.as_deref())?;
    let opened_before = query::instant("opened_before", q.opened_before.as_deref())?;
    if let (Some(from), Some(to)) = (opened_after, opened_before) {
        query::ordered("opened_after", from, "opened_before", to)?;
    }
    let mut s = Search {
        status: query::parsed("status", q.status.as_deref())?,
        level: query::parsed("level", q.level.as_deref())?,
        opened_after,
        opened_before,
        after: after.map(EscalationId),
        // One more than the page, to learn whether another follows.
        limit: Some(limit + 1),
        ..Search::default()
    };
    if let Some(id) = query::id("account", q.account.as_deref())? {
        // A filter naming nothing is the parameter's fault, as an unknown `csm` is.
        s.account = Some(
            super::accounts::account(state, id)
                .await
                .map_err(|e| match e {
                    ApiError::NotFound(m) => ApiError::field("account", m),
                    e => e,
                })?
                .id,
        );
    }
    if let Some(key) = &q.csm {
        s.owner = Some(csm_id(&state.pool, key).await?);
    }
    Ok((s, limit))
}

/// Escalations in the order they were opened (by id), filtered, a page at a time.
#[utoipa::path(get, path = "/api/v1/escalations", tag = "escalations",
    params(EscalationQuery), security(("bearer" = [])),
    responses((status = 200, body = EscalationPage), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody,
        description = "a parameter is unknown or does not parse; `fields` names it")))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<ApiState>,
    ApiQuery(q): ApiQuery<EscalationQuery>,
) -> Result<Json<EscalationPage>, ApiError> {
    let (s, limit) = search(&state, &q).await?;
    let mut conn = state.pool.acquire().await.context("reading escalations")?;
    let rows = store::fetch(&mut conn, Filter::Search(s), false)
        .await
        .context("reading escalations")?;
    let (items, next_cursor) = query::page(rows, limit, |e| e.id.to_string(), CURSOR_TAG);
    Ok(Json(EscalationPage { items, next_cursor }))
}

/// One escalation with its history (openings, re-alerts, ladder steps, what people did).
#[utoipa::path(get, path = "/api/v1/escalations/{id}", tag = "escalations",
    params(("id" = i64, Path, description = "the escalation's id")), security(("bearer" = [])),
    responses((status = 200, body = EscalationDetail), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(escalation = id))]
pub async fn show(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<EscalationDetail>, ApiError> {
    let mut conn = state
        .pool
        .acquire()
        .await
        .context("reading an escalation")?;
    let escalation = store::fetch(&mut conn, Filter::One(EscalationId(id)), false)
        .await
        .context("reading an escalation")?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("no escalation has the id {id}")))?;
    let events = store::events(&mut conn, escalation.id)
        .await
        .context("reading an escalation's history")?;
    Ok(Json(EscalationDetail { escalation, events }))
}
