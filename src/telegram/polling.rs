//! Running the bot: learn who it is, set its command menus, then read updates by long polling
//! and hand each to the handler tree.
//!
//! Telegram allows one `getUpdates` reader per bot (a second gets 409), so only the instance
//! holding a PostgreSQL advisory lock named after the bot polls; the others wait and take over
//! if it goes away. Updates are confirmed (the next `offset`) only after they were handled, so
//! a crash mid-batch means a redelivery, never a loss; handling is idempotent (a message is
//! stored once per provider id, a used join code binds nothing new). Updates are handled one
//! after another, which keeps each chat's messages in order.

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
use crate::outbound::scheduler::Leadership;

/// Tries per update before it is given up (logged) so one bad update cannot stall the chat.
const TRIES_PER_UPDATE: u32 = 3;
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
    let ctx = Arc::new(BotContext {
        pool,
        settings,
        messages,
        username,
    });
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
                    // One that keeps failing is skipped (and logged) rather than block the rest.
                    handle_update(&handler, bot, ctx, me, update).await;
                    offset = next;
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
    Ok(())
}

/// Runs one update through the handler tree, trying again (briefly) when a handler fails, as
/// a database hiccup would make it; every handler is safe to repeat. False when it still
/// failed after that.
pub async fn handle_update(
    handler: &UpdateHandler<anyhow::Error>,
    bot: &Bot,
    ctx: &Arc<BotContext>,
    me: &Me,
    update: Update,
) -> bool {
    let id = update.id.0;
    for attempt in 1..=TRIES_PER_UPDATE {
        let deps = dptree::deps![update.clone(), bot.clone(), ctx.clone(), me.clone()];
        match handler.dispatch(deps).await {
            ControlFlow::Break(Ok(())) => return true,
            ControlFlow::Continue(_) => {
                tracing::debug!(update_id = id, "an update no handler takes");
                return true;
            }
            ControlFlow::Break(Err(e)) if attempt < TRIES_PER_UPDATE => {
                tracing::warn!(update_id = id, attempt, error = ?e, "handling an update failed; trying again");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            ControlFlow::Break(Err(e)) => {
                tracing::error!(update_id = id, error = ?e, "handling an update failed");
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_grows_to_a_minute_and_stays_there() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(7), Duration::from_secs(60));
        assert_eq!(backoff(40), Duration::from_secs(60));
    }
}
