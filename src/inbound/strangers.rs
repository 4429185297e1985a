//! People who wrote to the bot and are no contact on that channel: a client's colleague who
//! got the number, a wrong number, a contact added under another address. They are kept for
//! staff to review (`touchbot inbound strangers`) with how often and when they wrote, and
//! answered politely once per address, whatever the channel.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::domain::ChannelKind;

/// One message (or tap) from a stranger.
#[derive(Debug, Clone)]
pub struct Seen<'a> {
    pub channel: ChannelKind,
    pub address: &'a str,
    pub display_name: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// A stranger as staff review them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stranger {
    pub channel: String,
    pub address: String,
    pub display_name: Option<String>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub messages: i32,
    pub answered_at: Option<DateTime<Utc>>,
}

/// Records that `seen` wrote (counted, last seen, the latest name the platform gave). With
/// `to_answer`, returns whether they are to get the polite answer now: only the first time,
/// marked given in one statement, so two deliveries at once cannot both answer.
pub async fn seen(pool: &PgPool, seen: &Seen<'_>, to_answer: bool) -> sqlx::Result<bool> {
    sqlx::query!(
        "insert into strangers as s (channel, address, first_seen_at, last_seen_at, display_name)
         values ($1, $2, $3, $3, $4)
         on conflict (channel, address) do update
            set messages = s.messages + 1,
                last_seen_at = greatest(s.last_seen_at, excluded.last_seen_at),
                display_name = coalesce(excluded.display_name, s.display_name)",
        seen.channel.as_str(),
        seen.address,
        seen.at,
        seen.display_name,
    )
    .execute(pool)
    .await?;
    if !to_answer {
        return Ok(false);
    }
    let answered = sqlx::query!(
        "update strangers set answered_at = now()
          where channel = $1 and address = $2 and answered_at is null",
        seen.channel.as_str(),
        seen.address,
    )
    .execute(pool)
    .await?;
    Ok(answered.rows_affected() == 1)
}

/// Every stranger, the most recent first.
pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<Stranger>> {
    sqlx::query_as!(
        Stranger,
        "select channel, address, display_name, first_seen_at, last_seen_at, messages, answered_at
           from strangers order by last_seen_at desc, channel, address"
    )
    .fetch_all(pool)
    .await
}
