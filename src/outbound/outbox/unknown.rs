//! Touches whose send may or may not have happened: the lease rescue that leaves them
//! `unknown`, what the reconcile job asks of them, and an operator's requeue.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};

use super::{TouchTable, idempotency_key};
use crate::delivery::Rescued;
use crate::delivery::queue::{Rescue, UnknownRow};
use crate::domain::{AccountId, ChannelKind, TouchId};

pub const UNSUPPORTED_LOOKUP_REASON: &str = "the send was cut short (the worker stopped, or the \
    channel's answer was lost) and this channel cannot tell whether the message arrived; it is \
    not resent automatically. Check with the recipient, then requeue it if it never arrived";

/// A touch whose send may or may not have happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTouch {
    pub id: TouchId,
    pub account_id: AccountId,
    pub touch_key: String,
    pub idempotency_key: String,
    /// The recipient's channel; `None` when the recipient is gone.
    pub channel: Option<ChannelKind>,
    pub attempt: i32,
    pub lease_owner: Option<String>,
    pub status_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

pub async fn list_unknown(db: impl PgExecutor<'_>) -> Result<Vec<UnknownTouch>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        select t.id, t.account_id, t.touch_key, t.attempt, t.lease_owner, t.status_reason,
               t.updated_at,
               case when t.staff_id is not null then 'telegram' else c.channel end as "channel?"
          from touches t
          left join contacts c on c.id = t.contact_id
         where t.status = 'unknown'
         order by t.id
        "#
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| UnknownTouch {
            id: TouchId(r.id),
            account_id: AccountId(r.account_id),
            idempotency_key: idempotency_key(AccountId(r.account_id), &r.touch_key),
            touch_key: r.touch_key,
            channel: r.channel.and_then(|c| c.parse().ok()),
            attempt: r.attempt,
            lease_owner: r.lease_owner,
            status_reason: r.status_reason,
            updated_at: r.updated_at,
        })
        .collect())
}

#[derive(Debug, thiserror::Error)]
pub enum RequeueError {
    #[error("there is no touch with id {0}")]
    NotFound(TouchId),
    #[error("touch {id} is '{status}'; only 'unknown' or 'failed' touches can be requeued by hand")]
    NotRequeueable { id: TouchId, status: String },
    #[error("could not requeue the touch in PostgreSQL")]
    Database(#[from] sqlx::Error),
}

/// An operator's decision to try an 'unknown' or 'failed' touch again, due at once, with the
/// full number of tries.
pub async fn requeue(
    conn: &mut sqlx::PgConnection,
    id: TouchId,
    now: DateTime<Utc>,
) -> Result<(), RequeueError> {
    requeue_because(conn, id, "requeued by an operator", now).await
}

/// Tries an 'unknown' or 'failed' touch again, due at once, with the full number of tries,
/// for the reason given (kept on the touch).
pub async fn requeue_because(
    conn: &mut sqlx::PgConnection,
    id: TouchId,
    why: &str,
    now: DateTime<Utc>,
) -> Result<(), RequeueError> {
    let done = sqlx::query!(
        "update touches
            set status = 'planned', next_attempt_at = $2, status_reason = $3,
                tries = 0, lease_owner = null, lease_until = null, updated_at = $2
          where id = $1 and status in ('unknown', 'failed')",
        id.0,
        now,
        why,
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    let status = sqlx::query_scalar!("select status from touches where id = $1", id.0)
        .fetch_optional(&mut *conn)
        .await?;
    match status {
        None => Err(RequeueError::NotFound(id)),
        Some(status) => Err(RequeueError::NotRequeueable { id, status }),
    }
}

impl Rescue for TouchTable {
    const SENT_WHAT: &'static str = "send";
    const UNSUPPORTED_LOOKUP_REASON: &'static str = UNSUPPORTED_LOOKUP_REASON;

    fn no_channel_reason(kind: Option<ChannelKind>) -> String {
        match kind {
            Some(kind) => format!(
                "the worker stopped while sending; no {kind} channel is configured here to ask \
                 whether the message arrived"
            ),
            None => "the worker stopped while sending, and the recipient is gone".into(),
        }
    }

    /// Takes touches back from workers whose lease ran out (on the database's clock; `now` only
    /// stamps the change).
    async fn rescue_expired(
        conn: &mut PgConnection,
        now: DateTime<Utc>,
    ) -> Result<Rescued, sqlx::Error> {
        let requeued = sqlx::query!(
            "update touches
                set status = 'planned', lease_owner = null, lease_until = null, updated_at = $1,
                    last_error = 'the worker holding this touch stopped before sending it'
              where status = 'claimed' and lease_until <= now()",
            now,
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
        // The worker that was sending is kept in lease_owner: it is where to look in the logs.
        let unknown = sqlx::query!(
            "update touches
                set status = 'unknown', lease_until = null, updated_at = $1,
                    status_reason = 'the worker stopped while handing this message to the channel; \
                                     asking the channel whether it arrived'
              where status = 'sending' and lease_until <= now()",
            now,
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(Rescued { requeued, unknown })
    }

    async fn list_unknown(db: &PgPool) -> Result<Vec<UnknownRow<TouchId>>, sqlx::Error> {
        Ok(list_unknown(db)
            .await?
            .into_iter()
            .map(|t| UnknownRow {
                id: t.id,
                channel_key: t.idempotency_key,
                channel: t.channel,
            })
            .collect())
    }

    /// The channel confirmed the message arrived. `sent_at` is when we learned it, the real
    /// moment being unknowable. Returns false if the touch is no longer 'unknown'.
    async fn resolve_unknown_as_sent(
        db: &PgPool,
        id: TouchId,
        provider_message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query!(
            "update touches
                set status = 'sent', sent_at = $3, provider_message_id = $2,
                    status_reason = 'confirmed by the channel after a worker stopped mid-send',
                    lease_owner = null, updated_at = $3
              where id = $1 and status = 'unknown'",
            id.0,
            provider_message_id,
            now,
        )
        .execute(db)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts an 'unknown' touch back in the queue, due at once. Used when the channel said the
    /// message never arrived, and by an operator who checked by hand.
    async fn requeue_unknown(
        db: &PgPool,
        id: TouchId,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query!(
            "update touches
                set status = 'planned', next_attempt_at = $3, last_error = $2, status_reason = null,
                    lease_owner = null, lease_until = null, updated_at = $3
              where id = $1 and status = 'unknown'",
            id.0,
            why,
            now,
        )
        .execute(db)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Explains why an 'unknown' touch stays that way (only writes when the text changes).
    async fn explain_unknown(
        db: &PgPool,
        id: TouchId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "update touches set status_reason = $2, updated_at = $3
              where id = $1 and status = 'unknown' and status_reason is distinct from $2",
            id.0,
            reason,
            now,
        )
        .execute(db)
        .await?;
        Ok(())
    }
}
