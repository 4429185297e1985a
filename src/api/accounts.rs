//! `/api/v1/accounts`: create, upsert by the CRM's id, change, list and show. Every change
//! re-plans the account's touches, as `touchbot account add/update` does.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use super::account_views::{AccountDetail, AccountInput, AccountPage, AccountPatch, AccountView};
use super::error::{ApiJson, ErrorBody};
use super::{ApiError, ApiState, query as params};
use crate::domain::AccountId;
use crate::health::store::{latest_scores, latest_scores_among};
use crate::outbound::planner;
use crate::storage::accounts::{Account, AccountFilter};
use crate::storage::{accounts, external_ids};

pub async fn replan(state: &ApiState, id: AccountId) -> Result<(), ApiError> {
    planner::replan_account(&state.pool, &state.settings.calendar, id, Utc::now()).await?;
    Ok(())
}

/// The account with this id, or a 404 naming it.
pub async fn account(state: &ApiState, id: i64) -> Result<Account, ApiError> {
    accounts::get(&state.pool, AccountId(id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no account has the id {id}")))
}

async fn view(state: &ApiState, id: AccountId) -> Result<AccountView, ApiError> {
    let a = account(state, id.0).await?;
    let ext = external_ids::of(&state.pool, id).await?;
    let mut health = latest_scores(&state.pool, Utc::now(), Some(id)).await?;
    Ok(AccountView::new(a, ext, health.remove(&id)))
}

/// Create an account; its touch calendar is planned at once.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = AccountInput,
    security(("bearer" = [])),
    responses((status = 201, body = AccountView), (status = 409, body = ErrorBody,
        description = "an account with this name exists"), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<ApiState>,
    ApiJson(input): ApiJson<AccountInput>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let new = input.to_new(&state.pool).await?;
    let a = accounts::create(&state.pool, &new).await?;
    replan(&state, a.id).await?;
    Ok((StatusCode::CREATED, Json(view(&state, a.id).await?)))
}

/// Create or bring up to date the account with this external id (your CRM's): running the
/// same sync twice leaves one account.
#[utoipa::path(put, path = "/api/v1/accounts/by-external-id/{external_id}", tag = "accounts",
    params(("external_id" = String, Path, description = "the account's id in your CRM")),
    request_body = AccountInput, security(("bearer" = [])),
    responses((status = 201, body = AccountView, description = "created"),
        (status = 200, body = AccountView, description = "updated"),
        (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn upsert(
    State(state): State<ApiState>,
    Path(external_id): Path<String>,
    ApiJson(input): ApiJson<AccountInput>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let new = input.to_new(&state.pool).await?;
    let (a, created) = external_ids::upsert(&state.pool, &external_id, &new).await?;
    replan(&state, a.id).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view(&state, a.id).await?)))
}

/// Change an account; its future touches are re-planned.
#[utoipa::path(patch, path = "/api/v1/accounts/{id}", tag = "accounts",
    params(("id" = i64, Path)), request_body = AccountPatch, security(("bearer" = [])),
    responses((status = 200, body = AccountView), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(account = id))]
pub async fn update(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    ApiJson(patch): ApiJson<AccountPatch>,
) -> Result<Json<AccountView>, ApiError> {
    let id = AccountId(id);
    let change = patch.to_update(&state.pool).await?;
    let a = accounts::update(&state.pool, id, &change).await?;
    if let Some(ext) = &patch.external_id {
        external_ids::set(&state.pool, a.id, ext.as_deref()).await?;
    }
    replan(&state, a.id).await?;
    Ok(Json(view(&state, a.id).await?))
}

/// One account with its health score, category and components, and its status.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = AccountDetail), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(account = id))]
pub async fn show(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<AccountDetail>, ApiError> {
    let account = view(&state, AccountId(id)).await?;
    let status = crate::status::account_statuses(&state.pool, Utc::now(), Some(id))
        .await?
        .into_iter()
        .find(|s| s.id == id);
    Ok(Json(AccountDetail { account, status }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Health category: green, yellow or red.
    pub category: Option<String>,
    /// The owning CSM: a staff id or name.
    pub csm: Option<String>,
    /// Only accounts renewing before this date.
    pub renewal_before: Option<NaiveDate>,
    /// active, paused or churned.
    pub lifecycle: Option<String>,
    /// Page size, 1 to 200 (50 when left out).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
}

/// The accounts list runs in id order, so its cursor is "after this id".
const ORDER: &str = "after:";

/// Accounts in the order they were created, filtered, a page at a time.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", params(ListQuery),
    security(("bearer" = [])),
    responses((status = 200, body = AccountPage), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<ApiState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<AccountPage>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let limit = params::limit(q.limit.as_deref())?;
    let after = params::read_cursor(ORDER, q.cursor.as_deref(), |p| p.parse().ok())?.unwrap_or(0);
    let filter = filter(&state, &q).await?;
    let now = Utc::now();
    let rows = accounts::page(&state.pool, &filter, AccountId(after), limit + 1, now).await?;
    let (rows, next_cursor) = params::page(rows, limit, |a| a.id.0.to_string(), ORDER);
    let ids: Vec<AccountId> = rows.iter().map(|a| a.id).collect();
    let mut health = latest_scores_among(&state.pool, now, Some(&ids)).await?;
    let mut ext = external_ids::of_each(&state.pool, &ids).await?;
    let accounts = rows
        .into_iter()
        .map(|a| {
            let (h, e) = (health.remove(&a.id), ext.remove(&a.id));
            AccountView::new(a, e, h)
        })
        .collect();
    Ok(Json(AccountPage {
        accounts,
        next_cursor,
    }))
}

/// The list's filters, each refused by name when it cannot be read.
async fn filter(state: &ApiState, q: &ListQuery) -> Result<AccountFilter, ApiError> {
    let category = q
        .category
        .as_deref()
        .map(|c| {
            crate::health::Category::from_stored(&c.trim().to_ascii_lowercase())
                .ok_or_else(|| ApiError::field("category", "use green, yellow or red"))
        })
        .transpose()?;
    let lifecycle = params::parsed("lifecycle", q.lifecycle.as_deref())?;
    let csm = match &q.csm {
        Some(k) => Some(super::account_views::csm_id(&state.pool, k).await?),
        None => None,
    };
    Ok(AccountFilter {
        lifecycle,
        csm,
        renewal_before: q.renewal_before,
        category,
    })
}
