//! The CS team's group chat, where escalation cards go: one per installation.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor, PgPool};

use super::{StoreError, stored};
use crate::domain::{ChannelKind, StaffId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeamChat {
    pub channel: ChannelKind,
    /// The chat id on that channel (a Telegram group's id is negative).
    pub address: String,
    pub bound_at: DateTime<Utc>,
    pub bound_by: Option<StaffId>,
}

pub async fn get(db: impl PgExecutor<'_>) -> Result<Option<TeamChat>, StoreError> {
    let row = sqlx::query!("select channel, address, bound_at, bound_by from team_chat")
        .fetch_optional(db)
        .await?;
    row.map(|r| {
        Ok(TeamChat {
            channel: stored(&r.channel)?,
            address: r.address,
            bound_at: r.bound_at,
            bound_by: r.bound_by.map(StaffId),
        })
    })
    .transpose()
}

/// Checks a chat given by a person: a channel that has group chats, and an id it can take.
pub fn check(channel: ChannelKind, address: &str) -> Result<String, StoreError> {
    let address = address.trim();
    match channel {
        ChannelKind::Whatsapp => Err(StoreError::Invalid(
            "the team chat cannot be on WhatsApp, which gives bots no group chats; use a Telegram \
             group (--channel telegram)"
                .into(),
        )),
        ChannelKind::Telegram if address.parse::<i64>().is_err() => {
            Err(StoreError::Invalid(format!(
                "'{address}' is not a Telegram chat id; give the group's numeric id, such as \
                 -1001234567890 (add the bot to the group and read the id from any message's \
                 chat.id)"
            )))
        }
        _ if address.is_empty() => Err(StoreError::Invalid(
            "the chat address is empty; give the chat's id with --address".into(),
        )),
        _ => Ok(address.to_string()),
    }
}

/// Makes `channel`/`address` the team chat, replacing any earlier one, and brings forward the
/// posts that were waiting for it so they go out at once rather than at the next poll.
pub async fn bind(
    pool: &PgPool,
    channel: ChannelKind,
    address: &str,
    by: Option<StaffId>,
    now: DateTime<Utc>,
) -> Result<TeamChat, StoreError> {
    let mut tx = pool.begin().await?;
    let chat = bind_in(&mut tx, channel, address, by, now).await?;
    tx.commit().await?;
    Ok(chat)
}

/// [`bind`] inside the caller's transaction, for a binding that must happen together with
/// something else (using up a one-time code).
pub async fn bind_in(
    conn: &mut PgConnection,
    channel: ChannelKind,
    address: &str,
    by: Option<StaffId>,
    now: DateTime<Utc>,
) -> Result<TeamChat, StoreError> {
    let address = check(channel, address)?;
    sqlx::query!(
        "insert into team_chat (id, channel, address, bound_at, bound_by)
         values (true, $1, $2, $3, $4)
         on conflict (id) do update
            set channel = excluded.channel, address = excluded.address,
                bound_at = excluded.bound_at, bound_by = excluded.bound_by",
        channel.as_str(),
        address,
        now,
        by.map(|s| s.0),
    )
    .execute(&mut *conn)
    .await?;
    bring_waiting_posts_forward(conn, now).await?;
    Ok(TeamChat {
        channel,
        address,
        bound_at: now,
        bound_by: by,
    })
}

/// Follows a Telegram group upgraded to a supergroup, which gets a new chat id: the team chat
/// moves along when it was the old group. Returns whether it was.
pub async fn follow_migration(
    pool: &PgPool,
    old_chat_id: i64,
    new_chat_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let moved = sqlx::query!(
        "update team_chat set address = $2
          where channel = 'telegram' and address = $1",
        old_chat_id.to_string(),
        new_chat_id.to_string(),
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    if moved {
        // A post refused with "the group moved" waits for a retry; it can go now.
        bring_waiting_posts_forward(&mut tx, now).await?;
    }
    tx.commit().await?;
    Ok(moved)
}

/// Posts for the team chat that wait for a later try become due at `now`. The queue's trigger
/// announces them, which wakes the staff post dispatcher.
async fn bring_waiting_posts_forward(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query!(
        "update staff_posts p set next_attempt_at = $1, updated_at = $1
          where p.status = 'planned' and p.delivery = 'now' and p.next_attempt_at > $1
            and (p.staff_id is null
                 or exists (select 1 from staff s
                             where s.id = p.staff_id and s.telegram_user_id is null))",
        now,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Posts that can only go to the team chat and have not gone yet.
pub async fn waiting_posts(db: impl PgExecutor<'_>) -> Result<i64, StoreError> {
    let count = sqlx::query_scalar!(
        r#"select count(*) as "count!" from staff_posts p
            left join staff s on s.id = p.staff_id
           where p.status = 'planned' and p.delivery = 'now' and p.contact_id is null
             and (p.staff_id is null or s.telegram_user_id is null)"#
    )
    .fetch_one(db)
    .await?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_telegram_team_chat_needs_a_numeric_id() {
        assert_eq!(
            check(ChannelKind::Telegram, " -1001234567890 ").unwrap(),
            "-1001234567890"
        );
        let err = check(ChannelKind::Telegram, "@cs_team").unwrap_err();
        assert!(err.to_string().contains("numeric id"), "{err}");
    }

    #[test]
    fn whatsapp_and_empty_addresses_are_refused_with_what_to_do() {
        let err = check(ChannelKind::Whatsapp, "+77010000000").unwrap_err();
        assert!(err.to_string().contains("--channel telegram"), "{err}");
        let err = check(ChannelKind::Simulated, "  ").unwrap_err();
        assert!(err.to_string().contains("--address"), "{err}");
    }
}
