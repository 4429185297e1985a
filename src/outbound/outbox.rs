//! The `touches` table used as a durable outbox, as the delivery engine's `Table`: the
//! statements that move touches through planned → claimed → sending → sent (or skipped /
//! failed / unknown), each batch in one statement.
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

mod unknown;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};

pub use unknown::{
    RequeueError, UNSUPPORTED_LOOKUP_REASON, UnknownTouch, list_unknown, requeue, requeue_because,
};

use super::send_row::{SendRow, load_for_send};
use crate::delivery::Settle;
use crate::delivery::queue::{self, Mark, MarkRows, QueueError, SettleRows, Table, seconds};
use crate::domain::{AccountId, TouchId};

/// The PostgreSQL channel the `touches` trigger notifies when work is added or rescheduled.
pub const NOTIFY_CHANNEL: &str = "touchbot_outbox";

/// A worker's hold on one touch; `attempt` is the fencing token.
pub type Lease = queue::Lease<TouchId>;
pub type OutboxError = QueueError<TouchId>;

/// The `touches` table.
pub struct TouchTable;

/// The key a channel deduplicates on: one per touch, the same for every retry of it.
pub fn idempotency_key(account_id: AccountId, touch_key: &str) -> String {
    format!("touch:{account_id}:{touch_key}")
}

/// Records that the message is about to be handed to the channel, and counts the try. Commit
/// this before sending: from here on, a crash leaves the outcome unknown rather than "not
/// sent". Refused once the lease ran out (the rescue may already be handing the touch to
/// someone else); otherwise the lease is renewed for `lease_for` from now. Returns the tries
/// made so far, this one included.
pub async fn mark_sending(
    db: &PgPool,
    lease: Lease,
    now: DateTime<Utc>,
    lease_for: TimeDelta,
) -> Result<i32, OutboxError> {
    let mark = Mark {
        lease,
        to: None,
        now,
    };
    queue::mark_one::<TouchTable>(db, mark, lease_for).await
}

/// Ends a worker's hold on a touch as `change` says, if the fence lets it.
pub async fn settle(
    db: &PgPool,
    lease: Lease,
    change: Settle,
    now: DateTime<Utc>,
) -> Result<(), OutboxError> {
    queue::settle_one::<TouchTable>(db, lease, change, now).await
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

impl Table for TouchTable {
    type Id = TouchId;
    type Row = SendRow;
    const NOTIFY: Option<&'static str> = Some(NOTIFY_CHANNEL);

    /// Leases up to `batch_size` touches due at `now` to `worker_id` for `lease` (on the database's
    /// clock). Rows locked by a concurrent claim are skipped, so two workers never get the same
    /// touch. Touches held back by a human takeover (`touch_holds`, the same rule
    /// `next_due_at` uses) stay planned, untouched, and are claimed once it ends.
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
                select id from touches
                where status = 'planned'
                  and due_at <= $1
                  and (next_attempt_at is null or next_attempt_at <= $1)
                  -- A contact talking with their CSM gets no automated touches meanwhile (see
                  -- chat::takeover); contractual renewal notices keep their date. The rule is
                  -- inlined, so the claim walks the due index and stops after its batch.
                  and not exists (select from touch_holds(contact_id, category, $1))
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
        Ok(queue::leases(
            rows.into_iter().map(|r| (TouchId(r.id), r.attempt)),
        ))
    }

    async fn load(db: &PgPool, ids: &[i64]) -> Result<Vec<(TouchId, SendRow)>, sqlx::Error> {
        load_for_send(db, ids).await
    }

    async fn mark_sending(
        db: &mut PgConnection,
        marks: &MarkRows,
        lease_for: TimeDelta,
    ) -> Result<Vec<(i64, i32)>, sqlx::Error> {
        let rows = sqlx::query!(
            "update touches t
                set status = 'sending', tries = t.tries + 1,
                    lease_until = now() + make_interval(secs => $3), updated_at = v.now
               from unnest($1::int8[], $2::int4[], $4::timestamptz[]) as v(id, attempt, now)
              where t.id = v.id and t.attempt = v.attempt and t.status = 'claimed'
                and t.lease_until > now()
              returning t.id, t.tries",
            &marks.ids,
            &marks.attempts,
            seconds(lease_for),
            &marks.nows,
        )
        .fetch_all(db)
        .await?;
        Ok(rows.into_iter().map(|r| (r.id, r.tries)).collect())
    }

    /// Applies a batch of settles, each fenced by its attempt and the status its change expects;
    /// `Settle` says what each change sets. `sent` also settles a send the lease rescue already
    /// marked `unknown` (its record was held up by an outage), as long as nobody claimed it since.
    async fn settle(db: &mut PgConnection, rows: &SettleRows) -> Result<Vec<i64>, sqlx::Error> {
        sqlx::query_scalar!(
            r#"
            update touches t
               set status = case v.kind when 'sent' then 'sent' when 'fail' then 'failed'
                                        when 'skip' then 'skipped' when 'unknown' then 'unknown'
                                        else 'planned' end,
                   next_attempt_at = case when v.kind in ('retry', 'wait') then v.at
                                          else t.next_attempt_at end,
                   sent_at = case when v.kind = 'sent' then v.now else t.sent_at end,
                   provider_message_id = case when v.kind = 'sent' then v.text
                                              else t.provider_message_id end,
                   status_reason = case when v.kind = 'sent' then null
                                        when v.kind in ('wait', 'fail', 'skip', 'unknown') then v.text
                                        else t.status_reason end,
                   last_error = case when v.kind = 'sent' then null
                                     when v.kind in ('retry', 'fail', 'unknown') then v.text
                                     else t.last_error end,
                   -- A "slow down" is waiting, not failing: the try the mark took is given back.
                   tries = t.tries - case when v.kind = 'retry' and not v.counts
                                               and t.status = 'sending' then 1 else 0 end,
                   -- The worker that was sending is kept: it is where to look in the logs.
                   lease_owner = case when v.kind = 'unknown' then t.lease_owner end,
                   lease_until = null,
                   updated_at = v.now
              from unnest($1::int8[], $2::int4[], $3::text[], $4::text[], $5::timestamptz[],
                          $6::bool[], $7::timestamptz[])
                   as v(id, attempt, kind, text, at, counts, now)
             where t.id = v.id and t.attempt = v.attempt
               and case v.kind when 'release' then t.status = 'claimed'
                               when 'wait' then t.status = 'claimed'
                               when 'sent' then t.status in ('sending', 'unknown')
                               when 'unknown' then t.status = 'sending'
                               else t.status in ('claimed', 'sending') end
            returning t.id
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

    /// Hands back every touch `worker_id` claimed and never gave to a channel; returns how many.
    /// For a stopping process, whatever its workers were doing when they stopped.
    async fn release_claims_of(
        db: &PgPool,
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

    /// When the earliest planned touch becomes claimable (possibly already past), as `claim_due`
    /// sees it at `now`: one held back by a takeover becomes claimable when the takeover lapses.
    async fn next_due_at(
        db: &PgPool,
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
