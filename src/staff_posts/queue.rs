//! The `staff_posts` table as the delivery engine's `Table`: the statements that move posts
//! through planned → claimed → sending → sent (or failed / unknown), fenced like touches in
//! `outbox`, each batch in one statement.
//!
//! A claim bumps the post's `attempt`, and every later change on the worker's behalf applies
//! only while the row still has that attempt and the expected status: a worker whose lease was
//! rescued cannot overwrite what happened since. As for touches, leases run on the database's
//! clock and `tries` counts failed hand-overs apart from the fencing token.

mod unknown;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};

pub use unknown::{UNSUPPORTED_LOOKUP_REASON, UnknownPost, list_unknown};

use crate::channel::Button;
use crate::delivery::Settle;
use crate::delivery::queue::{self, MarkRows, QueueError, SettleRows, Table, seconds};
use crate::domain::{ContactId, PostId, StaffId};

/// The PostgreSQL channel the `staff_posts` trigger notifies when a post is due to deliver.
pub const NOTIFY_CHANNEL: &str = "touchbot_staff_posts";

/// A worker's hold on one post; `attempt` is the fencing token.
pub type Lease = queue::Lease<PostId>;
pub type PostQueueError = QueueError<PostId>;

/// The `staff_posts` table.
pub struct PostTable;

/// The key a channel deduplicates a post on; the prefix keeps it apart from touches' keys.
pub fn channel_key(idempotency_key: &str) -> String {
    format!("post:{idempotency_key}")
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
) -> Result<Vec<Lease>, sqlx::Error> {
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
    Ok(queue::leases(
        rows.into_iter().map(|r| (PostId(r.id), r.attempt)),
    ))
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

/// Loads the posts `ids` in one statement; a post deleted since its claim is missing.
pub async fn load_for_send(
    db: impl PgExecutor<'_>,
    ids: &[i64],
) -> Result<Vec<(PostId, PostRow)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        select p.id as "id!", p.idempotency_key as "idempotency_key!", p.body as "body!",
               p.buttons as "buttons!", p.staff_id as "staff_id?",
               s.name as "staff_name?", s.telegram_user_id as "staff_telegram_user_id?",
               s.locale as "staff_locale?",
               tc.channel as "team_channel?", tc.address as "team_address?",
               p.contact_id as "contact_id?", c.channel as "contact_channel?", c.address as "contact_address?"
          from staff_posts p
          left join staff s on s.id = p.staff_id
          left join team_chat tc on true
          left join contacts c on c.id = p.contact_id and c.removed_at is null
         where p.id = any($1)
        "#,
        ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                PostId(r.id),
                PostRow {
                    id: PostId(r.id),
                    idempotency_key: r.idempotency_key,
                    body: r.body,
                    buttons: super::buttons_from_json(&r.buttons),
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
                },
            )
        })
        .collect())
}

