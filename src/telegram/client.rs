//! A client's side of the conversation: joining by link, writing, tapping buttons, choosing a
//! language. Everything a contact says goes through `inbound::receive`, as on every channel;
//! this module only turns Telegram's updates into inbound messages and the outcome into chat.
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

use super::TelegramChannel;
use super::channel::keyboard;
use super::commands::typed;
use super::replies::{answers, say, say_key, say_with, text};
use super::staff;
use super::who::{ContactRef, contact_by_chat, stranger_locale};
use super::{BotContext, HandlerResult};
use crate::channel::{Button, Channels};
use crate::domain::ChannelKind;
use crate::inbound::{Answer, InboundContent, InboundMessage, InboundOutcome, Judge, receive};
use crate::messages::Vars;
use crate::outbound::planner::replan_account;
use crate::outbound::post_dispatcher::deliver_posts_now;
use crate::storage::contacts;
use crate::storage::invites::{self, Redeemed};

/// Callback data of the language buttons: `lang:<locale>`.
pub const LANGUAGE_PREFIX: &str = "lang:";

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
    let now = Utc::now();
    let chat = msg.chat.id;
    let stranger = stranger_locale(msg.from.as_ref());
    let redeemed = invites::redeem(&ctx.pool, &code.0, &chat.0.to_string(), now).await?;
    let (key, account) = match redeemed {
        Redeemed::Joined { account_id, .. } => ("tg-joined", Some(account_id)),
        Redeemed::AlreadyJoined { .. } => ("tg-join-already", None),
        Redeemed::Expired => ("tg-join-expired", None),
        Redeemed::Unknown | Redeemed::NoLongerValid => ("tg-join-invalid", None),
        Redeemed::ChatTaken => ("tg-join-chat-taken", None),
    };
    if let Some(account) = account {
        // Puts the welcome (and whatever else is due) on the calendar from today.
        replan_account(&ctx.pool, &ctx.settings.calendar, account, now).await?;
    }
    // The chat's contact, if it has one now: the one who just joined, or the one it already
    // belonged to. Texts for strangers use no variables.
    let (locale, vars) = match contact_by_chat(&ctx.pool, chat).await? {
        Some(contact) => (contact.locale.clone(), contact.vars()),
        None => (stranger.to_string(), Vars::new()),
    };
    say_key(&bot, &ctx, chat, &locale, key, &vars).await;
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
    let locale = stranger_locale(msg.from.as_ref());
    say_key(&bot, &ctx, msg.chat.id, locale, "tg-stranger", &Vars::new()).await;
    Ok(())
}

/// A contact who wrote is evidently reachable again (they had blocked the bot and came back).
async fn welcome_back(ctx: &BotContext, contact: &ContactRef) -> HandlerResult {
    if contact.unreachable && contacts::mark_reachable(&ctx.pool, contact.id).await? {
        replan_account(
            &ctx.pool,
            &ctx.settings.calendar,
            contact.account_id,
            Utc::now(),
        )
        .await?;
    }
    Ok(())
}

/// A message from a contact: their commands, or anything else for `inbound::receive`.
pub async fn contact_message(
    bot: Bot,
    ctx: Arc<BotContext>,
    msg: Message,
    contact: ContactRef,
) -> HandlerResult {
    welcome_back(&ctx, &contact).await?;
    let Some(text) = msg.text().or(msg.caption()) else {
        // A sticker or a voice note: nothing the bot can read, and nothing to store.
        return Ok(());
    };
    match typed(text, &ctx.username).map(|c| c.name) {
        Some(name) if name == "language" => {
            return choose_language(&bot, &ctx, msg.chat.id, &contact).await;
        }
        Some(name) if name == "help" => {
            say_key(
                &bot,
                &ctx,
                msg.chat.id,
                &contact.locale,
                "tg-help",
                &contact.vars(),
            )
            .await;
            return Ok(());
        }
        // /stop and /start are read by the inbound parser like "stop" and "start".
        _ => {}
    }
    let inbound = InboundMessage {
        channel: ChannelKind::Telegram,
        address: msg.chat.id.0.to_string(),
        provider_message_id: format!("{}:{}", msg.chat.id.0, msg.id.0),
        content: InboundContent::text(text),
        received_at: Utc::now(),
    };
    handle(&bot, &ctx, msg.chat.id, &contact, &inbound, None).await
}

