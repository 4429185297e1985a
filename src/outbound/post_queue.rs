//! The `staff_posts` table as a delivery queue: the statements that move one post through
//! planned → claimed → sending → sent (or failed / unknown), fenced like touches in `outbox`.
//!
//! A claim bumps the post's `attempt`, and every later change on the worker's behalf applies
//! only while the row still has that attempt and the expected status: a worker whose lease was
//! rescued cannot overwrite what happened since. As for touches, leases run on the database's
//! clock and `tries` counts failed hand-overs apart from the fencing token.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgExecutor;

use super::outbox::{Rescued, seconds};
use crate::channel::{Address, Button};
use crate::domain::{ChannelKind, ContactId, PostId, StaffId};

/// A worker's hold on one post; `attempt` is the fencing token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostLease {
    pub id: PostId,
    pub attempt: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum PostQueueError {
    #[error(
        "staff post {} is no longer held by this worker (attempt {}): its lease expired and the \
         post was rescued, so this result was dropped",
        .0.id, .0.attempt
    )]
    LeaseLost(PostLease),
    #[error("could not update the staff posts in PostgreSQL")]
    Database(#[from] sqlx::Error),
}

impl super::delivery::QueueError for PostQueueError {
    fn database(&self) -> Option<&sqlx::Error> {
        match self {
            PostQueueError::Database(e) => Some(e),
            PostQueueError::LeaseLost(_) => None,
        }
    }
}

fn fenced(rows: u64, lease: PostLease) -> Result<(), PostQueueError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(PostQueueError::LeaseLost(lease))
    }
}

/// The key a channel deduplicates a post on; the prefix keeps it apart from touches' keys.
pub fn channel_key(idempotency_key: &str) -> String {
    format!("post:{idempotency_key}")
}

/// Leases up to `batch_size` posts due at `now` (delivery 'now') to `worker_id` for `lease`,
/// on the database's clock.
/// Rows locked by a concurrent claim are skipped, so two workers never get the same post.
pub async fn claim_due(
    db: impl PgExecutor<'_>,
    worker_id: &str,
    now: DateTime<Utc>,
    lease: TimeDelta,
    batch_size: i64,
) -> Result<Vec<PostLease>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        with due as (
            select id from staff_posts
            where status = 'planned' and delivery = 'now'
              and due_at <= $1
              and (next_attempt_at is null or next_attempt_at <= $1)
            order by due_at, id
            limit $2
            for update skip locked
        )
        update staff_posts p
           set status = 'claimed', attempt = p.attempt + 1,
               lease_owner = $3, lease_until = now() + make_interval(secs => $4),
               updated_at = $1
          from due
         where p.id = due.id
        returning p.id, p.attempt
        "#,
        now,
        batch_size,
        worker_id,
        seconds(lease),
    )
    .fetch_all(db)
    .await?;
    let mut leases: Vec<PostLease> = rows
        .into_iter()
        .map(|r| PostLease {
            id: PostId(r.id),
            attempt: r.attempt,
        })
        .collect();
    leases.sort_by_key(|l| l.id);
    Ok(leases)
}

/// Leases the posts among `ids` that are still waiting ('planned', delivery 'now') to
/// `worker_id`, like `claim_due` but regardless of their due time: their producer delivers
/// them at once. A post another worker holds, or that went out already, is left alone.
pub async fn claim_these(
    db: impl PgExecutor<'_>,
    worker_id: &str,
    ids: &[PostId],
    now: DateTime<Utc>,
    lease: TimeDelta,
) -> Result<Vec<PostLease>, sqlx::Error> {
    let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
    let rows = sqlx::query!(
        r#"
        with mine as (
            select id from staff_posts
            where id = any($1) and status = 'planned' and delivery = 'now'
            for update skip locked
        )
        update staff_posts p
           set status = 'claimed', attempt = p.attempt + 1,
               lease_owner = $2, lease_until = now() + make_interval(secs => $3),
               updated_at = $4
          from mine
         where p.id = mine.id
        returning p.id, p.attempt
        "#,
        &ids,
        worker_id,
        seconds(lease),
        now,
    )
    .fetch_all(db)
    .await?;
    let mut leases: Vec<PostLease> = rows
        .into_iter()
        .map(|r| PostLease {
            id: PostId(r.id),
            attempt: r.attempt,
        })
        .collect();
    leases.sort_by_key(|l| l.id);
    Ok(leases)
}

