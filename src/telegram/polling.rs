//! Running the bot: learn who it is, set its command menus, then read updates by long polling
//! and hand each to the handler tree.
//!
//! Telegram allows one `getUpdates` reader per bot (a second gets 409), so only the instance
//! holding a PostgreSQL advisory lock named after the bot polls; the others wait and take over
//! if it goes away. Updates are confirmed (the next `offset`) only after they were handled, so
//! a crash mid-batch means a redelivery, never a loss; handling is idempotent (a message is
//! stored once per provider id, a used join code binds nothing new). Updates are handled one
//! after another, which keeps each chat's messages in order.
//!
//! An update whose handling fails is never skipped while the database is away: the poller
//! waits (1 s doubling to a minute) and tries the same update again, however long the outage.
//! One that fails [`POISON_TRIES`] times while the database answers is set aside
//! (`inbound::dead_letters`) so it no longer holds up the chat. On stop, the update in hand is
//! finished and the offset of what was handled is confirmed to Telegram.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use teloxide::dispatching::UpdateHandler;
use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::Requester;
use teloxide::types::{AllowedUpdate, Me, Update};
use teloxide::{ApiError, Bot, RequestError, dptree};
use tokio::sync::watch;

use super::BotContext;
use super::commands;
use super::schema::schema;
use crate::inbound::dead_letters::{self, AfterFailure, Failures, POISON_TRIES};
use crate::outbound::scheduler::Leadership;

/// The channel name dead letters are filed under.
const CHANNEL: &str = "telegram";
/// How long confirming the offset at stop may take.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);
/// How often an instance that does not poll checks whether the poller went away.
const FOLLOWER_CHECK: Duration = Duration::from_secs(15);

/// Runs until `shutdown` turns true.
pub async fn run(
    bot: Bot,
    pool: sqlx::PgPool,
    settings: Arc<crate::config::Settings>,
    messages: Arc<crate::messages::Messages>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let Some((me, ctx)) = prepare(&bot, pool.clone(), settings, messages, &mut shutdown).await
    else {
        return Ok(());
    };
    let leadership = Leadership::new(&pool, &format!("touchbot-telegram-poll-{}", me.id.0));
    let result = poll(&bot, &ctx, &me, &leadership, &mut shutdown).await;
    leadership.resign().await;
    result
}

/// Learns who the bot is (waiting for Telegram if need be), sets its command menus, and
/// gathers what the handlers need. None when told to stop first.
pub async fn prepare(
    bot: &Bot,
    pool: sqlx::PgPool,
    settings: Arc<crate::config::Settings>,
    messages: Arc<crate::messages::Messages>,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<(Me, Arc<BotContext>)> {
    let me = get_me(bot, shutdown).await?;
    let username = me.username().to_string();
    if let Some(configured) = &settings.telegram.bot_username
        && !configured.eq_ignore_ascii_case(&username)
    {
        tracing::warn!(
            configured = %configured, actual = %username,
            "telegram.bot_username differs from the bot's real username: join links point to the wrong bot"
        );
    }
    if let Err(e) = commands::register(bot, &pool).await {
        tracing::warn!(error = %e, "could not set the bot's command menus; it works without them");
    }
    let ctx = Arc::new(BotContext::new(bot, pool, settings, messages, username));
    Some((me, ctx))
}

/// Asks Telegram who the bot is, patiently: Telegram being away at start is not fatal.
async fn get_me(bot: &Bot, shutdown: &mut watch::Receiver<bool>) -> Option<Me> {
    let mut failures = 0;
    loop {
        let me = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return None,
            me = bot.get_me() => me,
        };
        match me {
            Ok(me) => return Some(me),
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "cannot reach Telegram to start the bot; trying again");
                if pause(shutdown, backoff(failures)).await {
                    return None;
                }
            }
        }
    }
}

/// 1 s doubling to a minute.
fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1 << failures.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

/// Sleeps, unless told to stop first; true when stopping.
async fn pause(shutdown: &mut watch::Receiver<bool>, wait: Duration) -> bool {
    tokio::select! {
        _ = shutdown.wait_for(|stop| *stop) => return true,
        _ = tokio::time::sleep(wait) => {}
    }
    *shutdown.borrow()
}

