//! `/webhooks/whatsapp` on serve's HTTP listener, where Meta posts messages and statuses.
//!
//! - GET is Meta's verification: the challenge is echoed only when `hub.verify_token` is ours
//!   (compared in constant time); anything else gets 403.
//! - POST: the raw body (at most [`MAX_BODY`], else 413) must carry `X-Hub-Signature-256:
//!   sha256=<HMAC-SHA256 of the body with the app secret>`, checked in constant time before
//!   anything is parsed; missing or wrong gets 401 and nothing is stored.
//! - A signed body that is no notification is logged (without its content) and acknowledged:
//!   Meta would otherwise send it again for a week.
//! - Its messages and statuses are stored, in one transaction, before the answer (with those
//!   of the requests beside it: `intake`); a database that does not answer gets 503, and Meta
//!   delivers again. Then 200, and the events are
//!   handled by the drainers (`worker`), woken; what a crash leaves undone, by their sweep.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::events;
use super::intake::Intake;
use super::worker::Worker;

pub const PATH: &str = "/webhooks/whatsapp";
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
/// Meta's notifications are a few kilobytes; a batch stays far below this.
pub const MAX_BODY: usize = 1 << 20;

struct WebhookState {
    app_secret: SecretString,
    verify_token: SecretString,
    worker: Arc<Worker>,
    intake: Intake,
}

/// The route, when the app secret and the verify token are both set.
pub fn router(worker: Arc<Worker>) -> Option<Router> {
    let settings = &worker.settings.whatsapp;
    let (Some(app_secret), Some(verify_token)) = (&settings.app_secret, &settings.verify_token)
    else {
        return None;
    };
    let state = Arc::new(WebhookState {
        app_secret: app_secret.0.clone(),
        verify_token: verify_token.0.clone(),
        intake: Intake::start(worker.pool.clone()),
        worker,
    });
    Some(
        Router::new()
            .route(PATH, get(verify).post(notify))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(state),
    )
}

/// Meta's subscription check.
#[tracing::instrument(skip_all)]
async fn verify(
    State(state): State<Arc<WebhookState>>,
    Query(query): Query<HashMap<String, String>>,
) -> (StatusCode, String) {
    let given = query.get("hub.verify_token").map_or("", String::as_str);
    let expected = state.verify_token.expose_secret();
    let matches: bool = given.as_bytes().ct_eq(expected.as_bytes()).into();
    match (query.get("hub.mode").map(String::as_str), matches) {
        (Some("subscribe"), true) => {
            tracing::info!("Meta verified the WhatsApp webhook");
            let challenge = query.get("hub.challenge").cloned().unwrap_or_default();
            (StatusCode::OK, challenge)
        }
        _ => {
            tracing::warn!("a WhatsApp webhook verification with the wrong token was refused");
            (StatusCode::FORBIDDEN, String::new())
        }
    }
}

/// Whether `header` is `sha256=<hex>` of the body's HMAC with `secret`, in constant time.
pub fn signed(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(given) = header
        .and_then(|h| h.trim().strip_prefix("sha256="))
        .and_then(|hex| hex::decode(hex).ok())
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// A notification: checked, stored, acknowledged, then handled.
#[tracing::instrument(skip_all)]
async fn notify(
    State(state): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    if !signed(state.app_secret.expose_secret().as_bytes(), &body, header) {
        tracing::warn!(
            signed = header.is_some(),
            "a WhatsApp webhook request without a valid signature was refused"
        );
        return StatusCode::UNAUTHORIZED;
    }
    let events = match events::read(&body) {
        Ok(events) => events,
        Err(e) => {
            // Only where and what kind: serde's message may quote a value from the body.
            tracing::warn!(kind = ?e.classify(), line = e.line(), column = e.column(), bytes = body.len(), "a signed WhatsApp notification was unreadable; acknowledged and dropped");
            return StatusCode::OK;
        }
    };
    if events.is_empty() {
        return StatusCode::OK;
    }
    if let Err(e) = state.intake.store(events).await {
        tracing::warn!(error = %e, "could not store WhatsApp events; Meta delivers them again");
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    state.worker.wake();
    StatusCode::OK
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn only_the_hmac_of_the_exact_body_with_our_secret_is_a_signature() {
        let body = br#"{"entry":[]}"#;
        let good = sign(b"s3cret", body);
        assert!(signed(b"s3cret", body, Some(&good)));
        assert!(!signed(b"other", body, Some(&good)));
        assert!(!signed(b"s3cret", br#"{"entry":[1]}"#, Some(&good)));
        assert!(!signed(
            b"s3cret",
            body,
            Some(good.trim_start_matches("sha256="))
        ));
        assert!(!signed(b"s3cret", body, Some("sha256=zz")));
        assert!(!signed(b"s3cret", body, None));
    }
}
