//! Saying things back in a chat: texts from `messages/`, sent at once. The answers to what a
//! contact sent go through the post queue instead (`inbound::conversation`), so a crash cannot lose
//! them; what `say` cannot deliver (the user blocked the bot a moment later) is logged and
//! dropped: it answered a message, and the next touch goes through the dispatcher, which
//! notices a blocked chat.

use teloxide::Bot;
use teloxide::payloads::SendMessageSetters;
use teloxide::prelude::Requester;
use teloxide::types::{ChatId, InlineKeyboardMarkup};

use super::BotContext;
use crate::messages::Vars;

/// Renders `key`; a template problem is a bug found at start-up, so it is only logged here.
pub fn text(ctx: &BotContext, locale: &str, key: &str, vars: &Vars) -> Option<String> {
    ctx.conversation().text(locale, key, vars)
}

pub async fn say(bot: &Bot, chat: ChatId, text: String) {
    if let Err(e) = bot.send_message(chat, text).await {
        tracing::warn!(chat = chat.0, error = %e, "could not answer in a chat");
    }
}

pub async fn say_with(bot: &Bot, chat: ChatId, text: String, keyboard: InlineKeyboardMarkup) {
    if let Err(e) = bot.send_message(chat, text).reply_markup(keyboard).await {
        tracing::warn!(chat = chat.0, error = %e, "could not answer in a chat");
    }
}

/// Renders `key` for `locale` and sends it.
pub async fn say_key(
    bot: &Bot,
    ctx: &BotContext,
    chat: ChatId,
    locale: &str,
    key: &str,
    vars: &Vars,
) {
    if let Some(text) = text(ctx, locale, key, vars) {
        say(bot, chat, text).await;
    }
}