async fn poll(
    bot: &Bot,
    ctx: &Arc<BotContext>,
    me: &Me,
    leadership: &Leadership,
    shutdown: &mut watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let handler = schema();
    let timeout = ctx.settings.telegram.poll_timeout_seconds;
    let mut offset = 0;
    let mut leading = false;
    let mut failures = 0;
    while !*shutdown.borrow() {
        if !leadership.is_leader().await {
            if leading {
                tracing::warn!(
                    "lost the Telegram polling lock; another instance reads updates now"
                );
                leading = false;
            }
            if pause(shutdown, FOLLOWER_CHECK).await {
                break;
            }
            continue;
        }
        if !leading {
            leading = true;
            tracing::info!("this instance reads the bot's updates");
            // A webhook left behind would make every getUpdates fail.
            if let Err(e) = bot.delete_webhook().await {
                tracing::warn!(error = %e, "could not remove an old webhook");
            }
        }
        let request = bot
            .get_updates()
            .offset(offset)
            .timeout(timeout)
            .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery]);
        let updates = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            updates = request => updates,
        };
        match updates {
            Ok(updates) => {
                failures = 0;
                for update in updates {
                    let next = update.id.as_offset();
                    if !handle_patiently(&handler, bot, ctx, me, update, shutdown).await {
                        break;
                    }
                    offset = next;
                    if *shutdown.borrow() {
                        break;
                    }
                }
            }
            Err(RequestError::RetryAfter(wait)) => {
                if pause(shutdown, wait.duration()).await {
                    break;
                }
            }
            Err(e) => {
                failures += 1;
                if matches!(e, RequestError::Api(ApiError::TerminatedByOtherGetUpdates)) {
                    tracing::warn!(
                        "another program reads this bot's updates (409); is a second bot running with the same token?"
                    );
                } else {
                    tracing::warn!(error = %e, "could not read updates from Telegram; trying again");
                }
                if pause(shutdown, backoff(failures)).await {
                    break;
                }
            }
        }
    }
    if leading {
        confirm(bot, offset).await;
    }
    Ok(())
}

/// Tells Telegram that everything below `offset` was handled, so the next reader (this
/// instance after a restart, or another) does not get it again. Asks for nothing new: an
/// update it returns stays unconfirmed and comes again.
#[tracing::instrument(skip(bot))]
async fn confirm(bot: &Bot, offset: i32) {
    if offset == 0 {
        return;
    }
    let request = bot.get_updates().offset(offset).timeout(0).limit(1);
    match tokio::time::timeout(CONFIRM_TIMEOUT, request).await {
        Ok(Ok(_)) => tracing::info!("confirmed the updates handled before stopping"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "could not confirm the handled updates; they come again and change nothing")
        }
        Err(_) => tracing::warn!(
            "Telegram did not answer the confirmation in time; the handled updates come again and change nothing"
        ),
    }
}

/// Handles one update until it is done: tried again as long as the database is away, set
/// aside after [`POISON_TRIES`] failures while it answers. False when told to stop before the
/// update was done: it is then left unconfirmed, for the next reader. Telegram being out of
/// reach counts as an outage too: the update is not its own fault.
#[tracing::instrument(skip_all, fields(update_id = update.id.0))]
async fn handle_patiently(
    handler: &UpdateHandler<anyhow::Error>,
    bot: &Bot,
    ctx: &Arc<BotContext>,
    me: &Me,
    update: Update,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let id = update.id.0;
    let mut failures = Failures::default();
    loop {
        let error = match handle_once(handler, bot, ctx, me, update.clone()).await {
            Ok(()) => return true,
            Err(e) => e,
        };
        let verdict = if telegram_unreachable(&error) {
            failures.outage += 1;
            AfterFailure::Outage(dead_letters::outage_pause(failures.outage))
        } else {
            failures.after_failure(&ctx.pool).await
        };
        let wait = match verdict {
            AfterFailure::TryAgain(wait) => {
                tracing::warn!(update_id = id, tries = failures.poison, error = ?error, "handling an update failed; trying again");
                wait
            }
            AfterFailure::Outage(wait) => {
                tracing::warn!(update_id = id, error = ?error, wait_seconds = wait.as_secs(), "the database or Telegram is unreachable; the update is kept and tried again");
                wait
            }
            AfterFailure::SetAside => {
                match set_aside(&ctx.pool, &update, &error, failures.tries()).await {
                    Ok(letter) => {
                        tracing::error!(update_id = id, dead_letter = letter, tries = POISON_TRIES, error = ?error, "an update keeps failing; set aside for staff (touchbot inbound dead-letters)");
                        return true;
                    }
                    // The database went away meanwhile: an outage after all.
                    Err(e) => {
                        failures.poison -= 1;
                        tracing::warn!(update_id = id, error = ?e, "could not set an update aside; it is kept and tried again");
                        dead_letters::outage_pause(1)
                    }
                }
            }
        };
        if pause(shutdown, wait).await {
            return false;
        }
    }
}