/// Stores what came in, and answers with what the outcome says.
async fn handle(
    bot: &Bot,
    ctx: &BotContext,
    chat: ChatId,
    contact: &ContactRef,
    inbound: &InboundMessage,
    tap: Option<&CallbackQuery>,
) -> HandlerResult {
    let now = inbound.received_at;
    let outcome = receive(&ctx.pool, Judge::from(&*ctx.settings), inbound, now).await?;
    let InboundOutcome::Handled(handled) = outcome else {
        if let Some(q) = tap {
            toast(bot, ctx, q, &contact.locale, Some("tg-button-stale")).await?;
        }
        return Ok(());
    };
    if let Some(q) = tap {
        let note = match (&handled.answer, handled.duplicate) {
            (_, true) => None,
            (Answer::AlreadyAnswered, _) => Some("tg-already-answered"),
            (Answer::StaleButton, _) => Some("tg-button-stale"),
            _ => None,
        };
        toast(bot, ctx, q, &handled.locale, note).await?;
        if !handled.duplicate && !matches!(handled.answer, Answer::StaleButton) {
            clear_keyboard(bot, q).await;
        }
    }
    // A redelivered update was answered the first time, unless a crash came in between:
    // the answers are queued under the message's key, so nothing is sent twice.
    let mut texts = answers(ctx, &handled);
    if texts.is_empty() && handled.answer == (Answer::OptIn { changed: false }) {
        // "/start" from someone who never left: say they are set rather than nothing.
        texts.extend(text(
            ctx,
            &handled.locale,
            "tg-start-again",
            &contact.vars(),
        ));
    }
    // Re-plans, reassessment and the words passed to the CSM (during a takeover, everything
    // the contact writes; the bot then says nothing) were done by `receive`.
    let waiting = crate::inbound::answers::queue(&ctx.pool, &handled, inbound, &texts, now).await?;
    if waiting.is_empty() {
        return Ok(());
    }
    let channels = Channels::new(ctx.settings.dispatcher.rate_limits.clone()).with(Arc::new(
        TelegramChannel::new(bot.clone(), ctx.pool.clone()),
    ));
    let worker = format!("answers-{}", std::process::id());
    deliver_posts_now(
        &ctx.pool,
        &channels,
        &ctx.settings.dispatcher,
        &worker,
        &waiting,
    )
    .await
    .with_context(|| format!("answering chat {}", chat.0))?;
    Ok(())
}

/// Answers a button tap (always: the client shows a spinner until then), with a short note
/// when there is something to say.
async fn toast(
    bot: &Bot,
    ctx: &BotContext,
    q: &CallbackQuery,
    locale: &str,
    key: Option<&str>,
) -> HandlerResult {
    let mut answer = bot.answer_callback_query(q.id.clone());
    if let Some(note) = key.and_then(|key| text(ctx, locale, key, &Vars::new())) {
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
    welcome_back(&ctx, &contact).await?;
    let chat = tap_chat(&q);
    let inbound = InboundMessage {
        channel: ChannelKind::Telegram,
        address: chat.0.to_string(),
        // Each tap has its own query id; a redelivered update carries the same one.
        provider_message_id: format!("cb:{}", q.id.0),
        content: InboundContent::Button(q.data.clone().unwrap_or_default()),
        received_at: Utc::now(),
    };
    handle(&bot, &ctx, chat, &contact, &inbound, Some(&q)).await
}

/// A tap from someone who is not a contact (or no longer one).
pub async fn stale_button(bot: Bot, ctx: Arc<BotContext>, q: CallbackQuery) -> HandlerResult {
    let locale = stranger_locale(Some(&q.from));
    toast(&bot, &ctx, &q, locale, Some("tg-button-stale")).await
}

/// `/language`: one button per language the bot speaks, each labelled in its own language.
async fn choose_language(
    bot: &Bot,
    ctx: &BotContext,
    chat: ChatId,
    contact: &ContactRef,
) -> HandlerResult {
    let buttons: Vec<Vec<Button>> = ctx
        .messages
        .locales()
        .into_iter()
        .filter_map(|locale| {
            let label = text(ctx, locale, "language-name", &Vars::new())?;
            Some(vec![Button {
                label,
                data: format!("{LANGUAGE_PREFIX}{locale}"),
            }])
        })
        .collect();
    if let Some(question) = text(ctx, &contact.locale, "tg-language-choose", &Vars::new()) {
        say_with(bot, chat, question, keyboard(&buttons)).await;
    }
    Ok(())
}

/// A tap on a language button: the contact is written to in that language from now on.
pub async fn language_button(
    bot: Bot,
    ctx: Arc<BotContext>,
    q: CallbackQuery,
    contact: ContactRef,
) -> HandlerResult {
    let wanted = q
        .data
        .as_deref()
        .and_then(|d| d.strip_prefix(LANGUAGE_PREFIX))
        .filter(|l| ctx.messages.locales().contains(l));
    let Some(locale) = wanted else {
        return toast(&bot, &ctx, &q, &contact.locale, Some("tg-button-stale")).await;
    };
    contacts::set_locale(&ctx.pool, contact.id, locale).await?;
    toast(&bot, &ctx, &q, locale, None).await?;
    let Some(done) = text(&ctx, locale, "tg-language-set", &Vars::new()) else {
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
