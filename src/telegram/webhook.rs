//! Webhook mode: Telegram posts each update to our HTTP server, on every instance alike.
//!
//! - A request without the right `X-Telegram-Bot-Api-Secret-Token` gets 401 and is not read.
//! - Each update id is recorded (`telegram_updates`) before the update is handled, so a
//!   delivery Telegram repeats is acknowledged without being handled twice, even when it
//!   reaches another instance.
//! - The update is handled before the answer: 200 means it was handled. If handling keeps
//!   failing, its id is released and the answer is 500, so Telegram delivers it again later.
//! - Until the bot knows who it is (Telegram answered `getMe`), requests get 503 and Telegram
//!   retries them.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use teloxide::dispatching::UpdateHandler;
use teloxide::payloads::SetWebhookSetters;
use teloxide::prelude::Requester;
use teloxide::types::{AllowedUpdate, Me, Update};
use teloxide::{Bot, RequestError};
use tokio::sync::{OnceCell, watch};
use tokio::task::JoinHandle;

use super::BotContext;
use super::polling::{handle_update, prepare};
use super::schema::schema;
use crate::config::Settings;
use crate::messages::Messages;

pub const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// How long update ids are kept: Telegram gives up redelivering long before.
const KEEP_IDS: TimeDelta = TimeDelta::days(2);

struct Ready {
    me: Me,
    ctx: Arc<BotContext>,
}

pub struct WebhookState {
    bot: Bot,
    pool: PgPool,
    secret: SecretString,
    handler: UpdateHandler<anyhow::Error>,
    ready: OnceCell<Ready>,
}

/// The route to merge into the HTTP server, and the task that gets the bot ready and tells
/// Telegram where to post.
pub fn start(
    bot: Bot,
    pool: PgPool,
    settings: Arc<Settings>,
    messages: Arc<Messages>,
    shutdown: watch::Receiver<bool>,
) -> Option<(Router, JoinHandle<anyhow::Result<()>>)> {
    let (path, secret) = settings.telegram.webhook()?;
    let url = settings.telegram.webhook_url.clone()?;
    let state = Arc::new(WebhookState {
        bot: bot.clone(),
        pool: pool.clone(),
        secret,
        handler: schema(),
        ready: OnceCell::new(),
    });
    let router = Router::new()
        .route(&path, post(receive))
        .with_state(state.clone());
    let task = tokio::spawn(get_ready(state, url, settings, messages, shutdown));
    Some((router, task))
}

async fn get_ready(
    state: Arc<WebhookState>,
    url: String,
    settings: Arc<Settings>,
    messages: Arc<Messages>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let Some((me, ctx)) = prepare(
        &state.bot,
        state.pool.clone(),
        settings,
        messages,
        &mut shutdown,
    )
    .await
    else {
        return Ok(());
    };
    let _ = state.ready.set(Ready { me, ctx });
    let url = url::Url::parse(url.trim())?;
    let mut failures = 0u32;
    loop {
        let set = state
            .bot
            .set_webhook(url.clone())
            .secret_token(state.secret.expose_secret().to_string())
            .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery])
            .await;
        match set {
            Ok(_) => {
                tracing::info!("Telegram posts updates to the webhook");
                return Ok(());
            }
            Err(e) => {
                failures += 1;
                let wait = match &e {
                    RequestError::RetryAfter(s) => s.duration(),
                    _ => std::time::Duration::from_secs(1 << failures.min(6)),
                };
                tracing::warn!(error = %e, "could not set the webhook; trying again");
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Compares without stopping at the first difference, so timing tells nothing about the secret.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

async fn receive(
    State(state): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let given = headers
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !same_secret(given, state.secret.expose_secret().as_bytes()) {
        tracing::warn!("a webhook request without the right secret was refused");
        return StatusCode::UNAUTHORIZED;
    }
    let Some(ready) = state.ready.get() else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    let update: Update = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(e) => {
            tracing::warn!(error = %e, "a webhook request held no readable update");
            return StatusCode::BAD_REQUEST;
        }
    };
    let id = i64::from(update.id.0);
    match claim(&state.pool, id).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!(update_id = id, "a repeated update was acknowledged again");
            return StatusCode::OK;
        }
        Err(e) => {
            tracing::error!(update_id = id, error = ?e, "could not record an update");
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
    }
    if handle_update(&state.handler, &state.bot, &ready.ctx, &ready.me, update).await {
        StatusCode::OK
    } else {
        if let Err(e) = release(&state.pool, id).await {
            tracing::error!(update_id = id, error = ?e, "could not release a failed update");
        }
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// Records the update id; false when it was recorded before (a repeated delivery).
async fn claim(pool: &PgPool, id: i64) -> sqlx::Result<bool> {
    let now = Utc::now();
    let fresh = sqlx::query!(
        "insert into telegram_updates (update_id, received_at) values ($1, $2)
         on conflict (update_id) do nothing",
        id,
        now
    )
    .execute(pool)
    .await?
    .rows_affected()
        > 0;
    // Ids are only needed while Telegram might still repeat them.
    if fresh && id % 500 == 0 {
        sqlx::query!(
            "delete from telegram_updates where received_at < $1",
            now - KEEP_IDS
        )
        .execute(pool)
        .await?;
    }
    Ok(fresh)
}

async fn release(pool: &PgPool, id: i64) -> sqlx::Result<()> {
    sqlx::query!("delete from telegram_updates where update_id = $1", id)
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_secret_matches() {
        assert!(same_secret(b"abc_123", b"abc_123"));
        assert!(!same_secret(b"abc_124", b"abc_123"));
        assert!(!same_secret(b"abc", b"abc_123"));
        assert!(!same_secret(b"", b"abc_123"));
    }
}
