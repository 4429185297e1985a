//! `/api/v1/webhooks`: subscriptions to outgoing events and their delivery log, through the
//! same `webhooks` functions as `touchbot webhook add/list/remove/deliveries`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiJson, ErrorBody, FieldProblem};
use super::{ApiError, ApiState, query as params};
use crate::domain::DeliveryStatus;
use crate::storage::StoreError;
use crate::webhooks::{self, Delivery, DeliveryFilter, Subscription};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// The receiver's full http(s) address.
    #[serde(default)]
    #[schema(required = true)]
    pub url: String,
    /// nps_answer, escalation_opened, escalation_resolved, contact_unreachable or
    /// health_category_changed; at least one.
    #[serde(default)]
    #[schema(required = true)]
    pub events: Vec<String>,
}

/// A subscription just made, with the secret its POSTs are signed with.
#[derive(Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: Subscription,
    /// Shown only now: keep it with the receiver. Each POST carries
    /// `X-Touchbot-Signature: sha256=<hex HMAC-SHA256 of the body under this secret>`.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<Subscription>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// planned, claimed, delivered, failed or cancelled.
    pub status: Option<String>,
    /// Page size, 1 to 200 (50 when left out).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
}

/// A page of the delivery log, newest first; pass `next_cursor` back as `cursor`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    /// Absent on the last page.
    pub next_cursor: Option<String>,
}

/// The delivery log runs newest first, so its cursor is "before this id".
const ORDER: &str = "before:";

/// Every bad field of the body at once, so a client fixes them in one go.
fn check(input: &WebhookInput) -> Result<(), ApiError> {
    let problems: Vec<FieldProblem> = [
        webhooks::parse_url(&input.url).err(),
        webhooks::parse_events(&input.events).err(),
    ]
    .into_iter()
    .flatten()
    .map(|e| match e {
        StoreError::Field { field, problem } => FieldProblem {
            field: field.into(),
            problem,
        },
        e => FieldProblem {
            field: "body".into(),
            problem: e.to_string(),
        },
    })
    .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(problems))
    }
}

/// Subscribe an address to kinds of events; the answer carries the signing secret, once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = WebhookInput,
    security(("bearer" = [])),
    responses((status = 201, body = CreatedWebhook), (status = 422, body = ErrorBody,
        description = "a bad url, or unknown or no events (the valid ones are listed)")))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<ApiState>,
    ApiJson(input): ApiJson<WebhookInput>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    check(&input)?;
    let created = webhooks::add(&state.pool, &input.url, &input.events).await?;
    tracing::info!(webhook = created.subscription.id, "webhook added");
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            webhook: created.subscription,
            secret: created.secret,
        }),
    ))
}

/// The subscriptions events are sent to (never their secrets).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = WebhookList)))]
#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<ApiState>) -> Result<Json<WebhookList>, ApiError> {
    let webhooks = webhooks::list(&state.pool).await?;
    Ok(Json(WebhookList { webhooks }))
}

fn no_such_webhook(id: i64) -> ApiError {
    ApiError::NotFound(format!(
        "no webhook has the id {id}; GET /api/v1/webhooks lists them"
    ))
}

/// Stop sending to a subscription: deliveries not yet made are cancelled; the log stays.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "the webhook's id")), security(("bearer" = [])),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorBody,
        description = "no such webhook, or removed already")))]
#[tracing::instrument(skip_all, fields(webhook = id))]
pub async fn remove(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    match webhooks::remove(&state.pool, id).await {
        Ok(cancelled) => {
            tracing::info!(cancelled, "webhook removed");
            Ok(StatusCode::NO_CONTENT)
        }
        Err(StoreError::NotFound { .. }) => Err(no_such_webhook(id)),
        Err(e) => Err(e.into()),
    }
}

/// A subscription's delivery log, newest first, with each delivery's state and the
/// receiver's last answer; a removed subscription keeps its log.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = i64, Path, description = "the webhook's id"), DeliveriesQuery),
    security(("bearer" = [])),
    responses((status = 200, body = DeliveryPage), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(webhook = id))]
pub async fn deliveries(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Result<Json<DeliveryPage>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let limit = params::limit(q.limit.as_deref())?;
    let filter = DeliveryFilter {
        subscription: Some(id),
        status: q
            .status
            .as_deref()
            .map(|s| {
                s.parse::<DeliveryStatus>()
                    .map_err(|e| ApiError::field("status", e.0))
            })
            .transpose()?,
        before: q
            .cursor
            .as_deref()
            .map(|c| params::read_cursor(ORDER, Some(c), |p| p.parse().ok()))
            .transpose()?
            .flatten(),
    };
    if !webhooks::known(&state.pool, id).await? {
        return Err(no_such_webhook(id));
    }
    let rows = webhooks::deliveries(&state.pool, &filter, limit + 1).await?;
    let (deliveries, next_cursor) = params::page(rows, limit, |d| d.id.to_string(), ORDER);
    Ok(Json(DeliveryPage {
        deliveries,
        next_cursor,
    }))
}
