//! The `whatsapp_events` table: every event the webhook brought, stored before the webhook
//! answers 200, then claimed under a lease, handled, and marked done. Leases are counted on
//! the database's clock, so instances with skewed clocks agree on when one ran out.
//!
//! A sender's messages are handled one at a time, in the order they arrived (`id`): a message
//! is not claimed while an earlier one of the same sender is still to do.

use chrono::Utc;
use sqlx::PgPool;

use super::events::NewEvent;

/// How long a claim holds: a send to WhatsApp takes at most `request_timeout_seconds`.
const LEASE_SECONDS: f64 = 120.0;

/// An event claimed for handling.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    /// `msg:<wamid>` or `status:<wamid>:<status>`.
    pub key: String,
    pub kind: String,
    pub payload: serde_json::Value,
    /// Failed tries before this one.
    pub tries: i32,
}

/// Stores the events of one webhook body, all or none, in their order; a redelivered one is
/// left as it was. One statement, so the webhook waits for one round trip and one commit.
pub async fn store(pool: &PgPool, events: &[NewEvent]) -> sqlx::Result<()> {
    let keys: Vec<&str> = events.iter().map(|e| e.key.as_str()).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind).collect();
    let payloads: Vec<&serde_json::Value> = events.iter().map(|e| &e.payload).collect();
    sqlx::query!(
        "insert into whatsapp_events (event_key, kind, payload, received_at)
         select u.key, u.kind, u.payload, $4
           from unnest($1::text[], $2::text[], $3::jsonb[]) with ordinality
                as u(key, kind, payload, n)
          order by u.n
         on conflict (event_key) do nothing",
        &keys as &[&str],
        &kinds as &[&str],
        &payloads as &[&serde_json::Value],
        Utc::now(),
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Claims the oldest event that is free by the rule of [`claim_batch`].
pub async fn claim_next(pool: &PgPool) -> sqlx::Result<Option<Claimed>> {
    Ok(claim_batch(pool, 1).await?.pop())
}

/// Claims up to `limit` events that are to do and free, oldest first: not done, not held by a
/// live claim (nor waiting out a pause after a failure), and no earlier message of their
/// sender still to do, so a sender's later messages wait until the earliest is done. Returned
/// in their order. One statement for a drainer's whole batch.
pub async fn claim_batch(pool: &PgPool, limit: i64) -> sqlx::Result<Vec<Claimed>> {
    let rows = sqlx::query!(
        r#"update whatsapp_events w
              set claimed_until = now() + make_interval(secs => $1)
             from (select e.id from whatsapp_events e
                    where e.done_at is null
                      and (e.claimed_until is null or e.claimed_until < now())
                      and not (e.kind = 'message' and exists (
                          select 1 from whatsapp_events p
                           where p.done_at is null and p.kind = 'message' and p.id < e.id
                             and p.payload->'message'->>'from' = e.payload->'message'->>'from'))
                    order by e.id
                    limit $2
                    for update skip locked) c
            where w.id = c.id
        returning w.id, w.event_key, w.kind, w.payload, w.tries"#,
        LEASE_SECONDS,
        limit
    )
    .fetch_all(pool)
    .await?;
    let mut claimed: Vec<Claimed> = rows
        .into_iter()
        .map(|r| Claimed {
            id: r.id,
            key: r.event_key,
            kind: r.kind,
            payload: r.payload,
            tries: r.tries,
        })
        .collect();
    claimed.sort_by_key(|c| c.id);
    Ok(claimed)
}

/// These events are handled, all in one statement.
pub async fn done_all(pool: &PgPool, ids: &[i64]) -> sqlx::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "update whatsapp_events set done_at = now(), claimed_until = null, last_error = null
          where id = any($1)",
        ids
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The event is handled: nothing left to do.
pub async fn done(pool: &PgPool, id: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "update whatsapp_events set done_at = now(), claimed_until = null, last_error = null
          where id = $1",
        id
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Puts an event off for `pause_seconds` without counting a try: it is not wrong, only early.
pub async fn later(pool: &PgPool, id: i64, pause_seconds: f64) -> sqlx::Result<()> {
    sqlx::query!(
        "update whatsapp_events set claimed_until = now() + make_interval(secs => $2)
          where id = $1",
        id,
        pause_seconds,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a failed try. Below `set_aside_after` tries the event waits `pause_seconds` and is
/// tried again; at it, it is set aside (done, with its error kept) so it no longer holds up
/// its sender. Returns whether it was set aside.
pub async fn failed(
    pool: &PgPool,
    id: i64,
    error: &str,
    set_aside_after: i32,
    pause_seconds: f64,
) -> sqlx::Result<bool> {
    let set_aside = sqlx::query_scalar!(
        r#"update whatsapp_events
              set tries = tries + 1, last_error = $2,
                  done_at = case when tries + 1 >= $3 then now() end,
                  claimed_until = case when tries + 1 >= $3 then null
                                       else now() + make_interval(secs => $4) end
            where id = $1
        returning done_at is not null as "set_aside!""#,
        id,
        error,
        set_aside_after,
        pause_seconds,
    )
    .fetch_optional(pool)
    .await?;
    Ok(set_aside.unwrap_or(false))
}

/// Takes an event that was set aside (done with an error) back, claimed for a person's
/// replay, with its tries reset. None when no such event is set aside.
pub async fn reopen(pool: &PgPool, key: &str) -> sqlx::Result<Option<Claimed>> {
    let row = sqlx::query!(
        "update whatsapp_events
            set done_at = null, tries = 0, claimed_until = now() + make_interval(secs => $2)
          where event_key = $1 and done_at is not null and last_error is not null
        returning id, event_key, kind, payload, tries",
        key,
        LEASE_SECONDS
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Claimed {
        id: r.id,
        key: r.event_key,
        kind: r.kind,
        payload: r.payload,
        tries: r.tries,
    }))
}