/// Whether the handler failed because Telegram could not be reached (a timeout, a refused
/// connection), rather than because of the update.
fn telegram_unreachable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<RequestError>(),
            Some(RequestError::Network(_) | RequestError::Io(_))
        )
    })
}

async fn set_aside(
    pool: &sqlx::PgPool,
    update: &Update,
    error: &anyhow::Error,
    tries: u32,
) -> anyhow::Result<i64> {
    let payload = serde_json::to_value(update)?;
    dead_letters::set_aside(
        pool,
        CHANNEL,
        &update.id.0.to_string(),
        &payload,
        error,
        tries,
        chrono::Utc::now(),
    )
    .await
}

/// Runs one update through the handler tree once. Every handler is safe to repeat, so a
/// failed update can be handled again from the start.
pub async fn handle_once(
    handler: &UpdateHandler<anyhow::Error>,
    bot: &Bot,
    ctx: &Arc<BotContext>,
    me: &Me,
    update: Update,
) -> anyhow::Result<()> {
    let id = update.id.0;
    let deps = dptree::deps![update, bot.clone(), ctx.clone(), me.clone()];
    match handler.dispatch(deps).await {
        ControlFlow::Break(result) => result,
        ControlFlow::Continue(_) => {
            tracing::debug!(update_id = id, "an update no handler takes");
            Ok(())
        }
    }
}

/// Handles an update set aside earlier (its stored JSON) once more, for `touchbot inbound
/// replay`: the bot learns who it is, without touching the command menus or the offset.
pub async fn replay(
    bot: &Bot,
    pool: sqlx::PgPool,
    settings: Arc<crate::config::Settings>,
    messages: Arc<crate::messages::Messages>,
    payload: &serde_json::Value,
) -> anyhow::Result<()> {
    // From text: teloxide reads an update's kind from a `Value` as an error.
    let update: Update = serde_json::from_str(&payload.to_string())
        .map_err(|e| anyhow::anyhow!("the stored update is not a Telegram update: {e}"))?;
    if matches!(update.kind, teloxide::types::UpdateKind::Error(_)) {
        anyhow::bail!("the stored update is of a kind the bot cannot read");
    }
    let me = bot
        .get_me()
        .await
        .map_err(|e| anyhow::anyhow!("asking Telegram who the bot is: {e}"))?;
    let username = me.username().to_string();
    let ctx = Arc::new(BotContext::new(bot, pool, settings, messages, username));
    handle_once(&schema(), bot, &ctx, &me, update).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_out_of_reach_is_an_outage_and_an_api_refusal_is_not() {
        let io = RequestError::Io(Arc::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        let refused = anyhow::Error::from(io).context("answering a tap");
        assert!(telegram_unreachable(&refused));
        let api = anyhow::Error::from(RequestError::Api(ApiError::BotBlocked));
        assert!(!telegram_unreachable(&api));
        assert!(!telegram_unreachable(&anyhow::anyhow!(
            "relation does not exist"
        )));
    }

    #[test]
    fn the_backoff_grows_to_a_minute_and_stays_there() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(7), Duration::from_secs(60));
        assert_eq!(backoff(40), Duration::from_secs(60));
    }
}