/// Makes due now the posts waiting for one of `reasons` (the channels a starting process
/// has): they waited, longer each time, for a process that could send them. Returns how many.
pub async fn bring_forward_waiting_for(
    db: &PgPool,
    reasons: &[String],
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "update staff_posts set next_attempt_at = $2, updated_at = $2
          where status = 'planned' and delivery = 'now' and next_attempt_at > $2
            and status_reason = any($1)",
        reasons,
        now,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Ends a worker's hold on a post as `change` says, if the fence lets it.
pub async fn settle(
    db: &PgPool,
    lease: Lease,
    change: Settle,
    now: DateTime<Utc>,
) -> Result<(), PostQueueError> {
    queue::settle_one::<PostTable>(db, lease, change, now).await
}

impl Table for PostTable {
    type Id = PostId;
    type Row = PostRow;
    const NOTIFY: Option<&'static str> = Some(NOTIFY_CHANNEL);

    /// Leases up to `batch_size` posts due at `now` (delivery 'now') to `worker_id` for `lease`,
    /// on the database's clock.
    /// Rows locked by a concurrent claim are skipped, so two workers never get the same post.
    async fn claim_due(
        db: &PgPool,
        worker_id: &str,
        now: DateTime<Utc>,
        lease: TimeDelta,
        batch_size: i64,
    ) -> Result<Vec<Lease>, sqlx::Error> {
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
        Ok(queue::leases(
            rows.into_iter().map(|r| (PostId(r.id), r.attempt)),
        ))
    }

    async fn load(db: &PgPool, ids: &[i64]) -> Result<Vec<(PostId, PostRow)>, sqlx::Error> {
        load_for_send(db, ids).await
    }

    /// Records where each post is about to go, just before it is handed to the channel, and
    /// counts the try: from here on a crash leaves it unknown rather than "not sent", and the
    /// address says which chat to look in.
    async fn mark_sending(
        db: &mut PgConnection,
        marks: &MarkRows,
        lease_for: TimeDelta,
    ) -> Result<Vec<(i64, i32)>, sqlx::Error> {
        let rows = sqlx::query!(
            "update staff_posts p
                set status = 'sending', sent_channel = v.channel, sent_address = v.address,
                    tries = p.tries + 1, lease_until = now() + make_interval(secs => $3),
                    status_reason = null, updated_at = v.now
               from unnest($1::int8[], $2::int4[], $4::text[], $5::text[], $6::timestamptz[])
                    as v(id, attempt, channel, address, now)
              where p.id = v.id and p.attempt = v.attempt and p.status = 'claimed'
                and p.lease_until > now()
              returning p.id, p.tries",
            &marks.ids,
            &marks.attempts,
            seconds(lease_for),
            &marks.channels as &[Option<String>],
            &marks.addresses as &[Option<String>],
            &marks.nows,
        )
        .fetch_all(db)
        .await?;
        Ok(rows.into_iter().map(|r| (r.id, r.tries)).collect())
    }

    /// Applies a batch of settles, each fenced by its attempt and the status its change expects,
    /// as for touches (`outbox`); posts are never skipped.
    async fn settle(db: &mut PgConnection, rows: &SettleRows) -> Result<Vec<i64>, sqlx::Error> {
        sqlx::query_scalar!(
            r#"
            update staff_posts p
               set status = case v.kind when 'sent' then 'sent' when 'fail' then 'failed'
                                        when 'unknown' then 'unknown' else 'planned' end,
                   next_attempt_at = case when v.kind in ('retry', 'wait') then v.at
                                          else p.next_attempt_at end,
                   sent_at = case when v.kind = 'sent' then v.now else p.sent_at end,
                   provider_message_id = case when v.kind = 'sent' then v.text
                                              else p.provider_message_id end,
                   status_reason = case when v.kind = 'sent' then null
                                        when v.kind in ('wait', 'fail', 'unknown') then v.text
                                        else p.status_reason end,
                   last_error = case when v.kind = 'sent' then null
                                     when v.kind in ('retry', 'fail', 'unknown') then v.text
                                     else p.last_error end,
                   tries = p.tries - case when v.kind = 'retry' and not v.counts
                                               and p.status = 'sending' then 1 else 0 end,
                   lease_owner = case when v.kind = 'unknown' then p.lease_owner end,
                   lease_until = null,
                   updated_at = v.now
              from unnest($1::int8[], $2::int4[], $3::text[], $4::text[], $5::timestamptz[],
                          $6::bool[], $7::timestamptz[])
                   as v(id, attempt, kind, text, at, counts, now)
             where p.id = v.id and p.attempt = v.attempt
               and case v.kind when 'release' then p.status = 'claimed'
                               when 'wait' then p.status = 'claimed'
                               when 'sent' then p.status in ('sending', 'unknown')
                               when 'unknown' then p.status = 'sending'
                               when 'skip' then false
                               else p.status in ('claimed', 'sending') end
            returning p.id
            "#,
            &rows.ids,
            &rows.attempts,
            &rows.kinds,
            &rows.texts as &[Option<String>],
            &rows.ats as &[Option<DateTime<Utc>>],
            &rows.counts,
            &rows.nows,
        )
        .fetch_all(db)
        .await
    }

    /// Hands back every post `worker_id` claimed and never gave to a channel; returns how many.
    async fn release_claims_of(
        db: &PgPool,
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

    /// When the earliest planned post to deliver becomes claimable (possibly already past); the
    /// same rows `claim_due` takes.
    async fn next_due_at(
        db: &PgPool,
        _now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        sqlx::query_scalar!(
            "select min(greatest(due_at, coalesce(next_attempt_at, due_at)))
               from staff_posts where status = 'planned' and delivery = 'now'"
        )
        .fetch_one(db)
        .await
    }
}
