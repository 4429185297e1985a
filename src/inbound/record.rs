//! Storing what a contact sent: a batch of inbound messages in one transaction, each kind of
//! row written for the whole batch in one statement (`store`), after the rules decided what
//! each message is from facts read for the whole batch at once (`decide`). A single message
//! is a batch of one: there is one way to store a message. When a batch fails, its messages
//! are stored one by one, so one that cannot be stored holds up none of the others.
//!
//! The rules:
//! - Unknown sender (no live contact with this channel and address): nothing is stored.
//! - Every message from a known contact writes one `signals` row, kind `reply`, keyed
//!   `reply:<channel>:<provider_message_id>`. That row is the idempotency record and keeps
//!   the outcome as JSON (never the contact's text), so a redelivery returns the same outcome
//!   marked `duplicate` and changes nothing. It also feeds engagement scoring later. It is
//!   written last, with the outcome; a concurrent delivery of the same message that wrote it
//!   first makes the batch roll back, and the message is then read as a duplicate.
//! - What a text answers: the latest NPS, CSAT or check-in touch *sent* to the contact within
//!   [`REPLY_WINDOW`] (7 days) that has no answer yet. A button names its touch itself and is
//!   accepted however late, as long as that touch went to this contact and is still unanswered;
//!   the first answer stands.
//! - Ask why once: a bare NPS score is stored and answered with `nps-ask-why`. The contact's
//!   next message, if it is free text and arrives within [`COMMENT_WINDOW`] (24 hours), becomes
//!   that score's `comment`; it adds no reply row (its signal row keeps it idempotent). Later
//!   text is a new conversation: it deserves to reach the CSM as such.
//! - Re-ask once: text that is not a score while a survey waits is stored as kind `unclear`
//!   (linked to the survey, no score) and answered with `nps-reask`; after one re-ask, further
//!   text is free text for the CSM, and the survey stays open for a number or a tap.
//! - A batch holds no two messages from one address (nor two of one message): the facts read
//!   for a batch must not depend on another message of it. Longer runs are cut into batches.
//! - `replies.kind` is one of nps, csat, checkin, free_text, unclear, optout, optin. A touch
//!   counts as answered by any linked reply except `unclear`. Free text is linked to a touch
//!   only when it answers a check-in.
//! - Opt-out sets `contact_consents` for survey and checkin to opted out; renewal and service
//!   notices keep coming. Opt-in (`/start`) clears those two, and says so only if they were set.
//!   Each real change is also kept in `consent_changes`, sourced `reply:<channel>`.
//! - While the contact talks with a person (a takeover), a text is not read for a score or a
//!   reason: it is stored as free text and passed on (`Answer::Relayed`); only "stop" and
//!   "start" are still acted on. "3, all in finance" said to the CSM is no detractor score.
//! - A touch has one answer (a unique index): when two taps race, the second finds the first
//!   and is `AlreadyAnswered`.
//! - The steps that follow (reassess, re-plan, forward to the CSM) are written as
//!   `inbound_followups` in the same transaction, and done by `receive`.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

use crate::domain::{AccountId, ChannelKind, ContactId, TouchId};

use super::followups::{self, Planned, Step};
use super::outcome::{Answer, Handled, InboundOutcome};
use super::receive::reply_key;
use super::rows::set_stopped;

mod decide;
mod store;

use decide::{Decision, decide};
use store::Found;

/// How long after a survey or check-in was sent a plain text is still read as its answer.
pub const REPLY_WINDOW: TimeDelta = TimeDelta::days(7);

/// How long after a bare NPS score the next free text is taken as its reason.
pub const COMMENT_WINDOW: TimeDelta = TimeDelta::hours(24);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    pub channel: ChannelKind,
    /// The sender's address on the channel (Telegram chat id, E.164 number, simulated handle).
    pub address: String,
    /// Unique per channel: a WhatsApp wamid; for Telegram, which numbers messages per chat,
    /// something like `<chat_id>:<message_id>`.
    pub provider_message_id: String,
    pub content: InboundContent,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundContent {
    Text(String),
    /// The data of a tapped quick-reply button.
    Button(String),
}

