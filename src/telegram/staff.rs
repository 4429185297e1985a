//! Where the staff features (`crate::chat`, written once for any chat platform) meet the
//! Telegram handler tree: commands in the team's group and in private, the escalation cards'
//! buttons, `/bind`, and the human takeover relay in both directions.

use std::sync::Arc;

use chrono::Utc;
use teloxide::Bot;
use teloxide::payloads::{AnswerCallbackQuerySetters, EditMessageTextSetters};
use teloxide::prelude::Requester;
use teloxide::types::{CallbackQuery, ChatId, Message, MessageId};

use super::channel::{keyboard, provider_message_id};
use super::commands::{is_staff_command, typed};
use super::replies::say;
use super::who::{ContactRef, StaffRef};
use super::{BotContext, HandlerResult};
use crate::chat::{self, Edit, ReplyOutcome};
use crate::domain::{ChannelKind, EscalationId};
use crate::inbound::{Handled, InboundContent, InboundMessage};

/// Callback data of the escalation cards' buttons starts with this.
pub const ESCALATION_PREFIX: &str = "esc:";
/// Callback data of the "Hand back" button under a relayed client message.
pub const TAKEOVER_PREFIX: &str = "tko:";

fn user_id(msg: &Message) -> Option<i64> {
    msg.from.as_ref().and_then(|u| i64::try_from(u.id.0).ok())
}

/// A message in a group or supergroup (the team chat, or a group the bot was added to): a
/// reply to a client's relayed words goes back to the client; `/bind` is answered anywhere, the
/// staff commands only in the team chat; plain conversation is not for the bot.
pub async fn group_message(bot: Bot, ctx: Arc<BotContext>, msg: Message) -> HandlerResult {
    let (Some(text), Some(from)) = (msg.text(), user_id(&msg)) else {
        return Ok(());
    };
    if relay_reply(&bot, &ctx, &msg, from, text).await? {
        return Ok(());
    }
    let Some(command) = typed(text, &ctx.username) else {
        return Ok(());
    };
    if command.name == "bind" {
        let outcome = chat::bind(
            &ctx.pool,
            command.args.trim(),
            msg.chat.id.0,
            from,
            Utc::now(),
        )
        .await?;
        say(&bot, msg.chat.id, outcome.text).await;
    } else if is_staff_command(&command.name) {
        let here = msg.chat.id.0.to_string();
        if chat::is_team_chat(&ctx.pool, ChannelKind::Telegram, &here).await? {
            answer_command(&bot, &ctx, msg.chat.id, from, text).await;
        } else {
            tracing::info!(
                chat = msg.chat.id.0,
                telegram_user_id = from,
                command = %command.name,
                "a staff command in a group that is not the team chat; no data given"
            );
            say(&bot, msg.chat.id, chat::NOT_IN_THIS_CHAT.to_string()).await;
        }
    }
    Ok(())
}

async fn answer_command(bot: &Bot, ctx: &BotContext, chat: ChatId, from: i64, text: &str) {
    for part in chat::staff_command(&ctx.pool, &ctx.settings, from, text, Utc::now()).await {
        say(bot, chat, part).await;
    }
    if let Some(id) = resolved_by_command(text, &ctx.username) {
        refresh_cards(bot, ctx, id).await;
    }
}

/// The escalation a `/resolve ID OUTCOME` names ("12", "#12" or "#esc12").
fn resolved_by_command(text: &str, username: &str) -> Option<EscalationId> {
    let command = typed(text, username)?;
    if command.name != "resolve" {
        return None;
    }
    let first = command.args.split_whitespace().next()?;
    first
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()
        .map(EscalationId)
}

/// Brings every posted card of escalation `id` up to date, as a tap on it would.
async fn refresh_cards(bot: &Bot, ctx: &BotContext, id: EscalationId) {
    let view = match chat::card_view(&ctx.pool, &ctx.settings, id, Utc::now()).await {
        Ok(Some(view)) => view,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(escalation = id.0, error = ?e, "could not rebuild a card");
            return;
        }
    };
    let cards = chat::posted_cards(&ctx.pool, id).await.unwrap_or_default();
    for card in cards.iter().filter(|c| c.channel == "telegram") {
        // Posted messages are named "chat:message" (see `provider_message_id`).
        let Some((chat, message)) = card.message_id.split_once(':') else {
            continue;
        };
        if let (Ok(chat), Ok(message)) = (chat.parse::<i64>(), message.parse::<i32>()) {
            edit(
                bot,
                ChatId(chat),
                MessageId(message),
                Edit::Card(view.clone()),
            )
            .await;
        }
    }
}

/// A staff command (/status, /atrisk…) in a staff member's private chat.
pub async fn private_command(
    bot: Bot,
    ctx: Arc<BotContext>,
    msg: Message,
    _staff: StaffRef,
) -> HandlerResult {
    if let (Some(text), Some(from)) = (msg.text(), user_id(&msg)) {
        answer_command(&bot, &ctx, msg.chat.id, from, text).await;
    }
    Ok(())
}

/// Anything else a staff member (who is not also a contact) writes to the bot in private: a
/// reply to a client's relayed words, or else the list of what the bot answers.
pub async fn private_message(
    bot: Bot,
    ctx: Arc<BotContext>,
    msg: Message,
    _staff: StaffRef,
) -> HandlerResult {
    let (Some(text), Some(from)) = (msg.text(), user_id(&msg)) else {
        return Ok(());
    };
    if !relay_reply(&bot, &ctx, &msg, from, text).await? {
        answer_command(&bot, &ctx, msg.chat.id, from, "/help").await;
    }
    Ok(())
}

