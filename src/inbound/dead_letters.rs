//! What to do when handling an inbound update fails, for every channel alike.
//!
//! A failure while the database does not answer is an outage: the update is kept (not
//! confirmed to the platform) and tried again after a growing pause, however long it lasts,
//! so no reply is lost. A failure while the database answers is the update's own fault (a
//! bug, data the code cannot take): after [`POISON_TRIES`] such tries it is set aside here,
//! with its raw payload and the error, so it no longer holds up the chat, and staff can list
//! it and replay it (`touchbot inbound dead-letters`, `touchbot inbound replay ID`).

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

/// Tries an update gets, while the database answers, before it is set aside.
pub const POISON_TRIES: u32 = 5;

/// How long the health check may take before the database counts as away.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether the database answers at all: tells an outage (wait and try the same update again)
/// from an update that fails on its own (set it aside after a few tries).
pub async fn database_answers(pool: &PgPool) -> bool {
    let probe = sqlx::query_scalar!(r#"select 1 as "one!""#).fetch_one(pool);
    matches!(tokio::time::timeout(PROBE_TIMEOUT, probe).await, Ok(Ok(1)))
}

/// What the caller should do after a failed try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// The database is away: keep the update and wait this long before the next try.
    Outage(Duration),
    /// The update failed on its own: try it again after this pause.
    TryAgain(Duration),
    /// It failed [`POISON_TRIES`] times with the database answering: set it aside.
    SetAside,
}

/// Counts one update's failed tries and decides what comes next.
#[derive(Debug, Default)]
pub struct Failures {
    /// Failed tries while the database answered.
    pub poison: u32,
    /// Failed tries while it did not, in a row (for the growing pause).
    pub outage: u32,
}

impl Failures {
    pub async fn after_failure(&mut self, pool: &PgPool) -> AfterFailure {
        if database_answers(pool).await {
            self.outage = 0;
            self.poison += 1;
            if self.poison >= POISON_TRIES {
                AfterFailure::SetAside
            } else {
                AfterFailure::TryAgain(Duration::from_millis(200 * u64::from(self.poison)))
            }
        } else {
            self.outage += 1;
            AfterFailure::Outage(outage_pause(self.outage))
        }
    }

    pub fn tries(&self) -> u32 {
        self.poison + self.outage
    }
}

/// 1 s doubling to a minute: an outage of a minute costs a few tries, a long one a try a minute.
pub fn outage_pause(outages: u32) -> Duration {
    Duration::from_secs(1 << outages.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

/// An update set aside.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub id: i64,
    pub channel: String,
    pub external_id: String,
    pub payload: serde_json::Value,
    pub error: String,
    pub tries: i32,
    pub first_failed_at: DateTime<Utc>,
    pub last_failed_at: DateTime<Utc>,
    pub replays: i32,
    pub replayed_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Sets an update aside. The same update set aside again (a replay that failed) keeps one
/// row, with the latest error and the tries added up.
pub async fn set_aside(
    pool: &PgPool,
    channel: &str,
    external_id: &str,
    payload: &serde_json::Value,
    error: &anyhow::Error,
    tries: u32,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    // The chain names the failing step; it carries ids, never the contact's words.
    let error = format!("{error:#}");
    let tries = i32::try_from(tries).unwrap_or(i32::MAX).max(1);
    sqlx::query_scalar!(
        "insert into inbound_dead_letters
             (channel, external_id, payload, error, tries, first_failed_at, last_failed_at)
         values ($1, $2, $3, $4, $5, $6, $6)
         on conflict (channel, external_id) do update
            set error = excluded.error,
                tries = inbound_dead_letters.tries + excluded.tries,
                last_failed_at = excluded.last_failed_at,
                resolved_at = null
         returning id",
        channel,
        external_id,
        payload,
        error,
        tries,
        now
    )
    .fetch_one(pool)
    .await
    .context("setting an inbound update aside")
}

/// The updates set aside, newest first; `all` includes those a replay resolved.
pub async fn list(pool: &PgPool, all: bool) -> anyhow::Result<Vec<DeadLetter>> {
    sqlx::query_as!(
        DeadLetter,
        "select id, channel, external_id, payload, error, tries, first_failed_at, last_failed_at,
                replays, replayed_at, resolved_at
           from inbound_dead_letters
          where $1 or resolved_at is null
          order by last_failed_at desc, id desc",
        all
    )
    .fetch_all(pool)
    .await
    .context("listing the inbound updates set aside")
}

pub async fn get(pool: &PgPool, id: i64) -> anyhow::Result<Option<DeadLetter>> {
    sqlx::query_as!(
        DeadLetter,
        "select id, channel, external_id, payload, error, tries, first_failed_at, last_failed_at,
                replays, replayed_at, resolved_at
           from inbound_dead_letters where id = $1",
        id
    )
    .fetch_optional(pool)
    .await
    .context("reading an inbound update set aside")
}

/// Records a replay: `error` None when it was handled this time.
pub async fn replayed(
    pool: &PgPool,
    id: i64,
    error: Option<&anyhow::Error>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let error = error.map(|e| format!("{e:#}"));
    sqlx::query!(
        "update inbound_dead_letters
            set replays = replays + 1, replayed_at = $2::timestamptz,
                resolved_at = case when $3::text is null then $2::timestamptz end,
                error = coalesce($3, error),
                tries = tries + case when $3::text is null then 0 else 1 end
          where id = $1",
        id,
        now,
        error
    )
    .execute(pool)
    .await
    .context("recording the replay of an inbound update")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_in_an_outage_grows_to_a_minute_and_stays_there() {
        assert_eq!(outage_pause(1), Duration::from_secs(1));
        assert_eq!(outage_pause(2), Duration::from_secs(2));
        assert_eq!(outage_pause(7), Duration::from_secs(60));
        assert_eq!(outage_pause(400), Duration::from_secs(60));
    }
}
