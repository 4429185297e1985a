//! Where the staff features plug into the Telegram handler tree: messages in the team's group
//! chats, staff commands in private chats, the escalation cards' buttons (`esc:…` data), and a
//! contact's message that needs a person. Until those features are connected, a staff command
//! or button gets a short "not available here yet", and everything else passes quietly.

use std::sync::Arc;

use teloxide::Bot;
use teloxide::payloads::AnswerCallbackQuerySetters;
use teloxide::prelude::Requester;
use teloxide::types::{CallbackQuery, Message};

use super::commands::{is_staff_command, typed};
use super::replies::{say_key, text};
use super::who::{ContactRef, StaffRef, stranger_locale};
use super::{BotContext, HandlerResult};
use crate::inbound::Handled;
use crate::messages::Vars;

/// Callback data of the escalation cards' buttons starts with this.
pub const ESCALATION_PREFIX: &str = "esc:";

/// A message in a group or supergroup (the team chat, or a group the bot was added to). Plain
/// conversation there is not for the bot; only its commands get an answer.
pub async fn group_message(bot: Bot, ctx: Arc<BotContext>, msg: Message) -> HandlerResult {
    let Some(command) = msg.text().and_then(|t| typed(t, &ctx.username)) else {
        return Ok(());
    };
    if is_staff_command(&command.name) {
        let locale = stranger_locale(msg.from.as_ref());
        say_key(
            &bot,
            &ctx,
            msg.chat.id,
            locale,
            "staff-not-available",
            &Vars::new(),
        )
        .await;
    }
    Ok(())
}

/// A staff command (/status, /atrisk…) in a staff member's private chat.
pub async fn private_command(
    bot: Bot,
    ctx: Arc<BotContext>,
    msg: Message,
    staff: StaffRef,
) -> HandlerResult {
    say_key(
        &bot,
        &ctx,
        msg.chat.id,
        &staff.locale,
        "staff-not-available",
        &Vars::new(),
    )
    .await;
    Ok(())
}

/// Anything else a staff member (who is not also a contact) writes to the bot in private.
pub async fn private_message(
    bot: Bot,
    ctx: Arc<BotContext>,
    msg: Message,
    staff: StaffRef,
) -> HandlerResult {
    private_command(bot, ctx, msg, staff).await
}

/// A tap on an escalation card's button. The query is always answered, so the tapper's
/// client stops waiting.
pub async fn escalation_button(bot: Bot, ctx: Arc<BotContext>, q: CallbackQuery) -> HandlerResult {
    let locale = stranger_locale(Some(&q.from));
    let mut answer = bot.answer_callback_query(q.id.clone());
    if let Some(note) = text(&ctx, locale, "staff-not-available", &Vars::new()) {
        answer = answer.text(note);
    }
    answer.await?;
    Ok(())
}

/// Called after a contact's message was stored and answered, when the answer says a person
/// should see it (free text, a request for help): the human takeover connects here. The
/// request for help itself already reaches the CSM as an escalation.
pub async fn contact_needs_person(
    _bot: &Bot,
    _ctx: &BotContext,
    contact: &ContactRef,
    handled: &Handled,
) -> HandlerResult {
    tracing::debug!(contact_id = %contact.id, reply_id = ?handled.reply_id, "a contact's message awaits a person");
    Ok(())
}