/// A staff command from someone the bot does not know, in private: refused and logged by
/// `chat`, revealing nothing.
pub async fn stranger_command(bot: Bot, ctx: Arc<BotContext>, msg: Message) -> HandlerResult {
    if let (Some(text), Some(from)) = (msg.text(), user_id(&msg)) {
        answer_command(&bot, &ctx, msg.chat.id, from, text).await;
    }
    Ok(())
}

/// When `msg` answers one of the bot's messages that carried a client's words, sends the
/// answer to the client. Returns whether it was such a reply.
async fn relay_reply(
    bot: &Bot,
    ctx: &BotContext,
    msg: &Message,
    from: i64,
    text: &str,
) -> anyhow::Result<bool> {
    let Some(original) = msg.reply_to_message() else {
        return Ok(false);
    };
    let outcome = chat::reply_to_client(
        &ctx.pool,
        &ctx.settings,
        from,
        &msg.chat.id.0.to_string(),
        &provider_message_id(original),
        &provider_message_id(msg),
        text,
        Utc::now(),
    )
    .await?;
    match outcome {
        ReplyOutcome::NotARelay => return Ok(false),
        ReplyOutcome::Refused { notice } | ReplyOutcome::Undeliverable { notice } => {
            say(bot, msg.chat.id, notice).await;
        }
        // Delivered by the staff post dispatcher; a redelivered update was confirmed before.
        ReplyOutcome::Queued {
            fresh,
            confirmation,
            ..
        } => {
            if fresh {
                say(bot, msg.chat.id, confirmation).await;
            }
        }
    }
    Ok(true)
}

/// A tap on an escalation card's button (or on "Hand back"). The query is always answered,
/// and the card is edited to show who did what.
pub async fn escalation_button(bot: Bot, ctx: Arc<BotContext>, q: CallbackQuery) -> HandlerResult {
    let presser = i64::try_from(q.from.id.0).unwrap_or_default();
    if !chat::taps::first_time(&ctx.pool, "telegram", &q.id.0).await? {
        // Handled before: only the spinner may still need stopping.
        if let Err(e) = bot.answer_callback_query(q.id.clone()).await {
            tracing::debug!(error = %e, "a repeated tap could not be answered");
        }
        return Ok(());
    }
    let data = q.data.clone().unwrap_or_default();
    let result = chat::press(&ctx.pool, &ctx.settings, &data, presser, Utc::now()).await;
    // The action is done; a failed answer (an expired query, a network fault) only leaves a
    // spinner, and must not make the update be handled again.
    if let Err(e) = bot
        .answer_callback_query(q.id.clone())
        .text(result.notice)
        .await
    {
        tracing::warn!(telegram_user_id = presser, error = %e, "could not answer a staff tap");
    }
    let Some(message) = q.message.as_ref() else {
        return Ok(());
    };
    edit(&bot, message.chat().id, message.id(), result.edit).await;
    Ok(())
}

async fn edit(bot: &Bot, chat: ChatId, id: MessageId, edit: Edit) {
    let done = match edit {
        Edit::Keep => return,
        Edit::Card(view) => bot
            .edit_message_text(chat, id, view.text)
            .reply_markup(keyboard(&view.buttons))
            .await
            .map(|_| ()),
        Edit::RemoveButtons => bot.edit_message_reply_markup(chat, id).await.map(|_| ()),
    };
    if let Err(e) = done {
        tracing::warn!(chat = chat.0, error = %e, "could not update a card");
    }
}

/// Called after a contact's message was stored and answered, when the answer says a person
/// should see it: free text the bot cannot answer goes to the CSM (human takeover), which
/// also pauses the contact's automated touches. A request for help already reaches the CSM
/// as an escalation.
pub async fn contact_needs_person(
    _bot: &Bot,
    ctx: &BotContext,
    contact: &ContactRef,
    handled: &Handled,
    inbound: &InboundMessage,
) -> HandlerResult {
    if handled.answer != crate::inbound::Answer::FreeText {
        return Ok(());
    }
    forward_in_takeover(ctx, contact, inbound).await
}

/// Passes a contact's words to their CSM and starts (or extends) the takeover.
pub async fn forward_in_takeover(
    ctx: &BotContext,
    contact: &ContactRef,
    inbound: &InboundMessage,
) -> HandlerResult {
    let InboundContent::Text(words) = &inbound.content else {
        return Ok(());
    };
    let forwarded = chat::forward_to_csm(
        &ctx.pool,
        &ctx.settings,
        contact.id,
        &inbound.provider_message_id,
        words,
        inbound.received_at,
    )
    .await?;
    tracing::info!(contact_id = %contact.id, post = ?forwarded.post, "a contact's words went to their CSM");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resolve_command_names_its_escalation_however_the_id_is_written() {
        for text in [
            "/resolve 12 saved",
            "/resolve #12 saved",
            "/resolve@touch_bot #esc12 saved",
        ] {
            assert_eq!(
                resolved_by_command(text, "touch_bot"),
                Some(EscalationId(12)),
                "{text}"
            );
        }
        assert_eq!(resolved_by_command("/status 12", "touch_bot"), None);
        assert_eq!(resolved_by_command("/resolve saved", "touch_bot"), None);
    }
}
