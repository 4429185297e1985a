//! Binding the team's group chat without typing its id: `touchbot team bind-code` prints a
//! one-time code, and a staff member sends `/bind <code>` in the group. A code works once and
//! for an hour; a used, expired or unknown code, or a sender who is not on the staff, binds
//! nothing and gets a polite answer saying what to do.

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use sqlx::PgPool;

use super::identity::{log_refused, who};
use crate::domain::ChannelKind;
use crate::storage::team_chat;

/// How long a printed code works.
pub const CODE_VALID_FOR: TimeDelta = TimeDelta::hours(1);
/// Letters and digits that cannot be mistaken for one another when read aloud or retyped.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
const CODE_LENGTH: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindCode {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

impl BindCode {
    /// What to send in the group.
    pub fn command(&self) -> String {
        format!("/bind {}", self.code)
    }
}

/// Makes a new code, valid for [`CODE_VALID_FOR`] from `now`.
pub async fn new_code(pool: &PgPool, now: DateTime<Utc>) -> Result<BindCode, sqlx::Error> {
    let code: String = {
        let mut rng = rand::rng();
        (0..CODE_LENGTH)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect()
    };
    let expires_at = now + CODE_VALID_FOR;
    sqlx::query!(
        "insert into team_bind_codes (code, created_at, expires_at) values ($1, $2, $3)",
        code,
        now,
        expires_at
    )
    .execute(pool)
    .await?;
    Ok(BindCode { code, expires_at })
}

/// What came of a `/bind`: whether the chat is now the team chat, and the answer to post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindOutcome {
    pub bound: bool,
    pub text: String,
}

fn refused(text: impl Into<String>) -> BindOutcome {
    BindOutcome {
        bound: false,
        text: text.into(),
    }
}

const NEW_CODE: &str =
    "Print a new one with: touchbot team bind-code, and send /bind with it here.";

/// `/bind <code>` sent in the Telegram chat `chat_id` by the user `by`.
pub async fn bind(
    pool: &PgPool,
    code: &str,
    chat_id: i64,
    by: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<BindOutcome> {
    // Strangers learn nothing, not even whether the code is good.
    let Some(staff) = who(pool, by).await? else {
        log_refused(by, "/bind");
        return Ok(refused(
            "Sorry, only a member of the customer-success team can bind this chat. Ask an \
             admin to register your Telegram account with the bot first.",
        ));
    };
    let code = code.trim().to_lowercase();
    if code.is_empty() {
        return Ok(refused(format!(
            "Send the code after /bind, e.g. /bind k7m2x9qpta. {NEW_CODE}"
        )));
    }
    // Telegram users have positive ids, groups negative ones: the team chat is a group.
    if chat_id > 0 {
        return Ok(refused(
            "Send /bind in the team's group chat, not in a private chat with me. The code \
             still works there.",
        ));
    }
    let mut tx = pool.begin().await?;
    let taken = sqlx::query_scalar!(
        "update team_bind_codes set used_at = $2, used_by = $3, used_in_chat = $4
          where code = $1 and used_at is null and expires_at > $2
          returning code",
        code,
        now,
        staff.id.0,
        chat_id.to_string()
    )
    .fetch_optional(&mut *tx)
    .await?;
    if taken.is_none() {
        let known = sqlx::query!(
            "select used_at, expires_at from team_bind_codes where code = $1",
            code
        )
        .fetch_optional(&mut *tx)
        .await?;
        let text = match known {
            None => format!("I don't know that code; check it was copied whole. {NEW_CODE}"),
            Some(k) if k.used_at.is_some() => {
                format!("That code has been used already; each code binds once. {NEW_CODE}")
            }
            Some(_) => format!("That code has expired; codes work for an hour. {NEW_CODE}"),
        };
        return Ok(refused(text));
    }
    team_chat::bind_in(
        &mut tx,
        ChannelKind::Telegram,
        &chat_id.to_string(),
        Some(staff.id),
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(staff_id = %staff.id, chat_id, "team chat bound by code");
    Ok(BindOutcome {
        bound: true,
        text: "Done: this is now the team chat. Escalation cards and posts for the team will \
               come here."
            .into(),
    })
}

/// Follows a group upgraded to a supergroup (Telegram gives it a new id): the team chat moves
/// with it. Returns whether the old group was the team chat.
pub async fn follow_migration(
    pool: &PgPool,
    old_chat_id: i64,
    new_chat_id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let moved = team_chat::follow_migration(pool, old_chat_id, new_chat_id, now).await?;
    if moved {
        tracing::info!(
            old_chat_id,
            new_chat_id,
            "the team chat moved to its supergroup"
        );
    }
    Ok(moved)
}
