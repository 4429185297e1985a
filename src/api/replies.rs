//! `GET /api/v1/accounts/{id}/replies`: what the account's contacts answered, newest first, a
//! page at a time. An erased contact's replies keep their score and choice, not their words.

use axum::Json;
use axum::extract::{Path, State};
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ErrorBody;
use super::query::{self, ApiQuery};
use super::{ApiError, ApiState};
use crate::inbound::replies::{ReplyKey, StoredReply, of_account};

const CURSOR_TAG: &str = "replies before:";

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReplyQuery {
    /// Received at or after this instant: a date (its start in UTC) or an RFC 3339 time.
    #[param(example = "2026-03-01")]
    pub since: Option<String>,
    /// Page size, 1 to 200 (50 when left out).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
}

/// A page of replies, newest first; pass `next_cursor` back as `cursor` for the next.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplyPage {
    pub items: Vec<StoredReply>,
    /// Absent on the last page.
    pub next_cursor: Option<String>,
}

/// A page ends at a reply's arrival and id ("micros:id"): replies arrive out of id order
/// when a channel delivers late, and the list is in the order they were received.
fn position(key: &ReplyKey) -> String {
    format!("{}:{}", key.received_at.timestamp_micros(), key.id)
}

fn read_position(p: &str) -> Option<ReplyKey> {
    let (micros, id) = p.split_once(':')?;
    Some(ReplyKey {
        received_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id: id.parse().ok()?,
    })
}

/// The account's replies: scores, check-in choices and texts, who sent them (contact id),
/// on which channel, when, and the touch they answer.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/replies", tag = "replies",
    params(("id" = i64, Path, description = "the account's id"), ReplyQuery),
    security(("bearer" = [])),
    responses((status = 200, body = ReplyPage), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody,
        description = "a parameter is unknown or does not parse; `fields` names it")))]
#[tracing::instrument(skip_all, fields(account = id))]
pub async fn list(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<ReplyQuery>,
) -> Result<Json<ReplyPage>, ApiError> {
    let limit = query::limit(q.limit.as_deref())?;
    let before = query::read_cursor(CURSOR_TAG, q.cursor.as_deref(), read_position)?;
    let since = query::instant("since", q.since.as_deref())?;
    let account = super::accounts::account(&state, id).await?.id;
    let rows = of_account(&state.pool, account, since, before, limit + 1).await?;
    let (items, next_cursor) = query::page(rows, limit, |r| position(&r.key()), CURSOR_TAG);
    Ok(Json(ReplyPage { items, next_cursor }))
}
