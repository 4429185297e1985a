//! The queue of messages to staff: escalation cards, ladder steps, SLA breaches and digests.
//! A post's text is written when it is queued, so a card shows the evidence of its moment; the
//! staff dispatcher delivers it with the same guarantees as a touch (never twice, never lost).
//!
//! This file is the queueing side. Every post carries an idempotency key naming what it is
//! and who gets it, so the job that decides a post can run twice without posting twice.
//! `digest` gathers the non-urgent posts into a daily one, `texts` words what the bot itself
//! writes to staff, `queue` is the table as the delivery engine's `Table`, and `dispatcher`
//! delivers posts to a staff member's Telegram, the team chat or a client contact.

pub mod digest;
pub mod dispatcher;
pub mod queue;
pub mod texts;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgExecutor;

use crate::channel::Button;
use crate::domain::{AccountId, ContactId, EscalationId, PostId, StaffId};

/// What a post is, as stored in `staff_posts.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PostKind {
    /// A new escalation's card.
    Escalation,
    /// An open escalation that got worse.
    Realert,
    /// An open escalation whose signal went away: a suggestion to resolve it.
    Cleared,
    /// The ladder climbed: the CS manager or the VP is brought in.
    Ladder,
    /// Nobody answered within the first-response SLA.
    SlaBreach,
    /// A detractor answered again with a better score.
    Recovered,
    /// The daily digest of non-critical posts for one person.
    Digest,
    /// The weekly team metrics.
    Weekly,
    /// A client's own words for their CSM, during a human takeover (`chat::takeover`).
    Relay,
    /// A client contact can no longer be reached through their chat.
    Unreachable,
    /// A staff member's answer to a client during a takeover; its reader is the contact.
    RelayReply,
    /// The bot's own answer to what a client sent (a thank-you, "why?"); its reader is the
    /// contact.
    Answer,
    /// WhatsApp needs a template for a message outside its 24-hour window and none is
    /// configured: told to the team once per message key.
    TemplateMissing,
}

impl PostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PostKind::Escalation => "escalation",
            PostKind::Realert => "realert",
            PostKind::Cleared => "cleared",
            PostKind::Ladder => "ladder",
            PostKind::SlaBreach => "sla_breach",
            PostKind::Recovered => "recovered",
            PostKind::Digest => "digest",
            PostKind::Weekly => "weekly",
            PostKind::Relay => "relay",
            PostKind::Unreachable => "unreachable",
            PostKind::RelayReply => "relay_reply",
            PostKind::Answer => "answer",
            PostKind::TemplateMissing => "template_missing",
        }
    }
}

/// Who reads a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recipient {
    /// The team's CSM chat (`team_chat`).
    TeamChat,
    /// A staff member, in a private chat with the bot.
    Staff(StaffId),
    /// A client contact, at their address: a staff member's words relayed during a takeover.
    Contact(ContactId),
}

impl Recipient {
    /// A short stable name for idempotency keys: `team` or `staff-3`.
    pub fn key(self) -> String {
        match self {
            Recipient::TeamChat => "team".to_string(),
            Recipient::Staff(id) => format!("staff-{id}"),
            Recipient::Contact(id) => format!("contact-{id}"),
        }
    }

    fn staff_id(self) -> Option<i64> {
        match self {
            Recipient::Staff(id) => Some(id.0),
            Recipient::TeamChat | Recipient::Contact(_) => None,
        }
    }

    fn contact_id(self) -> Option<i64> {
        match self {
            Recipient::Contact(id) => Some(id.0),
            Recipient::TeamChat | Recipient::Staff(_) => None,
        }
    }
}

/// When a post reaches its reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostDelivery {
    /// Posted once due.
    Now,
    /// Waits for the recipient's daily digest.
    Digest,
}

