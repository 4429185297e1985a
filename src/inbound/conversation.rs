//! The conversation with a client, whatever the channel: what happens after a contact's
//! message or tap arrives, and what to say back. Adapters (Telegram, WhatsApp) only turn their
//! updates into an [`Arrival`] and the [`Reply`] into their platform's calls, so both behave
//! alike and neither holds a rule of its own.
//!
//! What `converse` does: a contact who had blocked the bot and writes again is reachable
//! (and their calendar re-planned); `/help` and `/language` are answered; anything else goes
//! to [`receive`], which stores it and does what follows (the re-plan after an opt-out or
//! opt-in, the reassessment, the words relayed to the CSM during a takeover); the answers to
//! it (thank-you, why-question, re-ask, opt-out confirmation) are queued durably under the
//! message's key, for the adapter to deliver at once with [`deliver_answers`]. Someone who is
//! no contact is kept for staff to review (`strangers`) and gets one polite answer, once per
//! address; nothing they say is stored.

use anyhow::Context as _;
use chrono::Utc;
use sqlx::PgPool;

use super::contact::ContactRef;
use super::{Handled, InboundMessage, strangers};
use crate::channel::{Button, Channels};
use crate::config::Settings;
use crate::domain::{ChannelKind, PostId};
use crate::messages::{Messages, Vars};
use crate::outbound::planner::replan_account;
use crate::outbound::render::fallback_csm;
use crate::staff_posts::dispatcher::deliver_posts_now;
use crate::storage::contacts;

mod received;
mod wording;
use received::ToStore;
pub use wording::{channel_key, chat_key, command_word};

/// Callback data of the language buttons: `lang:<locale>`.
pub const LANGUAGE_PREFIX: &str = "lang:";

/// What the conversation needs, resolved once by the adapter.
#[derive(Debug, Clone, Copy)]
pub struct Conversation<'a> {
    pub pool: &'a PgPool,
    pub settings: &'a Settings,
    pub messages: &'a Messages,
}

/// What the adapter knows of what arrived.
#[derive(Debug, Clone)]
pub struct Arrival<'a> {
    /// Where it came from: picks the channel's own wording of texts about the chat itself.
    pub channel: ChannelKind,
    /// What was said or tapped; None for what the bot cannot read (a sticker, a voice note),
    /// which is neither stored nor answered.
    pub message: Option<InboundMessage>,
    /// The command the adapter read in the text in its own syntax ("/help@bot" → "help").
    /// Only `help` and `language` are answered here; `/stop` and `/start` are read from the
    /// text like "stop" and "start".
    pub command: Option<String>,
    /// A button tap: it always gets a [`Toast`].
    pub tap: bool,
    /// The contact the sender is, as the adapter found them; None for a stranger.
    pub contact: Option<&'a ContactRef>,
    /// The language to answer a stranger in (the platform's hint, else the fallback).
    pub stranger_locale: &'a str,
    /// Who sent it on that channel (a Telegram chat id, an E.164 number): a stranger is kept
    /// under it.
    pub address: &'a str,
    /// The platform's name for the sender, when it gives one (WhatsApp's profile name).
    pub display_name: Option<&'a str>,
}

/// A text to say, rendered, with its buttons (rows of them; none for plain text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub body: String,
    pub buttons: Vec<Vec<Button>>,
}

/// The answer to a tap, always given (the client waits for it); `note` is shown briefly.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Toast {
    pub note: Option<String>,
}

/// What came of an arrival.
#[derive(Debug, Clone, PartialEq)]
pub enum Done {
    /// The sender is no contact on this channel: nothing stored.
    Stranger,
    /// Nothing the bot can read: nothing stored.
    Unreadable,
    /// `/help` or `/language`, answered without storing anything.
    Command,
    /// A join code, answered (bound, already bound, or refused): see `joining::join`.
    Joined,
    /// Stored (or recognised as a redelivery) and followed up by `receive`.
    Received(Handled),
}

/// What to say back, in this order: the toast (for a tap), the keyboard to clear, the texts
/// to say at once, then the queued answers, delivered with [`deliver_answers`].
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub toast: Option<Toast>,
    /// Take the buttons off the message that was tapped: it has its answer.
    pub clear_buttons: bool,
    /// Said at once and not queued: nothing was stored that they answer.
    pub say: Vec<Text>,
    /// The answers to a stored message, queued as posts still to deliver, in order.
    pub queued: Vec<PostId>,
    pub done: Done,
}

impl Reply {
    fn quiet(done: Done) -> Reply {
        Reply {
            toast: None,
            clear_buttons: false,
            say: Vec::new(),
            queued: Vec::new(),
            done,
        }
    }
}