/// What routing a post needs, read at send time: the recipient as they are now, and the team
/// chat as it is bound now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostRow {
    pub id: PostId,
    pub idempotency_key: String,
    pub body: String,
    pub buttons: Vec<Vec<Button>>,
    pub staff_id: Option<StaffId>,
    pub staff_name: Option<String>,
    pub staff_telegram_user_id: Option<i64>,
    pub staff_locale: Option<String>,
    /// The team chat's channel as stored (`telegram`, `simulated`), if one is bound.
    pub team_channel: Option<String>,
    pub team_address: Option<String>,
    /// A post for a client contact (a relayed staff reply): the contact, their channel and
    /// address (None when they have none any more).
    pub contact: Option<(ContactId, String, Option<String>)>,
}

pub async fn load_for_send(
    db: impl PgExecutor<'_>,
    id: PostId,
) -> Result<Option<PostRow>, sqlx::Error> {
    let row = sqlx::query!(
        r#"
        select p.id, p.idempotency_key, p.body, p.buttons, p.staff_id,
               s.name as "staff_name?", s.telegram_user_id as "staff_telegram_user_id?",
               s.locale as "staff_locale?",
               tc.channel as "team_channel?", tc.address as "team_address?",
               p.contact_id, c.channel as "contact_channel?", c.address as "contact_address?"
          from staff_posts p
          left join staff s on s.id = p.staff_id
          left join team_chat tc on true
          left join contacts c on c.id = p.contact_id and c.removed_at is null
         where p.id = $1
        "#,
        id.0,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| PostRow {
        id: PostId(r.id),
        idempotency_key: r.idempotency_key,
        body: r.body,
        buttons: super::staff_posts::buttons_from_json(&r.buttons),
        staff_id: r.staff_id.map(StaffId),
        staff_name: r.staff_name,
        staff_telegram_user_id: r.staff_telegram_user_id,
        staff_locale: r.staff_locale,
        team_channel: r.team_channel,
        team_address: r.team_address,
        contact: r.contact_id.map(|id| {
            (
                ContactId(id),
                r.contact_channel.unwrap_or_default(),
                r.contact_address,
            )
        }),
    }))
}

/// Records where the post is about to go, just before it is handed to the channel, and counts
/// the try. Commit this before sending: from here on, a crash leaves the outcome unknown rather
/// than "not sent", and the address says which chat to look in. Refused once the lease ran out;
/// otherwise renews it. Returns the tries made so far, this one included.
pub async fn mark_sending(
    db: impl PgExecutor<'_>,
    lease: PostLease,
    to: &Address,
    now: DateTime<Utc>,
    lease_for: TimeDelta,
) -> Result<i32, PostQueueError> {
    let tries = sqlx::query_scalar!(
        "update staff_posts
            set status = 'sending', sent_channel = $3, sent_address = $4, tries = tries + 1,
                lease_until = now() + make_interval(secs => $5), status_reason = null,
                updated_at = $6
          where id = $1 and attempt = $2 and status = 'claimed' and lease_until > now()
          returning tries",
        lease.id.0,
        lease.attempt,
        to.channel.as_str(),
        to.address,
        seconds(lease_for),
        now,
    )
    .fetch_optional(db)
    .await?;
    tries.ok_or(PostQueueError::LeaseLost(lease))
}

/// Nobody can tell whether the post arrived (a timeout, an unreadable answer): it is left
/// 'unknown', never posted again on its own.
pub async fn mark_unknown(
    db: impl PgExecutor<'_>,
    lease: PostLease,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), PostQueueError> {
    let done = sqlx::query!(
        "update staff_posts
            set status = 'unknown', status_reason = $3, last_error = $3, lease_until = null,
                updated_at = $4
          where id = $1 and attempt = $2 and status = 'sending'",
        lease.id.0,
        lease.attempt,
        reason,
        now,
    )
    .execute(db)
    .await?;
    fenced(done.rows_affected(), lease)
}

/// Hands a claimed post never given to a channel back to the queue at once, no try spent.
pub async fn release(
    db: impl PgExecutor<'_>,
    lease: PostLease,
    now: DateTime<Utc>,
) -> Result<(), PostQueueError> {
    let done = sqlx::query!(
        "update staff_posts
            set status = 'planned', lease_owner = null, lease_until = null, updated_at = $3
          where id = $1 and attempt = $2 and status = 'claimed'",
        lease.id.0,
        lease.attempt,
        now,
    )
    .execute(db)
    .await?;
    fenced(done.rows_affected(), lease)
}

