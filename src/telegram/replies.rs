//! Saying things back in a chat: texts from `messages/`, sent at once. The answers to what a
//! contact sent go through the post queue instead (`inbound::answers`), so a crash cannot lose
//! them; what `say` cannot deliver (the user blocked the bot a moment later) is logged and
//! dropped: it answered a message, and the next touch goes through the dispatcher, which
//! notices a blocked chat.

use teloxide::Bot;
use teloxide::payloads::SendMessageSetters;
use teloxide::prelude::Requester;
use teloxide::types::{ChatId, InlineKeyboardMarkup};

use super::BotContext;
use crate::inbound::Handled;
use crate::messages::Vars;
use crate::outbound::render::fallback_csm;

/// Renders `key`; a template problem is a bug found at start-up, so it is only logged here.
pub fn text(ctx: &BotContext, locale: &str, key: &str, vars: &Vars) -> Option<String> {
    match ctx.messages.render(locale, key, vars) {
        Ok(text) => Some(text),
        Err(e) => {
            tracing::error!(key, error = %e, "could not render a reply");
            None
        }
    }
}

/// The texts that answer what a contact sent, in order.
pub fn answers(ctx: &BotContext, handled: &Handled) -> Vec<String> {
    let mut vars = handled.vars();
    if handled.csm_name.is_none() {
        // As with touches: an account without a CSM is signed by the team.
        vars = vars.csm(fallback_csm(&handled.locale));
    }
    handled
        .send_back()
        .into_iter()
        .filter_map(|key| text(ctx, &handled.locale, key, &vars))
        .collect()
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
