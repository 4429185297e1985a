//! Counting HTTP requests by route and status, and timing them.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// How routes are named in the series: the matched route pattern, except the Telegram
/// webhook's, whose path the operator chose and may have made hard to guess.
#[derive(Debug, Clone, Default)]
pub struct HttpLabels {
    pub telegram_path: Option<String>,
}

/// Axum middleware (use with `route_layer`, where the matched route is known).
pub async fn track_requests(
    State(labels): State<Arc<HttpLabels>>,
    request: Request,
    next: Next,
) -> Response {
    let route = match request.extensions().get::<MatchedPath>() {
        Some(p) if labels.telegram_path.as_deref() == Some(p.as_str()) => {
            "telegram_webhook".to_string()
        }
        Some(p) => p.as_str().to_string(),
        None => "unmatched".to_string(),
    };
    let started = Instant::now();
    let response = next.run(request).await;
    super::record_request(
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