impl Conversation<'_> {
    /// Renders `key`; a template problem is a bug found at start-up, so it is only logged.
    pub fn text(&self, locale: &str, key: &str, vars: &Vars) -> Option<String> {
        match self.messages.render(locale, key, vars) {
            Ok(text) => Some(text),
            Err(e) => {
                tracing::error!(key, error = %e, "could not render a reply");
                None
            }
        }
    }

    /// Renders the text about the chat itself called `name` (see [`chat_key`]).
    pub fn chat_text(
        &self,
        channel: ChannelKind,
        locale: &str,
        name: &str,
        vars: &Vars,
    ) -> Option<String> {
        self.text(locale, &chat_key(self.messages, channel, name), vars)
    }

    fn toast(&self, channel: ChannelKind, locale: &str, name: Option<&str>) -> Toast {
        Toast {
            note: name.and_then(|name| self.chat_text(channel, locale, name, &Vars::new())),
        }
    }
}

/// Who does the steps that follow a stored message (`followups`): `converse` itself, or its
/// caller, which does a whole batch's together (`followups::run_batch`) before answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUps {
    Now,
    ByCaller,
}

/// Decides and does what follows `arrival`, and says what to answer. An error (the database
/// is away) fails the update, to be handled again on its redelivery.
pub async fn converse(conv: &Conversation<'_>, arrival: Arrival<'_>) -> anyhow::Result<Reply> {
    converse_with(conv, arrival, FollowUps::Now).await
}

/// [`converse`], leaving the steps after a stored message to the caller when asked.
pub async fn converse_with(
    conv: &Conversation<'_>,
    arrival: Arrival<'_>,
    follow_ups: FollowUps,
) -> anyhow::Result<Reply> {
    let mut replies = converse_all(conv, vec![arrival], follow_ups).await;
    replies.pop().expect("one reply for one arrival")
}

/// [`converse_with`] for many arrivals at once, from different senders (a drainer's batch):
/// each is looked at on its own first (a stranger, a command, a contact come back), then the
/// messages to store are stored together and their answers queued together
/// (`received::received_all`). One reply or error for each arrival, in order.
pub async fn converse_all(
    conv: &Conversation<'_>,
    arrivals: Vec<Arrival<'_>>,
    follow_ups: FollowUps,
) -> Vec<anyhow::Result<Reply>> {
    let mut replies: Vec<Option<anyhow::Result<Reply>>> = Vec::with_capacity(arrivals.len());
    let mut to_store = Vec::new();
    for arrival in arrivals {
        match before_storing(conv, arrival).await {
            Ok(Before::Reply(reply)) => replies.push(Some(Ok(reply))),
            Ok(Before::Store(stored)) => {
                to_store.push((replies.len(), stored));
                replies.push(None);
            }
            Err(e) => replies.push(Some(Err(e))),
        }
    }
    let (at, to_store): (Vec<usize>, Vec<ToStore>) = to_store.into_iter().unzip();
    let stored = received::received_all(conv, &to_store, follow_ups).await;
    for (n, reply) in at.into_iter().zip(stored) {
        replies[n] = Some(reply);
    }
    replies
        .into_iter()
        .map(|r| r.expect("every arrival has its reply"))
        .collect()
}

/// What an arrival comes to before anything is stored: a reply already, or a message to store.
enum Before<'a> {
    Reply(Reply),
    Store(ToStore<'a>),
}

async fn before_storing<'a>(
    conv: &Conversation<'_>,
    arrival: Arrival<'a>,
) -> anyhow::Result<Before<'a>> {
    let Some(contact) = arrival.contact else {
        return stranger(conv, &arrival).await.map(Before::Reply);
    };
    welcome_back(conv, contact).await?;
    if !arrival.tap {
        match arrival.command.as_deref() {
            Some("language") => {
                return Ok(Before::Reply(choose_language(
                    conv,
                    arrival.channel,
                    contact,
                )));
            }
            Some("help") => {
                let mut reply = Reply::quiet(Done::Command);
                reply.say.extend(plain(conv.chat_text(
                    arrival.channel,
                    &contact.locale,
                    "help",
                    &contact.vars(),
                )));
                return Ok(Before::Reply(reply));
            }
            _ => {}
        }
    }
    let Some(message) = arrival.message else {
        return Ok(Before::Reply(Reply::quiet(Done::Unreadable)));
    };
    Ok(Before::Store(ToStore {
        contact,
        message,
        tap: arrival.tap,
    }))
}

