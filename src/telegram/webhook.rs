//! Webhook mode: Telegram posts each update to our HTTP server, on every instance alike.
//!
//! - A request without the right `X-Telegram-Bot-Api-Secret-Token` gets 401, and its body is
//!   never read.
//! - Each update id is claimed (`telegram_updates`) under a lease before the update is
//!   handled, and marked done after. A repeat of a done update is acknowledged without being
//!   handled twice, even when it reaches another instance; one whose claim ran out without
//!   being done (its instance died) is handled again, which handlers allow.
//! - The update is handled before the answer: 200 means it was handled. A failure is answered
//!   500 and Telegram delivers it again later; one that fails [`POISON_TRIES`] times while the
//!   database answers is set aside for staff (`inbound::dead_letters`) and acknowledged.
//! - Updates of one chat are handled one at a time on an instance, in the order they came.
//! - Until the bot knows who it is (Telegram answered `getMe`), requests get 503 and Telegram
//!   retries them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
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
use super::polling::{handle_once, prepare};
use super::schema::schema;
use crate::config::Settings;
use crate::inbound::dead_letters::{POISON_TRIES, database_answers, set_aside};
use crate::messages::Messages;

pub const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// How long update ids are kept: Telegram gives up redelivering long before.
const KEEP_IDS: TimeDelta = TimeDelta::days(2);
/// The largest update body read; Telegram's are far smaller.
const MAX_BODY: usize = 1 << 20;

/// One lock per chat, so the updates of a chat are handled one at a time, in arrival order
/// (tokio's mutex is fair). Entries go when nobody holds or waits for them.
#[derive(Default)]
struct ChatLocks(Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>);

impl ChatLocks {
    fn get(&self, chat: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(chat).or_default().clone()
    }

    fn tidy(&self, chat: i64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.get(&chat).is_some_and(|l| Arc::strong_count(l) == 1) {
            map.remove(&chat);
        }
    }
}

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
    chats: ChatLocks,
    /// How long a claim on an update lasts: an instance that died holding it lets it go then.
    claim_seconds: f64,
    /// Updates handled at once. Handling one may hold two connections for a moment, so a flood
    /// of updates left unbounded would take the whole pool and starve itself (and the
    /// dispatchers) until acquiring a connection times out.
    handling: tokio::sync::Semaphore,
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
        chats: ChatLocks::default(),
        claim_seconds: f64::from(settings.telegram.webhook_claim_seconds.max(1)),
        handling: tokio::sync::Semaphore::new(
            (settings.database.max_connections as usize / 4).max(1),
        ),
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

async fn receive(State(state): State<Arc<WebhookState>>, request: Request) -> StatusCode {
    // The secret is checked before a byte of the body is read: a stranger cannot make us
    // wait for, or hold, a body of their choosing.
    let given = request
        .headers()
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
    let body = match axum::body::to_bytes(request.into_body(), MAX_BODY).await {
        Ok(body) => body,
        Err(e) => {
            tracing::warn!(error = %e, "could not read a webhook request's body");
            return StatusCode::BAD_REQUEST;
        }
    };
    let update: Update = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(e) => {
            tracing::warn!(error = %e, "a webhook request held no readable update");
            return StatusCode::BAD_REQUEST;
        }
    };
    let chat = update
        .chat()
        .map(|c| c.id.0)
        .or_else(|| update.from().and_then(|u| i64::try_from(u.id.0).ok()));
    let Some(chat) = chat else {
        return handle(&state, ready, update, &body).await;
    };
    let lock = state.chats.get(chat);
    let status = {
        let _turn = lock.lock().await;
        handle(&state, ready, update, &body).await
    };
    drop(lock);
    state.chats.tidy(chat);
    status
}

