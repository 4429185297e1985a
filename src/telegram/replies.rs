//! Saying things back in a chat: texts the conversation core rendered, sent at once. The
//! answers to what a contact sent go through the post queue instead (`inbound::conversation`),
//! so a crash cannot lose them; what `say` cannot deliver (the user blocked the bot a moment
//! later) is logged and dropped: it answered a message, and the next touch goes through the
//! dispatcher, which notices a blocked chat.

use teloxide::Bot;
use teloxide::payloads::SendMessageSetters;
use teloxide::prelude::Requester;
use teloxide::types::{ChatId, InlineKeyboardMarkup};

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