impl InboundContent {
    /// A text as a channel gave it, less the NUL characters PostgreSQL cannot store: a client
    /// who sends one (by accident or not) is still heard, instead of their message failing
    /// on every try.
    pub fn text(raw: &str) -> InboundContent {
        InboundContent::Text(raw.replace('\0', ""))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error("could not store an inbound message")]
    Database(#[from] sqlx::Error),
    #[error("another delivery of an inbound message stored it at the same moment")]
    Raced,
    #[error("the stored outcome of inbound message {key} is unreadable")]
    StoredOutcome {
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

/// What the `reply` signal keeps about an inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredOutcome {
    result: Answer,
    touch_id: Option<TouchId>,
    reply_id: Option<i64>,
}

/// Stores one inbound message and says what the bot should answer. See the module docs for
/// the rules. Errors are for the log; the contact is never shown them.
pub async fn record_reply(
    pool: &PgPool,
    message: &InboundMessage,
) -> Result<InboundOutcome, InboundError> {
    let mut outcome = record_alone(pool, message).await;
    // A concurrent delivery of the same message stored it first: now it is a duplicate.
    if matches!(outcome, Err(InboundError::Raced)) {
        outcome = record_alone(pool, message).await;
    }
    outcome
}

/// Stores `messages` (in their order) and says what to answer to each; see the module docs.
/// One transaction for each run of messages from different senders; when it fails, its
/// messages are stored one by one, so an error belongs to the message that caused it.
pub async fn record_batch(
    pool: &PgPool,
    messages: &[InboundMessage],
) -> Vec<Result<InboundOutcome, InboundError>> {
    let mut outcomes = Vec::with_capacity(messages.len());
    for run in runs(messages) {
        match record_together(pool, run).await {
            Ok(stored) => outcomes.extend(stored),
            Err(e) if run.len() == 1 && !matches!(e, InboundError::Raced) => outcomes.push(Err(e)),
            Err(e) => {
                if run.len() > 1 {
                    tracing::warn!(messages = run.len(), error = ?e, "could not store a batch of inbound messages together; one by one");
                }
                for message in run {
                    outcomes.push(record_reply(pool, message).await);
                }
            }
        }
    }
    outcomes
}

/// Cuts `messages` where an address or a message comes again, so no run holds two.
fn runs(messages: &[InboundMessage]) -> Vec<&[InboundMessage]> {
    let mut runs = Vec::new();
    let (mut start, mut senders, mut ids) = (0, HashSet::new(), HashSet::new());
    for (i, m) in messages.iter().enumerate() {
        let (sender, id) = ((m.channel, &m.address), (m.channel, &m.provider_message_id));
        if senders.contains(&sender) || ids.contains(&id) {
            runs.push(&messages[start..i]);
            (start, senders, ids) = (i, HashSet::new(), HashSet::new());
        }
        senders.insert(sender);
        ids.insert(id);
    }
    if start < messages.len() {
        runs.push(&messages[start..]);
    }
    runs
}

async fn record_alone(
    pool: &PgPool,
    message: &InboundMessage,
) -> Result<InboundOutcome, InboundError> {
    let mut stored = record_together(pool, std::slice::from_ref(message)).await?;
    stored.pop().expect("one outcome for one message")
}

/// One transaction for `messages`. The outer error fails them all (rolled back); an inner
/// one is a message's own (its stored outcome unreadable) and leaves the others standing.
async fn record_together(
    pool: &PgPool,
    messages: &[InboundMessage],
) -> Result<Vec<Result<InboundOutcome, InboundError>>, InboundError> {
    let mut tx = pool.begin().await?;
    let found = store::read_facts(&mut tx, messages).await?;
    let mut settled: Vec<Option<(StoredOutcome, bool)>> = Vec::with_capacity(messages.len());
    let mut fresh = Vec::new();
    for (n, (message, found)) in messages.iter().zip(&found).enumerate() {
        settled.push(None);
        let Some(contact) = &found.contact else {
            continue;
        };
        match &found.stored {
            // Unreadable, it is told below as this message's own error.
            Some(details) => {
                settled[n] = serde_json::from_value(details.clone())
                    .ok()
                    .map(|stored| (stored, true));
            }
            None => fresh.push((n, contact, message, decide(message, &found.facts))),
        }
    }
    let written = write(&mut tx, &fresh).await?;
    for ((n, _, _, _), stored) in fresh.iter().zip(written) {
        settled[*n] = Some((stored, false));
    }
    tx.commit().await?;
    Ok(messages
        .iter()
        .zip(found)
        .zip(settled)
        .map(|((message, found), settled)| outcome(message, found, settled))
        .collect())
}

/// Writes what was decided for the new messages of a batch; their outcomes, in order.
async fn write(
    tx: &mut PgConnection,
    fresh: &[(usize, &Contact, &InboundMessage, Decision)],
) -> Result<Vec<StoredOutcome>, InboundError> {
    let mut decisions: Vec<Decision> = fresh.iter().map(|(_, _, _, d)| d.clone()).collect();
    // Consents change rarely (a "stop" or "start"): one by one, each saying what it changed.
    for ((_, contact, message, _), decision) in fresh.iter().zip(&mut decisions) {
        if let Decision::Reply {
            stop: Some(stop),
            result,
            ..
        } = decision
        {
            let changed = set_stopped(tx, contact.id, *stop, message).await?;
            if let Answer::OptIn { changed: c } = result {
                *c = changed;
            }
        }
    }
    let rows: Vec<_> = fresh
        .iter()
        .zip(&decisions)
        .filter_map(|((_, c, m, _), d)| match d {
            Decision::Reply { reply, .. } => Some((*c, *m, reply)),
            _ => None,
        })
        .collect();
    let mut ids = store::insert_replies(tx, &rows).await?.into_iter();
    let comments: Vec<(i64, &str)> = decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Comment {
                reply_id, reason, ..
            } => Some((*reply_id, reason.as_str())),
            _ => None,
        })
        .collect();
    store::add_comments(tx, &comments).await?;
    let stored: Vec<StoredOutcome> = decisions
        .into_iter()
        .map(|d| stored_outcome(d, &mut ids))
        .collect();
    let wrote: Vec<_> = fresh
        .iter()
        .map(|(_, c, m, _)| (c.id, m.received_at))
        .collect();
    store::note_inbound(tx, &wrote).await?;
    let mut signals = Vec::with_capacity(fresh.len());
    let mut planned = Vec::with_capacity(fresh.len());
    for ((_, contact, message, _), stored) in fresh.iter().zip(&stored) {
        let key = reply_key(message);
        let details =
            serde_json::to_value(stored).map_err(|source| InboundError::StoredOutcome {
                key: key.clone(),
                source,
            })?;
        signals.push((*contact, *message, details));
        planned.push(Planned {
            source_key: key,
            account: contact.account_id,
            contact: Some(contact.id),
            reply_id: stored.reply_id,
            occurred_at: message.received_at,
            steps: steps_after(&stored.result, message.channel),
        });
    }
    if !store::insert_signals(tx, &signals).await? {
        return Err(InboundError::Raced);
    }
    followups::plan_all(tx, &planned).await?;
    Ok(stored)
}