#[tracing::instrument(skip_all, fields(update_id = update.id.0))]
async fn handle(state: &WebhookState, ready: &Ready, update: Update, body: &[u8]) -> StatusCode {
    let Ok(_permit) = state.handling.acquire().await else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    let id = i64::from(update.id.0);
    let tries = match claim(&state.pool, id, state.claim_seconds).await {
        Ok(Claim::Mine { tries }) => tries,
        Ok(Claim::Done) => {
            tracing::debug!("a repeated update was acknowledged again");
            return StatusCode::OK;
        }
        Ok(Claim::Busy) => {
            // Another delivery of it is being handled; Telegram asks again later.
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        Err(e) => {
            tracing::error!(error = ?e, "could not claim an update");
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
    };
    let error = match handle_once(&state.handler, &state.bot, &ready.ctx, &ready.me, update).await {
        Ok(()) => {
            return match done(&state.pool, id).await {
                Ok(()) => StatusCode::OK,
                Err(e) => {
                    // Handled; a redelivery after the claim runs out changes nothing.
                    tracing::error!(error = ?e, "could not mark an update done");
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            };
        }
        Err(e) => e,
    };
    if !database_answers(&state.pool).await {
        // An outage: the next delivery handles it, at once if the database is back in time to
        // release the claim, else once the claim runs out.
        tracing::warn!(error = ?error, "the database is unreachable; Telegram delivers the update again");
        let _ = release(&state.pool, id, tries).await;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let tries = tries + 1;
    if tries >= POISON_TRIES as i32 {
        let payload = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
        let set = set_aside(
            &state.pool,
            "telegram",
            &id.to_string(),
            &payload,
            &error,
            POISON_TRIES,
            Utc::now(),
        )
        .await;
        if let Ok(letter) = set
            && done(&state.pool, id).await.is_ok()
        {
            tracing::error!(dead_letter = letter, error = ?error, "an update keeps failing; set aside for staff (touchbot inbound dead-letters)");
            return StatusCode::OK;
        }
    }
    tracing::warn!(tries, error = ?error, "handling an update failed; Telegram delivers it again");
    if let Err(e) = release(&state.pool, id, tries).await {
        tracing::error!(error = ?e, "could not release a failed update");
    }
    StatusCode::INTERNAL_SERVER_ERROR
}

enum Claim {
    /// This request handles it; `tries` failed before.
    Mine { tries: i32 },
    /// Handled before: acknowledge it.
    Done,
    /// Claimed by a delivery still within its lease.
    Busy,
}

/// Claims the update id under a lease, timed by the database's clock so instances with
/// skewed clocks agree on when a claim ran out.
async fn claim(pool: &PgPool, id: i64, claim_seconds: f64) -> sqlx::Result<Claim> {
    let now = Utc::now();
    let claimed = sqlx::query_scalar!(
        "insert into telegram_updates (update_id, received_at, claimed_until)
         values ($1, $2, now() + make_interval(secs => $3))
         on conflict (update_id) do update set claimed_until = excluded.claimed_until
          where telegram_updates.done_at is null
            and (telegram_updates.claimed_until is null or telegram_updates.claimed_until < now())
         returning tries",
        id,
        now,
        claim_seconds
    )
    .fetch_optional(pool)
    .await?;
    if let Some(tries) = claimed {
        // Ids are only needed while Telegram might still repeat them.
        if id % 500 == 0 {
            sqlx::query!(
                "delete from telegram_updates where received_at < $1 and done_at is not null",
                now - KEEP_IDS
            )
            .execute(pool)
            .await?;
        }
        return Ok(Claim::Mine { tries });
    }
    let done = sqlx::query_scalar!(
        r#"select done_at is not null as "done!" from telegram_updates where update_id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await?;
    Ok(match done {
        Some(true) => Claim::Done,
        _ => Claim::Busy,
    })
}

async fn done(pool: &PgPool, id: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "update telegram_updates set done_at = now(), claimed_until = null where update_id = $1",
        id
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Lets a failed update be claimed by its next delivery at once.
async fn release(pool: &PgPool, id: i64, tries: i32) -> sqlx::Result<()> {
    sqlx::query!(
        "update telegram_updates set claimed_until = null, tries = $2
          where update_id = $1 and done_at is null",
        id,
        tries
    )
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
