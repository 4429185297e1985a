//! A client's side of the conversation: joining by link, writing, tapping buttons, choosing a
//! language. What follows is decided by the conversation core (`inbound::conversation`), as
//! on every channel; this module only turns Telegram's updates into arrivals and the core's
//! reply into chat.
//!
//! Times: an update is handled at the moment it is read (`Utc::now()`), which is also when it
//! counts as received, so an answer is never dated before the survey it answers.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;
use teloxide::Bot;
use teloxide::payloads::{AnswerCallbackQuerySetters, EditMessageTextSetters};
use teloxide::prelude::Requester;
use teloxide::types::{CallbackQuery, ChatId, InlineKeyboardMarkup, Message};

use super::channel::keyboard;
use super::commands::typed;
use super::replies::{say, say_with};
use super::staff;
use super::who::{ContactRef, contact_by_chat, stranger_locale};
use super::{BotContext, HandlerResult};
use crate::domain::ChannelKind;
use crate::inbound::conversation::{Arrival, Text, choose_locale, converse, deliver_answers};
use crate::inbound::{InboundContent, InboundMessage, joining};

pub use crate::inbound::conversation::LANGUAGE_PREFIX;

/// The code of a deep link: `/start <code>`, with something after the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinCode(pub String);

pub fn join_code(msg: Message, ctx: Arc<BotContext>) -> Option<JoinCode> {
    let command = typed(msg.text()?, &ctx.username)?;
    (command.name == "start" && !command.args.is_empty())
        .then(|| JoinCode(command.args.to_string()))
}

/// `/start <code>` from a deep link: binds this chat to the contact the code names.
pub async fn join(bot: Bot, ctx: Arc<BotContext>, msg: Message, code: JoinCode) -> HandlerResult {
    let chat = msg.chat.id;
    let stranger = stranger_locale(msg.from.as_ref());
    let conversation = ctx.conversation();
    let address = chat.0.to_string();
    let reply = joining::join(
        &conversation,
        ChannelKind::Telegram,
        &address,
        &code.0,
        stranger,
        Utc::now(),
    )
    .await?;
    say_all(&bot, chat, reply.say).await;
    Ok(())
}

/// Someone the bot does not know wrote in private.
pub async fn stranger(bot: Bot, ctx: Arc<BotContext>, msg: Message) -> HandlerResult {
    let staff_command = msg
        .text()
        .and_then(|t| typed(t, &ctx.username))
        .is_some_and(|c| super::commands::is_staff_command(&c.name));
    if staff_command {
        // Refused (and logged) by the staff side, which reveals nothing about any account.
        return staff::stranger_command(bot, ctx, msg).await;
    }
    let address = msg.chat.id.0.to_string();
    let name = msg.from.as_ref().map(|u| u.full_name());
    let arrival = Arrival {
        channel: ChannelKind::Telegram,
        message: None,
        command: None,
        tap: false,
        contact: None,
        stranger_locale: stranger_locale(msg.from.as_ref()),
        address: &address,
        display_name: name.as_deref(),
    };
    respond(&bot, &ctx, msg.chat.id, arrival, None).await
}

/// A message from a contact: their commands, or anything else for the conversation core.
pub async fn contact_message(
    bot: Bot,
    ctx: Arc<BotContext>,
    msg: Message,
    contact: ContactRef,
) -> HandlerResult {
    // A sticker or a voice note has no text: nothing the bot can read, and nothing to store.
    let text = msg.text().or(msg.caption());
    let address = msg.chat.id.0.to_string();
    let arrival = Arrival {
        channel: ChannelKind::Telegram,
        message: text.map(|text| InboundMessage {
            channel: ChannelKind::Telegram,
            address: address.clone(),
            provider_message_id: format!("{}:{}", msg.chat.id.0, msg.id.0),
            content: InboundContent::text(text),
            received_at: Utc::now(),
        }),
        command: text.and_then(|t| typed(t, &ctx.username)).map(|c| c.name),
        tap: false,
        contact: Some(&contact),
        stranger_locale: &contact.locale,
        address: &address,
        display_name: None,
    };
    respond(&bot, &ctx, msg.chat.id, arrival, None).await
}

/// Hands `arrival` to the conversation core and says its reply in `chat`.
async fn respond(
    bot: &Bot,
    ctx: &BotContext,
    chat: ChatId,
    arrival: Arrival<'_>,
    tap: Option<&CallbackQuery>,
) -> HandlerResult {
    let conversation = ctx.conversation();
    let reply = converse(&conversation, arrival).await?;
    if let (Some(q), Some(toast)) = (tap, &reply.toast) {
        answer_tap(bot, q, toast.note.clone()).await?;
    }
    if let (Some(q), true) = (tap, reply.clear_buttons) {
        clear_keyboard(bot, q).await;
    }
    say_all(bot, chat, reply.say).await;
    deliver_answers(&conversation, &ctx.answers, &reply.queued)
        .await
        .with_context(|| format!("answering chat {}", chat.0))
}

