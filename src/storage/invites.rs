//! Join links for Telegram contacts: a random code that names one contact, works once and
//! expires. Telegram hands it back as `/start <code>` from the chat that opened the link, and
//! redeeming it binds that chat to the contact.
//!
//! Decisions: a new link for a contact revokes the older unused ones (a link sent to the wrong
//! person is fixed by sending a new one); a chat already bound to another contact is not moved;
//! opening one's own used link again from the same chat is answered as "already connected".
//! Codes are bearer secrets: logs name the invite's id, never the code.

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;
use sqlx::PgPool;

use super::StoreError;
use crate::domain::{AccountId, ContactId};

/// 24 letters and digits: about 143 bits, well inside Telegram's 64-character start payload.
const CODE_LEN: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub id: i64,
    pub code: String,
    pub contact_id: ContactId,
    pub expires_at: DateTime<Utc>,
}

/// A join link ready to hand to a contact.
#[derive(Debug, Clone)]
pub struct JoinLink {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// Issues a fresh join link for a Telegram contact (older unused ones stop working), or says
/// what is missing to make one: the bot's username, or a Telegram contact.
pub async fn join_link(
    pool: &PgPool,
    telegram: &crate::telegram::TelegramSettings,
    contact: &super::contacts::Contact,
    now: DateTime<Utc>,
) -> Result<JoinLink, StoreError> {
    if telegram.bot_username.is_none() {
        return Err(StoreError::Invalid(no_username(contact)));
    }
    if contact.channel != crate::domain::ChannelKind::Telegram {
        return Err(StoreError::Invalid(format!(
            "{} is reached on {}, not Telegram; join links are for Telegram contacts",
            contact.name, contact.channel
        )));
    }
    let invite = issue(pool, contact.id, telegram.invite_days, now).await?;
    Ok(JoinLink {
        url: telegram.join_link(&invite.code).unwrap_or_default(),
        expires_at: invite.expires_at,
    })
}

/// Why a Telegram contact has no join link yet, and what to set.
pub fn no_username(contact: &super::contacts::Contact) -> String {
    format!(
        "{} joins on Telegram through a personal link, which needs the bot's username: set \
         [telegram] bot_username in the configuration (or TOUCHBOT_TELEGRAM__BOT_USERNAME), then \
         run 'touchbot contact invite --account {} {}'",
        contact.name, contact.account_id, contact.id
    )
}

/// What opening a join link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The chat now belongs to the contact.
    Joined {
        contact_id: ContactId,
        account_id: AccountId,
    },
    /// This chat had already joined with this code: nothing changed.
    AlreadyJoined {
        contact_id: ContactId,
        account_id: AccountId,
    },
    /// No such code, or its contact was removed or is not on Telegram.
    Unknown,
    /// Used by another chat, or replaced by a newer link.
    NoLongerValid,
    Expired,
    /// The chat is bound to another contact already; it stays so.
    ChatTaken,
}

/// A fresh random code of the allowed alphabet.
pub fn new_code() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(CODE_LEN)
        .map(char::from)
        .collect()
}

