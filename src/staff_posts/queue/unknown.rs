//! Staff posts whose send may or may not have happened: the lease rescue that leaves them
//! `unknown`, and what the reconcile job asks of them.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};

use super::{PostTable, channel_key};
use crate::delivery::Rescued;
use crate::delivery::queue::{Rescue, UnknownRow};
use crate::domain::{ChannelKind, PostId};

pub const UNSUPPORTED_LOOKUP_REASON: &str = "posting this was cut short (the worker stopped, or \
    the channel's answer was lost) and the channel cannot tell whether it arrived, so it is not posted again on its own; look in the \
    chat named by sent_address, and set the post back to 'planned' if it is not there";

/// A post whose send may or may not have happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPost {
    pub id: PostId,
    pub idempotency_key: String,
    /// The channel it was being handed to; `None` if that is not a channel this build knows.
    pub channel: Option<ChannelKind>,
    pub address: Option<String>,
}

pub async fn list_unknown(db: impl PgExecutor<'_>) -> Result<Vec<UnknownPost>, sqlx::Error> {
    let rows = sqlx::query!(
        "select id, idempotency_key, sent_channel, sent_address
           from staff_posts where status = 'unknown' order by id"
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| UnknownPost {
            id: PostId(r.id),
            idempotency_key: r.idempotency_key,
            channel: r.sent_channel.and_then(|c| c.parse().ok()),
            address: r.sent_address,
        })
        .collect())
}

impl Rescue for PostTable {
    const SENT_WHAT: &'static str = "post";
    const UNSUPPORTED_LOOKUP_REASON: &'static str = UNSUPPORTED_LOOKUP_REASON;

    fn no_channel_reason(kind: Option<ChannelKind>) -> String {
        match kind {
            Some(kind) => format!(
                "the worker stopped while posting; no {kind} channel is configured here to \
                 ask whether the post arrived"
            ),
            None => {
                "the worker stopped while posting, to a channel this build does not know".into()
            }
        }
    }

    /// Takes posts back from workers whose lease ran out on the database's clock (`now` only stamps
    /// the change): a claim never handed to a channel goes back in the queue; a send cut off
    /// midway becomes 'unknown'.
    async fn rescue_expired(
        conn: &mut PgConnection,
        now: DateTime<Utc>,
    ) -> Result<Rescued, sqlx::Error> {
        let requeued = sqlx::query!(
            "update staff_posts
                set status = 'planned', lease_owner = null, lease_until = null, updated_at = $1,
                    last_error = 'the worker holding this post stopped before sending it'
              where status = 'claimed' and lease_until <= now()",
            now,
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
        // lease_owner stays: it is where to look in the logs.
        let unknown = sqlx::query!(
            "update staff_posts
                set status = 'unknown', lease_until = null, updated_at = $1,
                    status_reason = 'the worker stopped while handing this post to the channel; \
                                     asking the channel whether it arrived'
              where status = 'sending' and lease_until <= now()",
            now,
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(Rescued { requeued, unknown })
    }

    async fn list_unknown(db: &PgPool) -> Result<Vec<UnknownRow<PostId>>, sqlx::Error> {
        Ok(list_unknown(db)
            .await?
            .into_iter()
            .map(|p| UnknownRow {
                id: p.id,
                channel_key: channel_key(&p.idempotency_key),
                channel: p.channel,
            })
            .collect())
    }

    /// The channel confirmed the post arrived; `sent_at` is when we learned it.
    async fn resolve_unknown_as_sent(
        db: &PgPool,
        id: PostId,
        provider_message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query!(
            "update staff_posts
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

    /// The channel confirmed the interrupted send never arrived: back in the queue, due at once.
    async fn requeue_unknown(
        db: &PgPool,
        id: PostId,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query!(
            "update staff_posts
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

    /// Says why an 'unknown' post stays that way (writes only when the text changes).
    async fn explain_unknown(
        db: &PgPool,
        id: PostId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "update staff_posts set status_reason = $2, updated_at = $3
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
