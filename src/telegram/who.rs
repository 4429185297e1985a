//! Who wrote: a client contact (by their chat), a staff member (by their Telegram user id), or
//! someone the bot does not know. Resolved once per update, in the handler tree.

use sqlx::PgPool;
use teloxide::types::{ChatId, User};

use crate::domain::{ChannelKind, StaffId};
pub use crate::inbound::ContactRef;
use crate::inbound::contact_by_address;

/// A member of the CS team writing to the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRef {
    pub id: StaffId,
    pub name: String,
    pub locale: String,
}

/// Both, when a staff member is also someone's contact (a CSM trying the bot out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    pub contact: Option<ContactRef>,
    pub staff: Option<StaffRef>,
}

/// The contact whose Telegram chat this is.
pub async fn contact_by_chat(pool: &PgPool, chat: ChatId) -> sqlx::Result<Option<ContactRef>> {
    contact_by_address(pool, ChannelKind::Telegram, &chat.0.to_string()).await
}

pub async fn staff_by_user(pool: &PgPool, user: &User) -> sqlx::Result<Option<StaffRef>> {
    let Ok(id) = i64::try_from(user.id.0) else {
        return Ok(None);
    };
    let row = sqlx::query!(
        "select id, name, locale from staff where telegram_user_id = $1",
        id
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| StaffRef {
        id: StaffId(r.id),
        name: r.name,
        locale: r.locale,
    }))
}

/// The language to answer a stranger in: theirs if we speak it, else the fallback.
pub fn stranger_locale(user: Option<&User>) -> &'static str {
    match user.and_then(|u| u.language_code.as_deref()) {
        Some(code) if code.to_ascii_lowercase().starts_with("ru") => "ru",
        _ => crate::messages::FALLBACK_LOCALE,
    }
}