/// Hands back every post `worker_id` claimed and never gave to a channel; returns how many.
pub async fn release_claims_of(
    db: impl PgExecutor<'_>,
    worker_id: &str,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "update staff_posts
            set status = 'planned', lease_owner = null, lease_until = null, updated_at = $2
          where status = 'claimed' and lease_owner = $1",
        worker_id,
        now,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Records the channel's confirmation. A send the lease rescue already marked `unknown` (its
/// record was held up by a database outage) is settled too, as long as nobody claimed it since.
pub async fn complete(
    db: impl PgExecutor<'_>,
    lease: PostLease,
    provider_message_id: &str,
    now: DateTime<Utc>,
) -> Result<(), PostQueueError> {
    let done = sqlx::query!(
        "update staff_posts
            set status = 'sent', sent_at = $4, provider_message_id = $3, status_reason = null,
                last_error = null, lease_owner = null, lease_until = null, updated_at = $4
          where id = $1 and attempt = $2 and status in ('sending', 'unknown')",
        lease.id.0,
        lease.attempt,
        provider_message_id,
        now,
    )
    .execute(db)
    .await?;
    fenced(done.rows_affected(), lease)
}

/// Puts the post back in the queue, to be claimed again from `at`. Unless the failure
/// `counts` as a try, a try taken by `mark_sending` is given back (a "slow down" is waiting).
pub async fn retry_later(
    db: impl PgExecutor<'_>,
    lease: PostLease,
    at: DateTime<Utc>,
    error: &str,
    counts: bool,
    now: DateTime<Utc>,
) -> Result<(), PostQueueError> {
    let done = sqlx::query!(
        "update staff_posts
            set status = 'planned', next_attempt_at = $3, last_error = $4,
                tries = tries - case when not $6 and status = 'sending' then 1 else 0 end,
                lease_owner = null, lease_until = null, updated_at = $5
          where id = $1 and attempt = $2 and status in ('claimed', 'sending')",
        lease.id.0,
        lease.attempt,
        at,
        error,
        now,
        counts,
    )
    .execute(db)
    .await?;
    fenced(done.rows_affected(), lease)
}

/// Puts a post that has nowhere to go yet (no team chat, no channel for it) back in the queue
/// until `at`, without counting a try: nothing was sent, so nothing may be given up on.
pub async fn wait_for_route(
    db: impl PgExecutor<'_>,
    lease: PostLease,
    at: DateTime<Utc>,
    why: &str,
    now: DateTime<Utc>,
) -> Result<(), PostQueueError> {
    let done = sqlx::query!(
        "update staff_posts
            set status = 'planned', next_attempt_at = $3,
                status_reason = $4, lease_owner = null, lease_until = null, updated_at = $5
          where id = $1 and attempt = $2 and status = 'claimed'",
        lease.id.0,
        lease.attempt,
        at,
        why,
        now,
    )
    .execute(db)
    .await?;
    fenced(done.rows_affected(), lease)
}

/// Ends the post as failed; it is not tried again.
pub async fn fail(
    db: impl PgExecutor<'_>,
    lease: PostLease,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), PostQueueError> {
    let done = sqlx::query!(
        "update staff_posts
            set status = 'failed', status_reason = $3, last_error = $3,
                lease_owner = null, lease_until = null, updated_at = $4
          where id = $1 and attempt = $2 and status in ('claimed', 'sending')",
        lease.id.0,
        lease.attempt,
        reason,
        now,
    )
    .execute(db)
    .await?;
    fenced(done.rows_affected(), lease)
}

/// Takes posts back from workers whose lease ran out on the database's clock (`now` only stamps
/// the change): a claim never handed to a channel goes back in the queue; a send cut off
/// midway becomes 'unknown'.
pub async fn rescue_expired_leases(
    conn: &mut sqlx::PgConnection,
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

/// The channel confirmed the post arrived; `sent_at` is when we learned it.
pub async fn resolve_unknown_as_sent(
    db: impl PgExecutor<'_>,
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
pub async fn requeue_unknown(
    db: impl PgExecutor<'_>,
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
pub async fn explain_unknown(
    db: impl PgExecutor<'_>,
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

/// When the earliest planned post to deliver becomes claimable (possibly already past); the
/// same rows `claim_due` takes.
pub async fn next_due_at(db: impl PgExecutor<'_>) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!(
        "select min(greatest(due_at, coalesce(next_attempt_at, due_at)))
           from staff_posts where status = 'planned' and delivery = 'now'"
    )
    .fetch_one(db)
    .await
}
