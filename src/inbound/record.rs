//! Storing what a contact sent, in one transaction per inbound message.
//!
//! The rules:
//! - Unknown sender (no live contact with this channel and address): nothing is stored.
//! - Every message from a known contact writes one `signals` row, kind `reply`, keyed
//!   `reply:<channel>:<provider_message_id>`. That row is the idempotency record (it is
//!   written first, so a concurrent redelivery waits for it) and keeps the outcome as JSON
//!   (never the contact's text), so a redelivery returns the same outcome marked `duplicate`
//!   and changes nothing. It also feeds engagement scoring later.
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

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

use crate::domain::{AccountId, ChannelKind, ContactId, TouchId, TouchKind};

use super::callback::{CallbackAnswer, parse_callback};
use super::followups::{self, Planned, Step};
use super::outcome::{Answer, Handled, InboundOutcome};
use super::parser::{Expecting, ParsedReply, parse_reply};
use super::receive::reply_key;
use super::rows::{NewReply, already_reasked, in_takeover, insert_reply, set_stopped, unlinked};

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
    #[error("the stored outcome of inbound message {key} is unreadable")]
    StoredOutcome {
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

/// What the `reply` signal keeps about an inbound message.
#[derive(Debug, Serialize, Deserialize)]
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
    let mut tx = pool.begin().await?;
    let Some(contact) = find_contact(&mut tx, message).await? else {
        return Ok(InboundOutcome::UnknownSender);
    };
    let key = reply_key(message);

    let stored = match claim(&mut tx, &contact, message, &key).await? {
        Some(signal_id) => {
            super::rows::note_inbound(&mut tx, contact.id, message.received_at).await?;
            let stored = handle(&mut tx, &contact, message).await?;
            let details =
                serde_json::to_value(&stored).map_err(|source| InboundError::StoredOutcome {
                    key: key.clone(),
                    source,
                })?;
            sqlx::query!(
                "update signals set details = $2 where id = $1",
                signal_id,
                details
            )
            .execute(&mut *tx)
            .await?;
            let planned = Planned {
                source_key: key.clone(),
                account: contact.account_id,
                contact: Some(contact.id),
                reply_id: stored.reply_id,
                occurred_at: message.received_at,
                steps: steps_after(&stored.result, message.channel),
            };
            followups::plan(&mut tx, &planned).await?;
            tx.commit().await?;
            (stored, false)
        }
        None => {
            let details = sqlx::query_scalar!(
                "select details from signals where idempotency_key = $1",
                key
            )
            .fetch_one(&mut *tx)
            .await?;
            let stored = serde_json::from_value::<StoredOutcome>(details)
                .map_err(|source| InboundError::StoredOutcome { key, source })?;
            (stored, true)
        }
    };
    let (stored, duplicate) = stored;
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

async fn find_contact(
    conn: &mut PgConnection,
    message: &InboundMessage,
) -> Result<Option<Contact>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select c.id, c.account_id, c.name, coalesce(c.locale, a.locale) as "locale!",
                  a.name as account_name, s.name as "csm_name?"
           from contacts c
           join accounts a on a.id = c.account_id
           left join staff s on s.id = a.csm_id
           where c.channel = $1 and c.address = $2 and c.removed_at is null"#,
        message.channel.as_str(),
        message.address,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Contact {
        id: ContactId(r.id),
        account_id: AccountId(r.account_id),
        name: r.name,
        locale: r.locale,
        account_name: r.account_name,
        csm_name: r.csm_name,
    }))
}

/// Writes the message's signal row; None when it already exists (a redelivery).
async fn claim(
    conn: &mut PgConnection,
    contact: &Contact,
    message: &InboundMessage,
    key: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "insert into signals (account_id, contact_id, kind, occurred_at, source, idempotency_key)
         values ($1, $2, 'reply', $3, $4, $5)
         on conflict (idempotency_key) do nothing
         returning id",
        contact.account_id.0,
        contact.id.0,
        message.received_at,
        message.channel.as_str(),
        key,
    )
    .fetch_optional(conn)
    .await
}