/// The outcome of a decision once its reply row (the next of `ids`, if it wrote one) is in.
fn stored_outcome(
    decision: Decision,
    ids: &mut impl Iterator<Item = Option<i64>>,
) -> StoredOutcome {
    match decision {
        Decision::Settled(stored) => stored,
        Decision::Comment {
            reply_id, score, ..
        } => StoredOutcome {
            result: Answer::NpsComment { reply_id, score },
            touch_id: None,
            reply_id: Some(reply_id),
        },
        Decision::Reply { reply, result, .. } => match ids.next().flatten() {
            Some(reply_id) => StoredOutcome {
                result,
                touch_id: reply.touch_id,
                reply_id: Some(reply_id),
            },
            // Another message (a second tap handled at the same moment) answered the touch first.
            None => StoredOutcome {
                result: Answer::AlreadyAnswered,
                touch_id: reply.touch_id,
                reply_id: None,
            },
        },
    }
}

/// What to tell the caller about one message of a batch.
fn outcome(
    message: &InboundMessage,
    found: Found,
    settled: Option<(StoredOutcome, bool)>,
) -> Result<InboundOutcome, InboundError> {
    let Some(contact) = found.contact else {
        return Ok(InboundOutcome::UnknownSender);
    };
    let (stored, duplicate) = match settled {
        Some(settled) => settled,
        None => {
            let details = found.stored.unwrap_or_default();
            let source = serde_json::from_value::<StoredOutcome>(details)
                .expect_err("only an unreadable stored outcome is left unsettled");
            return Err(InboundError::StoredOutcome {
                key: reply_key(message),
                source,
            });
        }
    };
    Ok(InboundOutcome::Handled(Handled {
        account_id: contact.account_id,
        contact_id: contact.id,
        touch_id: stored.touch_id,
        reply_id: stored.reply_id,
        answer: stored.result,
        duplicate,
        locale: contact.locale,
        contact_first_name: first_name(&contact.name),
        account_name: contact.account_name,
        csm_name: contact.csm_name,
    }))
}

/// What follows a stored message: every one counts towards the account's health; a change
/// of consent changes the calendar; words the bot cannot answer go to a person, on the
/// channels where a person can answer (the simulation has nobody to talk to).
fn steps_after(answer: &Answer, channel: ChannelKind) -> Vec<Step> {
    let mut steps = vec![Step::Reassess];
    if matches!(answer, Answer::OptOut | Answer::OptIn { .. }) {
        steps.push(Step::Replan);
    }
    if matches!(answer, Answer::FreeText | Answer::Relayed) && channel != ChannelKind::Simulated {
        steps.push(Step::Forward);
    }
    steps
}

fn first_name(full: &str) -> String {
    full.split_whitespace().next().unwrap_or(full).to_string()
}

struct Contact {
    id: ContactId,
    account_id: AccountId,
    name: String,
    locale: String,
    account_name: String,
    csm_name: Option<String>,
}