/// Whether `code` could be a start payload at all: 1-64 of A-Za-z0-9_-.
pub fn is_well_formed(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Issues a new join link for a Telegram contact, revoking its older unused ones.
pub async fn issue(
    pool: &PgPool,
    contact: ContactId,
    valid_days: u32,
    now: DateTime<Utc>,
) -> Result<Invite, StoreError> {
    let mut tx = pool.begin().await?;
    let channel = sqlx::query_scalar!(
        "select channel from contacts where id = $1 and removed_at is null for update",
        contact.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    match channel.as_deref() {
        None => {
            return Err(StoreError::NotFound {
                what: "contact",
                name: contact.to_string(),
                hint: "'touchbot contact list --account A' shows the account's contacts",
            });
        }
        Some("telegram") => {}
        Some(other) => {
            return Err(StoreError::Invalid(format!(
                "contact {contact} is reached on {other}, not Telegram; join links are for Telegram contacts"
            )));
        }
    }
    sqlx::query!(
        "update contact_invites set revoked_at = $2
          where contact_id = $1 and used_at is null and revoked_at is null",
        contact.0,
        now
    )
    .execute(&mut *tx)
    .await?;
    let code = new_code();
    let expires_at = now + TimeDelta::days(i64::from(valid_days.max(1)));
    let id = sqlx::query_scalar!(
        "insert into contact_invites (code, contact_id, created_at, expires_at)
         values ($1, $2, $3, $4) returning id",
        code,
        contact.0,
        now,
        expires_at
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Invite {
        id,
        code,
        contact_id: contact,
        expires_at,
    })
}

/// Binds `chat` to the contact the code names, if the code is still good. On joining, the
/// contact becomes reachable (a contact who blocked the bot may come back this way), its join
/// time is kept, and a welcome that was passed over while they had no chat is put back in the
/// plan; the caller re-plans the account so it is timed like any other touch.
pub async fn redeem(
    pool: &PgPool,
    code: &str,
    chat: &str,
    now: DateTime<Utc>,
) -> Result<Redeemed, StoreError> {
    if !is_well_formed(code) {
        return Ok(Redeemed::Unknown);
    }
    let mut tx = pool.begin().await?;
    let Some(invite) = sqlx::query!(
        r#"select i.id, i.contact_id, i.expires_at, i.used_by_chat, i.revoked_at,
                  c.account_id, c.address, c.channel, c.removed_at
             from contact_invites i join contacts c on c.id = i.contact_id
            where i.code = $1
            for update of i, c"#,
        code
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Redeemed::Unknown);
    };
    let contact_id = ContactId(invite.contact_id);
    let account_id = AccountId(invite.account_id);
    if invite.removed_at.is_some() || invite.channel != "telegram" {
        return Ok(Redeemed::Unknown);
    }
    if let Some(used_by) = &invite.used_by_chat {
        let same = used_by == chat && invite.address.as_deref() == Some(chat);
        return Ok(if same {
            Redeemed::AlreadyJoined {
                contact_id,
                account_id,
            }
        } else {
            Redeemed::NoLongerValid
        });
    }
    if invite.revoked_at.is_some() {
        return Ok(Redeemed::NoLongerValid);
    }
    if invite.expires_at <= now {
        return Ok(Redeemed::Expired);
    }
    let taken = sqlx::query_scalar!(
        r#"select exists(select 1 from contacts
                          where channel = 'telegram' and address = $1 and removed_at is null
                            and id <> $2) as "taken!""#,
        chat,
        contact_id.0
    )
    .fetch_one(&mut *tx)
    .await?;
    if taken {
        return Ok(Redeemed::ChatTaken);
    }
    sqlx::query!(
        "update contacts
            set address = $2, joined_at = coalesce(joined_at, $3),
                unreachable_at = null, unreachable_reason = null
          where id = $1",
        contact_id.0,
        chat,
        now
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "update contact_invites set used_at = $2, used_by_chat = $3 where id = $1",
        invite.id,
        now,
        chat
    )
    .execute(&mut *tx)
    .await?;
    // The calendar passed the welcome over while there was no chat to send it to; only a
    // planned touch is re-timed by the next re-plan.
    sqlx::query!(
        "update touches set status = 'planned', status_reason = null, updated_at = $2
          where contact_id = $1 and kind = 'welcome' and status = 'skipped'",
        contact_id.0,
        now
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(invite_id = invite.id, contact_id = %contact_id, "a contact joined on Telegram");
    Ok(Redeemed::Joined {
        contact_id,
        account_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_code_is_a_valid_start_payload_and_never_the_same_twice() {
        let a = new_code();
        let b = new_code();
        assert_eq!(a.len(), CODE_LEN);
        assert!(is_well_formed(&a));
        assert_ne!(a, b);
    }

    #[test]
    fn only_start_payload_characters_are_well_formed() {
        assert!(is_well_formed("Ab0_-z"));
        assert!(!is_well_formed(""));
        assert!(!is_well_formed("has space"));
        assert!(!is_well_formed("ünicode"));
        assert!(!is_well_formed(&"a".repeat(65)));
    }
}
