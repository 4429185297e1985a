//! Human takeover: "this contact is talking with a person until X". While a conversation is
//! current, the dispatcher holds the contact's automated touches back (`outbound::outbox`
//! `claim_due`), so a survey never lands in the middle of a CSM's conversation; renewal notices
//! keep their date. It ends when a person hands the contact back, or when `until` passes.
//!
//! Any channel can use it: the relay of words between client and CSM is in `relay`.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::domain::{ContactId, StaffId};
use crate::outbound::dispatcher::NOTIFY_CHANNEL;

/// A current conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Takeover {
    pub contact: ContactId,
    /// Who the client talks with; `None` when the account has no CSM (the team answers).
    pub staff: Option<StaffId>,
    pub started_at: DateTime<Utc>,
    /// Automated touches wait until then.
    pub until: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum TakeoverError {
    #[error("a takeover must last into the future; {until} is not after {now}")]
    EndsBeforeItStarts {
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Starts a conversation between `contact` and `csm` lasting until `until`, or extends the
/// current one (never shortens it; a later CSM takes it over).
pub async fn start(
    pool: &PgPool,
    contact: ContactId,
    csm: Option<StaffId>,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Takeover, TakeoverError> {
    let mut tx = pool.begin().await?;
    let takeover = start_in(&mut tx, contact, csm, now, until).await?;
    tx.commit().await?;
    Ok(takeover)
}

/// [`start`] inside the caller's transaction.
pub async fn start_in(
    conn: &mut PgConnection,
    contact: ContactId,
    csm: Option<StaffId>,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Takeover, TakeoverError> {
    if until <= now {
        return Err(TakeoverError::EndsBeforeItStarts { now, until });
    }
    // A conversation that ran out on its own is closed at its end, so the new one starts fresh.
    sqlx::query!(
        "update contact_takeovers set ended_at = until
          where contact_id = $1 and ended_at is null and until <= $2",
        contact.0,
        now
    )
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query!(
        "insert into contact_takeovers (contact_id, staff_id, started_at, until)
         values ($1, $2, $3, $4)
         on conflict (contact_id) where ended_at is null do update
            set until = greatest(contact_takeovers.until, excluded.until),
                staff_id = coalesce(excluded.staff_id, contact_takeovers.staff_id)
         returning staff_id, started_at, until",
        contact.0,
        csm.map(|s| s.0),
        now,
        until
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Takeover {
        contact,
        staff: row.staff_id.map(StaffId),
        started_at: row.started_at,
        until: row.until,
    })
}

/// Ends the contact's conversation: the bot takes over again, and touches held back go out at
/// the dispatcher's next pass (it is woken at once). Returns whether a current one ended.
pub async fn handback(
    pool: &PgPool,
    contact: ContactId,
    by: Option<StaffId>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let ended = sqlx::query!(
        "update contact_takeovers
            set ended_at = case when until > $2 then $2 else until end,
                ended_by = case when until > $2 then $3 else ended_by end
          where contact_id = $1 and ended_at is null
          returning until > $2 as \"was_current!\"",
        contact.0,
        now,
        by.map(|s| s.0)
    )
    .fetch_optional(&mut *tx)
    .await?
    .is_some_and(|r| r.was_current);
    if ended {
        sqlx::query!("select pg_notify($1, '')", NOTIFY_CHANNEL)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(ended)
}

/// The contact's current conversation at `now`, if any.
pub async fn active(
    pool: &PgPool,
    contact: ContactId,
    now: DateTime<Utc>,
) -> Result<Option<Takeover>, sqlx::Error> {
    let row = sqlx::query!(
        "select staff_id, started_at, until from contact_takeovers
          where contact_id = $1 and ended_at is null and until > $2",
        contact.0,
        now
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Takeover {
        contact,
        staff: r.staff_id.map(StaffId),
        started_at: r.started_at,
        until: r.until,
    }))
}
