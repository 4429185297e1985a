//! `POST /api/v1/accounts/{id}/signals`: one fact or a batch, through the path of `touchbot
//! signal add`. Each has an idempotency key (given, or derived from its content), so a retried
//! batch counts once. The whole batch is checked before anything is stored.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiJson, ErrorBody, shape_error};
use super::{ApiError, ApiState};
use crate::domain::AccountId;
use crate::inbound::signal_store;
use crate::inbound::signals::{RawSignal, Signal, not_in_future, parse_signal};
use crate::storage::{StoreError, accounts, contacts};

/// The most signals one request may carry.
const MAX_BATCH: usize = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalInput {
    /// active_users, licences, login_days_30, feature_adoption, ticket_opened, ticket_closed,
    /// payment_on_time, payment_late, goal_set, goal_met, sponsor_present, sponsor_left,
    /// champion_changed, competitor_mentioned or renewal_progress.
    pub kind: String,
    /// The figure for the usage kinds; the amount paid for the payment kinds.
    pub value: Option<f64>,
    /// The ticket's id, for ticket_opened and ticket_closed.
    pub ticket: Option<String>,
    /// low, normal, high or critical, for ticket_opened.
    pub severity: Option<String>,
    /// The client's 1-5 rating of a closed ticket, when the helpdesk collected one.
    pub csat: Option<f64>,
    /// The competitor's name, for competitor_mentioned.
    pub competitor: Option<String>,
    /// The contact (id or name) who raised or closed the ticket.
    pub contact: Option<String>,
    /// When it happened; now when left out, but then `idempotency_key` is required (a retry
    /// must be recognisable).
    pub occurred_at: Option<DateTime<Utc>>,
    /// Your key for this fact; sending the same key again changes nothing. Left out, the key
    /// is derived from the account, kind, value, details and `occurred_at`.
    pub idempotency_key: Option<String>,
}

/// One signal, or `{"signals": [...]}`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Documents the body; it is read by hand to name the bad field.
pub enum SignalsBody {
    One(SignalInput),
    Batch { signals: Vec<SignalInput> },
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignalResult {
    pub idempotency_key: String,
    /// The stored signal's id; absent when this key was recorded before.
    pub signal_id: Option<i64>,
    /// False when the signal was recorded before: it was not counted again.
    pub recorded: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignalsResponse {
    pub results: Vec<SignalResult>,
}

/// Reads the body as a list of (where, input), naming `signals[i].field` in a batch.
fn inputs(body: Value) -> Result<Vec<(String, SignalInput)>, ApiError> {
    let read = |prefix: String, v: Value| {
        serde_path_to_error::deserialize::<_, SignalInput>(v)
            .map(|s| (prefix.clone(), s))
            .map_err(|e| shape_error(&prefix, e))
    };
    match body {
        Value::Object(mut o) if o.contains_key("signals") => {
            if o.len() > 1 {
                let other = o
                    .keys()
                    .find(|k| *k != "signals")
                    .cloned()
                    .unwrap_or_default();
                return Err(ApiError::field(other, "a batch holds only `signals`"));
            }
            let Some(Value::Array(items)) = o.remove("signals") else {
                return Err(ApiError::field("signals", "a list of signals"));
            };
            if items.is_empty() || items.len() > MAX_BATCH {
                return Err(ApiError::field(
                    "signals",
                    format!("1 to {MAX_BATCH} signals"),
                ));
            }
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| read(format!("signals[{i}]"), v))
                .collect()
        }
        v => Ok(vec![read(String::new(), v)?]),
    }
}

fn at(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.into()
    } else {
        format!("{prefix}.{field}")
    }
}

async fn check(
    state: &ApiState,
    account: AccountId,
    prefix: &str,
    input: SignalInput,
    now: DateTime<Utc>,
) -> Result<Signal, ApiError> {
    // Without either, a retry would get a new time and so a new derived key: counted twice.
    if input.occurred_at.is_none() && input.idempotency_key.is_none() {
        return Err(ApiError::field(
            at(prefix, "occurred_at"),
            "give occurred_at or an idempotency_key, so that a retry is recognised and counted once",
        ));
    }
    let occurred_at = input.occurred_at.unwrap_or(now);
    not_in_future(occurred_at, now).map_err(|e| ApiError::field(at(prefix, "occurred_at"), e.0))?;
    let contact = match &input.contact {
        Some(key) => match contacts::find(&state.pool, account, key).await {
            Ok(c) => Some(c.id),
            Err(e @ (StoreError::NotFound { .. } | StoreError::Ambiguous { .. })) => {
                return Err(ApiError::field(at(prefix, "contact"), e.to_string()));
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let raw = RawSignal {
        kind: input.kind,
        value: input.value,
        ticket: input.ticket,
        severity: input.severity,
        csat: input.csat,
        competitor: input.competitor,
        contact,
        occurred_at,
        key: input.idempotency_key,
    };
    let field = if prefix.is_empty() {
        "body".to_string()
    } else {
        prefix.to_string()
    };
    parse_signal(account, &raw).map_err(|e| ApiError::field(field, e.0))
}

/// Record facts about an account (usage, tickets, payments, goals, people); its health is
/// re-scored, and a ticket's opening or closing re-plans its touches.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/signals", tag = "signals",
    params(("id" = i64, Path, description = "the account's id")),
    request_body(content = SignalsBody, description = "one signal, or {\"signals\": [...]}"),
    security(("bearer" = [])),
    responses((status = 200, body = SignalsResponse), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(account = id))]
pub async fn add(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<SignalsResponse>, ApiError> {
    let account = accounts::get(&state.pool, AccountId(id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no account has the id {id}")))?;
    let now = Utc::now();
    let mut signals = Vec::new();
    for (prefix, input) in inputs(body)? {
        signals.push(check(&state, account.id, &prefix, input, now).await?);
    }
    let mut results = Vec::new();
    for signal in &signals {
        let r = signal_store::record(&state.pool, &state.settings, signal, "api", now).await?;
        if let Err(e) = &r.followups {
            // The signal is stored; the sweep of `serve` does the step again.
            tracing::warn!(error = %format!("{e:#}"), key = %r.key, "a step after a signal failed");
        }
        results.push(SignalResult {
            idempotency_key: r.key,
            signal_id: r.id,
            recorded: r.id.is_some(),
        });
    }
    Ok(Json(SignalsResponse { results }))
}