/// Someone the bot does not know on this channel: kept for staff to review, and answered
/// politely the first time only (a stranger who keeps writing is not answered again and
/// again); nothing they said is stored. A tap is always answered, as every tap must be.
async fn stranger(conv: &Conversation<'_>, arrival: &Arrival<'_>) -> anyhow::Result<Reply> {
    let locale = arrival.stranger_locale;
    let seen = strangers::Seen {
        channel: arrival.channel,
        address: arrival.address,
        display_name: arrival.display_name,
        at: arrival
            .message
            .as_ref()
            .map_or_else(Utc::now, |m| m.received_at),
    };
    let answer = strangers::seen(conv.pool, &seen, !arrival.tap)
        .await
        .context("recording a stranger who wrote")?;
    let mut reply = Reply::quiet(Done::Stranger);
    if arrival.tap {
        reply.toast = Some(conv.toast(arrival.channel, locale, Some("button-stale")));
    } else if answer {
        reply.say.extend(plain(conv.chat_text(
            arrival.channel,
            locale,
            "stranger",
            &Vars::new(),
        )));
    }
    Ok(reply)
}

/// A contact who wrote is evidently reachable again (they had blocked the bot and came back).
async fn welcome_back(conv: &Conversation<'_>, contact: &ContactRef) -> anyhow::Result<()> {
    if contact.unreachable
        && contacts::mark_reachable(conv.pool, contact.id)
            .await
            .context("marking a contact who wrote reachable again")?
    {
        replan_account(
            conv.pool,
            &conv.settings.calendar,
            contact.account_id,
            Utc::now(),
        )
        .await
        .context("re-planning the account of a contact who came back")?;
    }
    Ok(())
}

/// The texts that answer what a contact sent, in order, in `channel`'s wording.
pub fn answer_texts(
    conv: &Conversation<'_>,
    channel: ChannelKind,
    handled: &Handled,
) -> Vec<String> {
    let mut vars = handled.vars();
    if handled.csm_name.is_none() {
        // As with touches: an account without a CSM is signed by the team.
        vars = vars.csm(fallback_csm(&handled.locale));
    }
    handled
        .send_back()
        .into_iter()
        .filter_map(|key| {
            let key = channel_key(conv.messages, channel, key);
            conv.text(&handled.locale, &key, &vars)
        })
        .collect()
}

/// `/language`: one button per language the bot speaks, each labelled in its own language.
fn choose_language(conv: &Conversation<'_>, channel: ChannelKind, contact: &ContactRef) -> Reply {
    let buttons: Vec<Vec<Button>> = conv
        .messages
        .locales()
        .into_iter()
        .filter_map(|locale| {
            let label = conv.text(locale, "language-name", &Vars::new())?;
            Some(vec![Button {
                label,
                data: format!("{LANGUAGE_PREFIX}{locale}"),
            }])
        })
        .collect();
    let mut reply = Reply::quiet(Done::Command);
    if let Some(body) = conv.chat_text(channel, &contact.locale, "language-choose", &Vars::new()) {
        reply.say.push(Text { body, buttons });
    }
    reply
}

/// A tap on a language button (`lang:<locale>`): the contact is written to in that language
/// from now on. Returns the toast and the confirmation, in the new language; a locale the bot
/// does not speak gets the "stale button" toast and changes nothing.
pub async fn choose_locale(
    conv: &Conversation<'_>,
    contact: &ContactRef,
    data: &str,
) -> anyhow::Result<(Toast, Option<String>)> {
    let wanted = data
        .strip_prefix(LANGUAGE_PREFIX)
        .filter(|l| conv.messages.locales().contains(l));
    let Some(locale) = wanted else {
        let stale = conv.toast(ChannelKind::Telegram, &contact.locale, Some("button-stale"));
        return Ok((stale, None));
    };
    contacts::set_locale(conv.pool, contact.id, locale)
        .await
        .context("storing a contact's language")?;
    let done = conv.text(locale, "tg-language-set", &Vars::new());
    Ok((Toast::default(), done))
}

/// Delivers the answers `converse` queued, through `channels` (one set per adapter, shared by
/// its handlers, so the pace kept towards each chat holds). What is left undelivered goes
/// with the post dispatcher.
pub async fn deliver_answers(
    conv: &Conversation<'_>,
    channels: &Channels,
    queued: &[PostId],
) -> anyhow::Result<()> {
    if queued.is_empty() {
        return Ok(());
    }
    let worker = format!("answers-{}", std::process::id());
    deliver_posts_now(
        conv.pool,
        channels,
        &conv.settings.dispatcher,
        &worker,
        queued,
    )
    .await
    .context("delivering the answers to a contact")?;
    Ok(())
}

fn plain(body: Option<String>) -> Option<Text> {
    body.map(|body| Text {
        body,
        buttons: Vec::new(),
    })
}