async fn say_all(bot: &Bot, chat: ChatId, texts: Vec<Text>) {
    for text in texts {
        match text.buttons.is_empty() {
            true => say(bot, chat, text.body).await,
            false => say_with(bot, chat, text.body, keyboard(&text.buttons)).await,
        }
    }
}

/// Answers a button tap (always: the client shows a spinner until then), with a short note
/// when there is something to say.
async fn answer_tap(bot: &Bot, q: &CallbackQuery, note: Option<String>) -> HandlerResult {
    let mut answer = bot.answer_callback_query(q.id.clone());
    if let Some(note) = note {
        answer = answer.text(note);
    }
    answer.await?;
    Ok(())
}

/// Takes the buttons off a survey once it has its answer, so nobody taps an old keyboard by
/// mistake. Cosmetic: a failure is only logged.
async fn clear_keyboard(bot: &Bot, q: &CallbackQuery) {
    let Some(message) = q.regular_message() else {
        return;
    };
    if let Err(e) = bot
        .edit_message_reply_markup(message.chat.id, message.id)
        .await
    {
        tracing::debug!(error = %e, "could not take the buttons off a survey");
    }
}

/// The private chat a tap came from: the message's chat, else the user's own (the same id).
fn tap_chat(q: &CallbackQuery) -> ChatId {
    q.regular_message()
        .map(|m| m.chat.id)
        .unwrap_or_else(|| ChatId::from(q.from.id))
}

/// The contact who tapped, if any; a failed lookup fails the update (see `schema::Lookup`).
pub type Tapper = super::schema::Lookup<Option<ContactRef>>;

/// Resolves the contact who tapped, for the handler tree.
pub async fn tapper(q: CallbackQuery, ctx: Arc<BotContext>) -> Option<Tapper> {
    use anyhow::Context as _;
    let found = contact_by_chat(&ctx.pool, tap_chat(&q))
        .await
        .context("looking up the contact who tapped a button")
        .map_err(|e| super::schema::LookupFailed(Arc::new(e)));
    Some(super::schema::Lookup(found))
}

/// A contact tapped one of a survey's or check-in's buttons.
pub async fn contact_button(
    bot: Bot,
    ctx: Arc<BotContext>,
    q: CallbackQuery,
    contact: ContactRef,
) -> HandlerResult {
    let chat = tap_chat(&q);
    let address = chat.0.to_string();
    let arrival = Arrival {
        channel: ChannelKind::Telegram,
        message: Some(InboundMessage {
            channel: ChannelKind::Telegram,
            address: address.clone(),
            // Each tap has its own query id; a redelivered update carries the same one.
            provider_message_id: format!("cb:{}", q.id.0),
            content: InboundContent::Button(q.data.clone().unwrap_or_default()),
            received_at: Utc::now(),
        }),
        command: None,
        tap: true,
        contact: Some(&contact),
        stranger_locale: &contact.locale,
        address: &address,
        display_name: None,
    };
    respond(&bot, &ctx, chat, arrival, Some(&q)).await
}

/// A tap from someone who is not a contact (or no longer one).
pub async fn stale_button(bot: Bot, ctx: Arc<BotContext>, q: CallbackQuery) -> HandlerResult {
    let address = tap_chat(&q).0.to_string();
    let name = q.from.full_name();
    let arrival = Arrival {
        channel: ChannelKind::Telegram,
        message: None,
        command: None,
        tap: true,
        contact: None,
        stranger_locale: stranger_locale(Some(&q.from)),
        address: &address,
        display_name: Some(&name),
    };
    respond(&bot, &ctx, tap_chat(&q), arrival, Some(&q)).await
}

/// A tap on a language button: the contact is written to in that language from now on.
pub async fn language_button(
    bot: Bot,
    ctx: Arc<BotContext>,
    q: CallbackQuery,
    contact: ContactRef,
) -> HandlerResult {
    let data = q.data.as_deref().unwrap_or_default();
    let (toast, done) = choose_locale(&ctx.conversation(), &contact, data).await?;
    answer_tap(&bot, &q, toast.note).await?;
    let Some(done) = done else {
        return Ok(());
    };
    match q.regular_message() {
        // The question becomes the answer, and its buttons go.
        Some(m) => {
            let edited = bot
                .edit_message_text(m.chat.id, m.id, done.clone())
                .reply_markup(InlineKeyboardMarkup::default())
                .await;
            if edited.is_err() {
                say(&bot, m.chat.id, done).await;
            }
        }
        None => say(&bot, tap_chat(&q), done).await,
    }
    Ok(())
}
