//! The integration API under `/api/v1`: CRM and product data in, as JSON, for bearer tokens
//! (`touchbot token create`). Handlers only translate: the checks and the work are the same
//! storage and service functions the command line calls. The OpenAPI document is generated
//! from these modules and served at `/api/openapi.json`.
//!
//! - `auth`: the bearer token; `error`: the one error shape and the JSON body reader;
//!   `query`: query strings, instants, keyset pages and their cursors
//! - `accounts`, `account_views`, `contacts`, `erasure`, `signals`, `webhooks`: the resources
//!   written
//! - `health`, `escalations`, `replies`, `reports`: what touchbot knows, read back
//! - `openapi`: the document

mod account_views;
mod accounts;
mod auth;
mod contacts;
mod erasure;
mod error;
mod escalations;
mod health;
mod openapi;
mod query;
mod replies;
mod reports;
mod signals;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{delete, get, patch, post, put};
use sqlx::PgPool;

use crate::config::Settings;
pub use error::{ApiError, ErrorBody, FieldProblem};
pub use openapi::ApiDoc;

/// The largest body accepted; a bigger one gets 413 (send a large batch in parts).
pub const BODY_LIMIT: usize = 256 * 1024;

#[derive(Clone)]
pub struct ApiState {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
}

/// The API's routes: `/api/v1/…` behind the token check, and the OpenAPI document without.
pub fn router(state: ApiState) -> Router {
    let v1 = Router::new()
        .route("/accounts", post(accounts::create).get(accounts::list))
        .route(
            "/accounts/by-external-id/{external_id}",
            put(accounts::upsert),
        )
        .route(
            "/accounts/{id}",
            get(accounts::show).patch(accounts::update),
        )
        .route("/accounts/{id}/contacts", post(contacts::add))
        .route(
            "/contacts/{id}",
            patch(contacts::update).delete(contacts::remove),
        )
        .route("/contacts/{id}/erasure", post(erasure::erase))
        .route("/accounts/{id}/signals", post(signals::add))
        .route("/webhooks", post(webhooks::create).get(webhooks::list))
        .route("/webhooks/{id}", delete(webhooks::remove))
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/accounts/{id}/health", get(health::history))
        .route("/accounts/{id}/replies", get(replies::list))
        .route("/escalations", get(escalations::list))
        .route("/escalations/{id}", get(escalations::show))
        .route("/portfolio", get(reports::portfolio))
        .route("/metrics/team", get(reports::team))
        .route("/metrics/csm/{staff}", get(reports::csm))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .fallback(|| async {
            ApiError::NotFound("no such route; /api/openapi.json lists them".into())
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state);
    Router::new()
        .nest("/api/v1", v1)
        .route("/api/openapi.json", get(openapi::serve))
        // After every route: it is set on the routes registered so far.
        .method_not_allowed_fallback(
            |method: Method| async move { ApiError::MethodNotAllowed(method) },
        )
}