async fn handle(
    conn: &mut PgConnection,
    contact: &Contact,
    message: &InboundMessage,
) -> Result<StoredOutcome, sqlx::Error> {
    match &message.content {
        InboundContent::Button(data) => handle_button(conn, contact, message, data).await,
        InboundContent::Text(text) => handle_text(conn, contact, message, text).await,
    }
}

async fn handle_button(
    conn: &mut PgConnection,
    contact: &Contact,
    message: &InboundMessage,
    data: &str,
) -> Result<StoredOutcome, sqlx::Error> {
    let stale = StoredOutcome {
        result: Answer::StaleButton,
        touch_id: None,
        reply_id: None,
    };
    let Ok(callback) = parse_callback(data) else {
        return Ok(stale);
    };
    let touch = sqlx::query!(
        r#"select t.kind,
                  exists(select 1 from replies r where r.touch_id = t.id and r.kind <> 'unclear')
                      as "answered!"
           from touches t where t.id = $1 and t.contact_id = $2"#,
        callback.touch_id.0,
        contact.id.0,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(touch) = touch else {
        return Ok(stale);
    };
    let kind = touch.kind.parse::<TouchKind>().ok();
    let parsed = match (kind, callback.answer) {
        (Some(TouchKind::Nps), CallbackAnswer::Nps(score)) => ParsedReply::Nps {
            score,
            comment: None,
        },
        (Some(TouchKind::Csat), CallbackAnswer::Csat(score)) => ParsedReply::Csat {
            score,
            comment: None,
        },
        (Some(TouchKind::Checkin), CallbackAnswer::Checkin(answer)) => ParsedReply::Checkin(answer),
        _ => return Ok(stale),
    };
    if touch.answered {
        return Ok(StoredOutcome {
            result: Answer::AlreadyAnswered,
            touch_id: Some(callback.touch_id),
            reply_id: None,
        });
    }
    store_parsed(
        conn,
        contact,
        message,
        data,
        Some(callback.touch_id),
        parsed,
    )
    .await
}

async fn handle_text(
    conn: &mut PgConnection,
    contact: &Contact,
    message: &InboundMessage,
    text: &str,
) -> Result<StoredOutcome, sqlx::Error> {
    let now = message.received_at;
    if in_takeover(conn, contact.id, now).await? {
        return match parse_reply(text, Expecting::Nothing) {
            parsed @ (ParsedReply::OptOut | ParsedReply::OptIn) => {
                store_parsed(conn, contact, message, text, None, parsed).await
            }
            _ => {
                let reply_id = insert_reply(
                    conn,
                    (contact.account_id, contact.id),
                    message,
                    text,
                    unlinked("free_text"),
                )
                .await?;
                Ok(StoredOutcome {
                    result: Answer::Relayed,
                    touch_id: None,
                    reply_id,
                })
            }
        };
    }
    let open = sqlx::query!(
        r#"select t.id, t.kind, t.sent_at as "sent_at!"
           from touches t
           where t.contact_id = $1 and t.status = 'sent'
             and t.kind in ('nps', 'csat', 'checkin')
             and t.sent_at > $2 and t.sent_at <= $3
             and not exists (select 1 from replies r where r.touch_id = t.id and r.kind <> 'unclear')
           order by t.sent_at desc, t.id desc
           limit 1"#,
        contact.id.0,
        now - REPLY_WINDOW,
        now,
    )
    .fetch_optional(&mut *conn)
    .await?;

    // The contact's latest reply: a bare NPS score there is waiting for its reason.
    let last = sqlx::query!(
        "select id, kind, score, comment, received_at from replies
         where contact_id = $1 and received_at <= $2
         order by received_at desc, id desc
         limit 1",
        contact.id.0,
        now,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let awaiting_reason = last.filter(|r| {
        r.kind == "nps"
            && r.comment.is_none()
            && r.received_at > now - COMMENT_WINDOW
            // A survey sent after the score asks its own question.
            && open.as_ref().is_none_or(|t| t.sent_at < r.received_at)
    });
    if let Some(scored) = awaiting_reason {
        let score = scored.score.and_then(|s| u8::try_from(s).ok());
        if let (Some(score), ParsedReply::FreeText(reason)) =
            (score, parse_reply(text, Expecting::Nothing))
        {
            sqlx::query!(
                "update replies set comment = $2 where id = $1",
                scored.id,
                reason
            )
            .execute(&mut *conn)
            .await?;
            return Ok(StoredOutcome {
                result: Answer::NpsComment {
                    reply_id: scored.id,
                    score,
                },
                touch_id: None,
                reply_id: Some(scored.id),
            });
        }
    }

    let (touch_id, expecting) = match &open {
        Some(t) => {
            let expecting = match t.kind.as_str() {
                "nps" => Expecting::Nps,
                "csat" => Expecting::Csat,
                _ => Expecting::Checkin,
            };
            (Some(TouchId(t.id)), expecting)
        }
        None => (None, Expecting::Nothing),
    };
    let parsed = parse_reply(text, expecting);
    store_parsed(conn, contact, message, text, touch_id, parsed).await
}

/// Writes the reply row (and consents) for a parsed message that answers `touch_id`, if any.
async fn store_parsed(
    conn: &mut PgConnection,
    contact: &Contact,
    message: &InboundMessage,
    body: &str,
    touch_id: Option<TouchId>,
    parsed: ParsedReply,
) -> Result<StoredOutcome, sqlx::Error> {
    let (reply, result) = match &parsed {
        ParsedReply::Nps { score, comment } => (
            NewReply {
                touch_id,
                kind: "nps",
                score: Some(*score),
                comment: comment.as_deref(),
                choice: None,
            },
            Answer::Nps {
                score: *score,
                has_comment: comment.is_some(),
            },
        ),
        ParsedReply::Csat { score, comment } => (
            NewReply {
                touch_id,
                kind: "csat",
                score: Some(*score),
                comment: comment.as_deref(),
                choice: None,
            },
            Answer::Csat { score: *score },
        ),
        ParsedReply::Checkin(choice) => (
            NewReply {
                touch_id,
                kind: "checkin",
                score: None,
                comment: None,
                choice: Some(choice.as_str()),
            },
            Answer::Checkin { choice: *choice },
        ),
        ParsedReply::OptOut => {
            set_stopped(conn, contact.id, true, message).await?;
            (unlinked("optout"), Answer::OptOut)
        }
        ParsedReply::OptIn => {
            let changed = set_stopped(conn, contact.id, false, message).await?;
            (unlinked("optin"), Answer::OptIn { changed })
        }
        ParsedReply::Unclear => match touch_id {
            Some(survey) if !already_reasked(conn, survey).await? => (
                NewReply {
                    touch_id,
                    kind: "unclear",
                    score: None,
                    comment: None,
                    choice: None,
                },
                Answer::Unclear,
            ),
            _ => (unlinked("free_text"), Answer::FreeText),
        },
        // Free text answers a check-in it was sent to; otherwise it stands alone.
        ParsedReply::FreeText(_) => (
            NewReply {
                touch_id,
                kind: "free_text",
                score: None,
                comment: None,
                choice: None,
            },
            Answer::FreeText,
        ),
    };
    let touch_id = reply.touch_id;
    match insert_reply(conn, (contact.account_id, contact.id), message, body, reply).await? {
        Some(reply_id) => Ok(StoredOutcome {
            result,
            touch_id,
            reply_id: Some(reply_id),
        }),
        // Another message (a second tap handled at the same moment) answered the touch first.
        None => Ok(StoredOutcome {
            result: Answer::AlreadyAnswered,
            touch_id,
            reply_id: None,
        }),
    }
}
