//! The `touches` table used as a durable outbox: small statements that move one touch through
//! planned → claimed → sending → sent (or skipped / failed / unknown).
//!
//! Every change made on behalf of a worker is fenced by the touch's `attempt`: a claim bumps
//! it, and a later update only applies while the row still has that attempt and the expected
//! status. A worker whose lease was rescued and handed to someone else therefore cannot
//! overwrite the newer outcome; it gets `LeaseLost` and drops its result.
//!
//! Leases are counted on the database's clock (`now()`), never on a worker's: instances whose
//! clocks disagree still agree on when a lease ran out. Due-ness uses the `now` passed in, so
//! tests and the demo can run the calendar on a clock of their own. `tries` (how many
//! hand-overs failed) is kept apart from `attempt` (the fencing token), so waiting spends none.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde_json::json;
use sqlx::PgExecutor;

use crate::domain::{AccountId, ChannelKind, ContactId, StaffId, TouchId};

/// The key a channel deduplicates on: one per touch, the same for every retry of it.
pub fn idempotency_key(account_id: AccountId, touch_key: &str) -> String {
    format!("touch:{account_id}:{touch_key}")
}

/// A worker's hold on one touch; `attempt` is the fencing token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub id: TouchId,
    pub attempt: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(
        "touch {} is no longer held by this worker (attempt {}): its lease expired and the touch \
         was rescued, so this result was dropped",
        .0.id, .0.attempt
    )]
    LeaseLost(Lease),
    #[error("could not update the outbox in PostgreSQL")]
    Database(#[from] sqlx::Error),
}

impl super::delivery::QueueError for OutboxError {
    fn database(&self) -> Option<&sqlx::Error> {
        match self {
            OutboxError::Database(e) => Some(e),
            OutboxError::LeaseLost(_) => None,
        }
    }
}

fn fenced(rows: u64, lease: Lease) -> Result<(), OutboxError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(OutboxError::LeaseLost(lease))
    }
}

/// Leases up to `batch_size` touches due at `now` to `worker_id` for `lease` (on the database's
/// clock). Rows locked by a concurrent claim are skipped, so two workers never get the same
/// touch. Touches held back by a human takeover (`touch_held_until`, the same rule
/// `next_due_at` uses) stay planned, untouched, and are claimed once it ends.
pub async fn claim_due(
    db: impl PgExecutor<'_>,
    worker_id: &str,
    now: DateTime<Utc>,
    lease: TimeDelta,
    batch_size: i64,
) -> Result<Vec<Lease>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        with due as (
            select id from touches
            where status = 'planned'
              and due_at <= $1
              and (next_attempt_at is null or next_attempt_at <= $1)
              -- A contact talking with their CSM gets no automated touches meanwhile (see
              -- chat::takeover); contractual renewal notices keep their date.
              and touch_held_until(contact_id, category, $1) is null
            order by due_at, id
            limit $2
            for update skip locked
        )
        update touches t
           set status = 'claimed', attempt = t.attempt + 1,
               lease_owner = $3, lease_until = now() + make_interval(secs => $4),
               updated_at = $1
          from due
         where t.id = due.id
        returning t.id, t.attempt
        "#,
        now,
        batch_size,
        worker_id,
        seconds(lease),
    )
    .fetch_all(db)
    .await?;
    let mut leases: Vec<Lease> = rows
        .into_iter()
        .map(|r| Lease {
            id: TouchId(r.id),
            attempt: r.attempt,
        })
        .collect();
    leases.sort_by_key(|l| l.id);
    Ok(leases)
}

