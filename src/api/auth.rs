//! `Authorization: Bearer <token>` on every `/api/v1` route. Any failure is the same 401 with
//! the same body: a caller learns nothing about why. The token is looked up by its hash and
//! never logged.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use secrecy::SecretString;

use super::{ApiError, ApiState};
use crate::storage::tokens;

pub async fn require_token(
    State(state): State<ApiState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| SecretString::from(t.trim().to_string()))
        .ok_or(ApiError::Unauthorized)?;
    let token = tokens::authenticate(&state.pool, &presented, chrono::Utc::now())
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("checking an API token")))?
        .ok_or(ApiError::Unauthorized)?;
    tracing::debug!(token_id = token, "API request authenticated");
    Ok(next.run(req).await)
}
