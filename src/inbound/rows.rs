//! The rows `record` writes and reads besides the message's own signal: reply rows (one
//! answer per touch, kept by a unique index), consents, and whether a takeover is current.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::record::InboundMessage;
use crate::domain::{AccountId, ContactId, MessageCategory, TouchId};
use crate::storage::consents;

/// The categories "stop" turns off; renewal and service notices are contractual and stay.
const STOPPABLE: [MessageCategory; 2] = [MessageCategory::Survey, MessageCategory::Checkin];

/// A reply row to write.
pub(super) struct NewReply<'a> {
    pub(super) touch_id: Option<TouchId>,
    pub(super) kind: &'static str,
    pub(super) score: Option<u8>,
    pub(super) comment: Option<&'a str>,
    /// A check-in answer's choice.
    pub(super) choice: Option<&'static str>,
}

/// Whether the contact is talking with a person at `now`.
pub(super) async fn in_takeover(
    conn: &mut PgConnection,
    contact: ContactId,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists(select 1 from contact_takeovers
                         where contact_id = $1 and ended_at is null and until > $2)
           as "current!""#,
        contact.0,
        now
    )
    .fetch_one(conn)
    .await
}

pub(super) fn unlinked(kind: &'static str) -> NewReply<'static> {
    NewReply {
        touch_id: None,
        kind,
        score: None,
        comment: None,
        choice: None,
    }
}

/// Writes the reply row; its id, or None when its touch already has an answer.
pub(super) async fn insert_reply(
    conn: &mut PgConnection,
    (account, contact): (AccountId, ContactId),
    message: &InboundMessage,
    body: &str,
    reply: NewReply<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    let inserted = sqlx::query_scalar!(
        "insert into replies (account_id, contact_id, touch_id, channel, provider_message_id,
                              received_at, body, kind, score, comment, choice)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         on conflict do nothing
         returning id",
        account.0,
        contact.0,
        reply.touch_id.map(|t| t.0),
        message.channel.as_str(),
        message.provider_message_id,
        message.received_at,
        body,
        reply.kind,
        reply.score.map(i16::from),
        reply.comment,
        reply.choice,
    )
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(id) => Ok(Some(id)),
        // Stored by some other path without its signal (the first row stands), or the touch
        // got its one answer from another message meanwhile (None).
        None => {
            sqlx::query_scalar!(
                "select id from replies where channel = $1 and provider_message_id = $2",
                message.channel.as_str(),
                message.provider_message_id,
            )
            .fetch_optional(conn)
            .await
        }
    }
}

pub(super) async fn already_reasked(
    conn: &mut PgConnection,
    touch_id: TouchId,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists(select 1 from replies where touch_id = $1 and kind = 'unclear') as "asked!""#,
        touch_id.0
    )
    .fetch_one(conn)
    .await
}

/// Turns surveys and check-ins off (or back on) for the contact, with the change kept in the
/// consent history under the channel the words came on. True when anything changed.
pub(super) async fn set_stopped(
    conn: &mut PgConnection,
    contact_id: ContactId,
    opted_out: bool,
    message: &InboundMessage,
) -> Result<bool, sqlx::Error> {
    let source = format!("reply:{}", message.channel.as_str());
    let mut changed = false;
    for category in STOPPABLE {
        changed |= consents::set(
            conn,
            contact_id,
            category,
            opted_out,
            message.received_at,
            &source,
        )
        .await?;
    }
    Ok(changed)
}

/// Remembers when the contact last wrote (WhatsApp's 24-hour window counts from it); a
/// message that arrives late never moves it back.
pub(super) async fn note_inbound(
    conn: &mut PgConnection,
    contact: ContactId,
    received_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update contacts
            set last_inbound_at = greatest(last_inbound_at, $2)
          where id = $1",
        contact.0,
        received_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}