/// A lease's length in seconds, as `make_interval` takes it.
pub(crate) fn seconds(d: TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

/// Records that the message is about to be handed to the channel, and counts the try. Commit
/// this before sending: from here on, a crash leaves the outcome unknown rather than "not
/// sent". Refused once the lease ran out (the rescue may already be handing the touch to
/// someone else); otherwise the lease is renewed for `lease_for` from now. Returns the tries
/// made so far, this one included.
pub async fn mark_sending(
    db: impl PgExecutor<'_>,
    lease: Lease,
    now: DateTime<Utc>,
    lease_for: TimeDelta,
) -> Result<i32, OutboxError> {
    let tries = sqlx::query_scalar!(
        "update touches
            set status = 'sending', tries = tries + 1,
                lease_until = now() + make_interval(secs => $3), updated_at = $4
          where id = $1 and attempt = $2 and status = 'claimed' and lease_until > now()
          returning tries",
        lease.id.0,
        lease.attempt,
        seconds(lease_for),
        now,
    )
    .fetch_optional(db)
    .await?;
    tries.ok_or(OutboxError::LeaseLost(lease))
}

/// The channel answered, but nobody can tell whether the message arrived (a timeout, an answer
/// cut off or unreadable): the touch is left 'unknown' for the reconcile job or an operator,
/// never resent blindly.
pub async fn mark_unknown(
    db: impl PgExecutor<'_>,
    lease: Lease,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), OutboxError> {
    let done = sqlx::query!(
        "update touches
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

/// Hands a claimed touch that was never given to a channel back to the queue at once, as it
/// was: no try spent (a stopping worker does this with the rest of its batch).
pub async fn release(
    db: impl PgExecutor<'_>,
    lease: Lease,
    now: DateTime<Utc>,
) -> Result<(), OutboxError> {
    let done = sqlx::query!(
        "update touches
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

/// Hands back every touch `worker_id` claimed and never gave to a channel; returns how many.
/// For a stopping process, whatever its workers were doing when they stopped.
pub async fn release_claims_of(
    db: impl PgExecutor<'_>,
    worker_id: &str,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "update touches
            set status = 'planned', lease_owner = null, lease_until = null, updated_at = $2
          where status = 'claimed' and lease_owner = $1",
        worker_id,
        now,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Ends the leases of a worker known to be gone (its process died), so the next rescue takes
/// its touches back without waiting for the leases to run out.
pub async fn expire_leases_of(
    db: impl PgExecutor<'_>,
    worker_id: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "update touches set lease_until = now()
          where status in ('claimed', 'sending') and lease_owner = $1",
        worker_id,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Records the channel's confirmation. A send the lease rescue already marked `unknown` (its
/// record was held up by a database outage) is settled too, as long as nobody claimed it since.
pub async fn complete(
    db: impl PgExecutor<'_>,
    lease: Lease,
    provider_message_id: &str,
    now: DateTime<Utc>,
) -> Result<(), OutboxError> {
    let done = sqlx::query!(
        "update touches
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

/// Puts the touch back in the queue, to be claimed again from `next_attempt_at`. Unless the
/// failure `counts` as a try, a try taken by `mark_sending` is given back: a "slow down" is
/// waiting, not failing.
pub async fn retry_later(
    db: impl PgExecutor<'_>,
    lease: Lease,
    next_attempt_at: DateTime<Utc>,
    error: &str,
    counts: bool,
    now: DateTime<Utc>,
) -> Result<(), OutboxError> {
    let done = sqlx::query!(
        "update touches
            set status = 'planned', next_attempt_at = $3, last_error = $4,
                tries = tries - case when not $6 and status = 'sending' then 1 else 0 end,
                lease_owner = null, lease_until = null, updated_at = $5
          where id = $1 and attempt = $2 and status in ('claimed', 'sending')",
        lease.id.0,
        lease.attempt,
        next_attempt_at,
        error,
        now,
        counts,
    )
    .execute(db)
    .await?;
    fenced(done.rows_affected(), lease)
}

/// Ends the touch as failed; it is not retried unless an operator requeues it.
pub async fn fail_permanently(
    db: impl PgExecutor<'_>,
    lease: Lease,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), OutboxError> {
    let done = sqlx::query!(
        "update touches
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

/// Ends the touch without sending it, because sending it no longer makes sense.
pub async fn skip(
    db: impl PgExecutor<'_>,
    lease: Lease,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), OutboxError> {
    let done = sqlx::query!(
        "update touches
            set status = 'skipped', status_reason = $3,
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

/// Marks a contact as unreachable (keeping the first reason if already marked) and records
/// a `contact_unreachable` signal once per contact and reason.
pub async fn mark_contact_unreachable(
    conn: &mut sqlx::PgConnection,
    account_id: AccountId,
    contact_id: ContactId,
    touch_id: TouchId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update contacts
            set unreachable_at = coalesce(unreachable_at, $2),
                unreachable_reason = coalesce(unreachable_reason, $3)
          where id = $1",
        contact_id.0,
        now,
        reason,
    )
    .execute(&mut *conn)
    .await?;
    let details = json!({ "reason": reason, "touch_id": touch_id.0 });
    let recorded = sqlx::query!(
        "insert into signals
            (account_id, contact_id, kind, details, occurred_at, source, idempotency_key)
         values ($1, $2, 'contact_unreachable', $3, $4, 'dispatcher', $5)
         on conflict (idempotency_key) do nothing",
        account_id.0,
        contact_id.0,
        details,
        now,
        format!("contact_unreachable:{contact_id}:{reason}"),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if recorded == 1 {
        tell_csm_unreachable(conn, account_id, contact_id, reason, now).await?;
    }
    Ok(())
}

/// Tells the account's CSM (or the team chat, without one) once that a contact cannot be
/// reached any more, so a person finds another way to them.
async fn tell_csm_unreachable(
    conn: &mut sqlx::PgConnection,
    account_id: AccountId,
    contact_id: ContactId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    use super::staff_posts::{NewPost, PostDelivery, PostKind, Recipient, enqueue};
    let row = sqlx::query!(
        r#"select c.name as contact, c.channel, a.name as account, a.csm_id
             from contacts c join accounts a on a.id = c.account_id where c.id = $1"#,
        contact_id.0
    )
    .fetch_one(&mut *conn)
    .await?;
    let why = match reason {
        "blocked" => "blocked the bot",
        "unknown_chat" => "never started the bot or left the chat",
        "invalid_address" => "has an address the channel refuses",
        _ => "cannot be reached",
    };
    let body = format!(
        "{} of {} {why} on {}: touches to them stop. Reach them another way, or add a contact \
         who can take their place.",
        row.contact, row.account, row.channel
    );
    let recipient = row
        .csm_id
        .map_or(Recipient::TeamChat, |id| Recipient::Staff(StaffId(id)));
    let post = NewPost {
        idempotency_key: format!("unreachable:contact-{contact_id}:{reason}"),
        kind: PostKind::Unreachable,
        escalation_id: None,
        account_id: Some(account_id),
        recipient,
        delivery: PostDelivery::Now,
        body,
        buttons: Vec::new(),
        due_at: now,
    };
    enqueue(&mut *conn, &post, now).await?;
    Ok(())
}

/// Everything the send-time checks and a template need about one touch, as stored.
#[derive(Debug, Clone)]
pub struct SendRow {
    pub id: TouchId,
    pub account_id: AccountId,
    pub touch_key: String,
    pub kind: String,
    pub category: String,
    pub template: String,
    pub due_at: DateTime<Utc>,
    pub account_name: String,
    pub account_lifecycle: String,
    pub account_locale: String,
    pub account_time_zone: String,
    pub renewal_date: Option<NaiveDate>,
    pub csm_name: Option<String>,
    pub csm_locale: Option<String>,
    pub contact_id: Option<ContactId>,
    pub contact_name: Option<String>,
    pub contact_channel: Option<String>,
    pub contact_address: Option<String>,
    pub contact_locale: Option<String>,
    pub contact_removed: bool,
    pub contact_unreachable: bool,
    pub contact_opted_out: bool,
    /// When the contact last wrote, on any channel (WhatsApp's window).
    pub contact_last_inbound_at: Option<DateTime<Utc>>,
    /// WhatsApp refused this touch's free text: it may only go as its template.
    pub template_only: bool,
    pub staff_id: Option<StaffId>,
    pub staff_name: Option<String>,
    pub staff_telegram_user_id: Option<i64>,
    pub staff_locale: Option<String>,
}

pub async fn load_for_send(
    db: impl PgExecutor<'_>,
    id: TouchId,
) -> Result<Option<SendRow>, sqlx::Error> {
    let row = sqlx::query!(
        r#"
        select t.id, t.account_id, t.touch_key, t.kind, t.category, t.template, t.due_at,
               a.name as account_name, a.lifecycle as account_lifecycle,
               a.locale as account_locale, a.time_zone as account_time_zone, a.renewal_date,
               csm.name as "csm_name?", csm.locale as "csm_locale?",
               t.contact_id, c.last_inbound_at as "contact_last_inbound_at?", t.template_only, c.name as "contact_name?", c.channel as "contact_channel?",
               c.address as "contact_address?", c.locale as "contact_locale?",
               (c.removed_at is not null) as "contact_removed!",
               (c.unreachable_at is not null) as "contact_unreachable!",
               exists (select 1 from contact_consents cc
                        where cc.contact_id = t.contact_id and cc.category = t.category
                          and cc.opted_out) as "contact_opted_out!",
               t.staff_id, s.name as "staff_name?", s.telegram_user_id as "staff_telegram_user_id?",
               s.locale as "staff_locale?"
          from touches t
          join accounts a on a.id = t.account_id
          left join staff csm on csm.id = a.csm_id
          left join contacts c on c.id = t.contact_id
          left join staff s on s.id = t.staff_id
         where t.id = $1
        "#,
        id.0,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| SendRow {
        id: TouchId(r.id),
        account_id: AccountId(r.account_id),
        touch_key: r.touch_key,
        kind: r.kind,
        category: r.category,
        template: r.template,
        due_at: r.due_at,
        account_name: r.account_name,
        account_lifecycle: r.account_lifecycle,
        account_locale: r.account_locale,
        account_time_zone: r.account_time_zone,
        renewal_date: r.renewal_date,
        csm_name: r.csm_name,
        csm_locale: r.csm_locale,
        contact_id: r.contact_id.map(ContactId),
        contact_name: r.contact_name,
        contact_channel: r.contact_channel,
        contact_address: r.contact_address,
        contact_locale: r.contact_locale,
        contact_removed: r.contact_removed,
        contact_unreachable: r.contact_unreachable,
        contact_opted_out: r.contact_opted_out,
        contact_last_inbound_at: r.contact_last_inbound_at,
        template_only: r.template_only,
        staff_id: r.staff_id.map(StaffId),
        staff_name: r.staff_name,
        staff_telegram_user_id: r.staff_telegram_user_id,
        staff_locale: r.staff_locale,
    }))
}

/// What the lease rescue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rescued {
    /// Claimed but never handed to a channel: safely back in the queue.
    pub requeued: u64,
    /// Handed to a channel by a worker that then vanished: now 'unknown', to be reconciled.
    pub unknown: u64,
}

/// Takes touches back from workers whose lease ran out (on the database's clock; `now` only
/// stamps the change).
pub async fn rescue_expired_leases(
    conn: &mut sqlx::PgConnection,
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

/// The channel confirmed the message arrived. `sent_at` is when we learned it, the real
/// moment being unknowable. Returns false if the touch is no longer 'unknown'.
pub async fn resolve_unknown_as_sent(
    db: impl PgExecutor<'_>,
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
pub async fn requeue_unknown(
    db: impl PgExecutor<'_>,
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
pub async fn explain_unknown(
    db: impl PgExecutor<'_>,
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

/// When the earliest planned touch becomes claimable (possibly already past), as `claim_due`
/// sees it at `now`: one held back by a takeover becomes claimable when the takeover lapses.
pub async fn next_due_at(
    db: impl PgExecutor<'_>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    // greatest() skips nulls: a touch not held (or never retried) is due at its due_at. The
    // hashed `in` only spares the rule's cost on contacts nobody is talking with.
    sqlx::query_scalar!(
        "select min(greatest(due_at, next_attempt_at,
                             case when contact_id in (select contact_id from contact_takeovers
                                                       where ended_at is null)
                                  then touch_held_until(contact_id, category, $1) end))
           from touches where status = 'planned'",
        now,
    )
    .fetch_one(db)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idempotency_key_names_the_account_and_the_touch() {
        assert_eq!(
            idempotency_key(AccountId(7), "nps-90"),
            "touch:7:nps-90".to_string()
        );
    }
}
