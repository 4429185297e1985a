//! Who wrote: a client contact (by their chat), a staff member (by their Telegram user id), or
//! someone the bot does not know. Resolved once per update, in the handler tree.

use sqlx::PgPool;
use teloxide::types::{ChatId, User};

use crate::domain::{AccountId, ContactId, StaffId};
use crate::messages::Vars;
use crate::outbound::render::fallback_csm;

/// A client contact, with what their answers are rendered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRef {
    pub id: ContactId,
    pub account_id: AccountId,
    pub first_name: String,
    pub account_name: String,
    pub csm_name: Option<String>,
    /// The contact's own language, else the account's.
    pub locale: String,
    pub unreachable: bool,
}

impl ContactRef {
    /// The variables every client text may use; an account without a CSM is signed by the team.
    pub fn vars(&self) -> Vars {
        Vars::new()
            .contact(self.first_name.clone())
            .account(self.account_name.clone())
            .csm(
                self.csm_name
                    .clone()
                    .unwrap_or_else(|| fallback_csm(&self.locale).to_string()),
            )
    }
}

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
    let row = sqlx::query!(
        r#"select c.id, c.account_id, c.name, coalesce(c.locale, a.locale) as "locale!",
                  a.name as account_name, s.name as "csm_name?",
                  c.unreachable_at is not null as "unreachable!"
             from contacts c
             join accounts a on a.id = c.account_id
             left join staff s on s.id = a.csm_id
            where c.channel = 'telegram' and c.address = $1 and c.removed_at is null"#,
        chat.0.to_string()
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| ContactRef {
        id: ContactId(r.id),
        account_id: AccountId(r.account_id),
        first_name: r
            .name
            .split_whitespace()
            .next()
            .unwrap_or(&r.name)
            .to_string(),
        account_name: r.account_name,
        csm_name: r.csm_name,
        locale: r.locale,
        unreachable: r.unreachable,
    }))
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