impl PostDelivery {
    pub fn as_str(self) -> &'static str {
        match self {
            PostDelivery::Now => "now",
            PostDelivery::Digest => "digest",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewPost {
    pub idempotency_key: String,
    pub kind: PostKind,
    pub escalation_id: Option<EscalationId>,
    pub account_id: Option<AccountId>,
    pub recipient: Recipient,
    pub delivery: PostDelivery,
    pub body: String,
    pub buttons: Vec<Vec<Button>>,
    pub due_at: DateTime<Utc>,
}

/// Buttons as stored: rows of `{"label", "data"}`.
pub fn buttons_to_json(rows: &[Vec<Button>]) -> Value {
    Value::Array(
        rows.iter()
            .map(|row| {
                Value::Array(
                    row.iter()
                        .map(|b| json!({"label": b.label, "data": b.data}))
                        .collect(),
                )
            })
            .collect(),
    )
}

/// Buttons read back; anything malformed is dropped rather than failing the post.
pub fn buttons_from_json(value: &Value) -> Vec<Vec<Button>> {
    let Some(rows) = value.as_array() else {
        return Vec::new();
    };
    rows.iter()
        .filter_map(|row| row.as_array())
        .map(|row| {
            row.iter()
                .filter_map(|b| {
                    Some(Button {
                        label: b.get("label")?.as_str()?.to_string(),
                        data: b.get("data")?.as_str()?.to_string(),
                    })
                })
                .collect::<Vec<_>>()
        })
        .filter(|row| !row.is_empty())
        .collect()
}

/// Queues a post. Returns its id, or `None` when a post with the same key was already queued
/// (then nothing changes: the first text stands).
pub async fn enqueue(
    db: impl PgExecutor<'_>,
    post: &NewPost,
    now: DateTime<Utc>,
) -> Result<Option<PostId>, sqlx::Error> {
    let queued = enqueue_many(db, std::slice::from_ref(post), now).await?;
    Ok(queued.into_iter().next().map(|(_, id)| id))
}

/// Queues `posts` in one statement, in their order. Returns the key and id of each one that
/// was new; a key already queued changes nothing (the first text stands).
pub async fn enqueue_many(
    db: impl PgExecutor<'_>,
    posts: &[NewPost],
    now: DateTime<Utc>,
) -> Result<Vec<(String, PostId)>, sqlx::Error> {
    if posts.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<&str> = posts.iter().map(|p| p.idempotency_key.as_str()).collect();
    let kinds: Vec<&str> = posts.iter().map(|p| p.kind.as_str()).collect();
    let escalations: Vec<Option<i64>> =
        posts.iter().map(|p| p.escalation_id.map(|e| e.0)).collect();
    let accounts: Vec<Option<i64>> = posts.iter().map(|p| p.account_id.map(|a| a.0)).collect();
    let staff: Vec<Option<i64>> = posts.iter().map(|p| p.recipient.staff_id()).collect();
    let contacts: Vec<Option<i64>> = posts.iter().map(|p| p.recipient.contact_id()).collect();
    let deliveries: Vec<&str> = posts.iter().map(|p| p.delivery.as_str()).collect();
    let bodies: Vec<&str> = posts.iter().map(|p| p.body.as_str()).collect();
    let buttons: Vec<Value> = posts.iter().map(|p| buttons_to_json(&p.buttons)).collect();
    let due: Vec<DateTime<Utc>> = posts.iter().map(|p| p.due_at).collect();
    let rows = sqlx::query!(
        r#"insert into staff_posts (idempotency_key, kind, escalation_id, account_id, staff_id,
                                    delivery, body, buttons, due_at, created_at, updated_at,
                                    contact_id)
           select u.key, u.kind, u.escalation_id, u.account_id, u.staff_id, u.delivery, u.body,
                  u.buttons, u.due_at, $11, $11, u.contact_id
             from unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::int8[], $6::text[],
                         $7::text[], $8::jsonb[], $9::timestamptz[], $10::int8[])
                  with ordinality
                  as u(key, kind, escalation_id, account_id, staff_id, delivery, body, buttons,
                       due_at, contact_id, n)
            order by u.n
           on conflict (idempotency_key) do nothing
           returning id, idempotency_key"#,
        &keys as &[&str],
        &kinds as &[&str],
        &escalations as &[Option<i64>],
        &accounts as &[Option<i64>],
        &staff as &[Option<i64>],
        &deliveries as &[&str],
        &bodies as &[&str],
        &buttons,
        &due,
        &contacts as &[Option<i64>],
        now,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.idempotency_key, PostId(r.id)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_survive_the_round_trip_through_json() {
        let rows = vec![
            vec![
                Button {
                    label: "Take".into(),
                    data: "esc:1:take".into(),
                },
                Button {
                    label: "Resolve".into(),
                    data: "esc:1:resolve".into(),
                },
            ],
            vec![Button {
                label: "Snooze".into(),
                data: "esc:1:snooze".into(),
            }],
        ];
        assert_eq!(buttons_from_json(&buttons_to_json(&rows)), rows);
    }

    #[test]
    fn malformed_stored_buttons_are_dropped_not_fatal() {
        let value = json!([[{"label": "ok", "data": "d"}, {"label": 3}], "junk", []]);
        assert_eq!(
            buttons_from_json(&value),
            vec![vec![Button {
                label: "ok".into(),
                data: "d".into()
            }]]
        );
    }
}
