//! Who wrote, as far as the conversation cares: a client contact found by their address on a
//! channel, with what the answers to them are rendered with. Any channel looks contacts up
//! here, so a Telegram chat and a WhatsApp number lead to the same kind of contact.

use std::collections::HashMap;

use sqlx::PgPool;

use crate::domain::{AccountId, ChannelKind, ContactId};
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

/// The contact (not removed) who has `address` on `channel`: a Telegram chat id, an E.164
/// number, a simulated handle.
pub async fn contact_by_address(
    pool: &PgPool,
    channel: ChannelKind,
    address: &str,
) -> sqlx::Result<Option<ContactRef>> {
    let mut found = contacts_by_address(pool, channel, &[address]).await?;
    Ok(found.remove(address))
}

/// The contacts (not removed) who have these addresses on `channel`, by address, in one
/// statement; an address nobody has is left out.
pub async fn contacts_by_address(
    pool: &PgPool,
    channel: ChannelKind,
    addresses: &[&str],
) -> sqlx::Result<HashMap<String, ContactRef>> {
    let rows = sqlx::query!(
        r#"select c.id, c.account_id, c.name, c.address as "address!",
                  coalesce(c.locale, a.locale) as "locale!",
                  a.name as account_name, s.name as "csm_name?",
                  c.unreachable_at is not null as "unreachable!"
             from contacts c
             join accounts a on a.id = c.account_id
             left join staff s on s.id = a.csm_id
            where c.channel = $1 and c.address = any($2) and c.removed_at is null"#,
        channel.as_str(),
        addresses as &[&str]
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let contact = ContactRef {
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
            };
            (r.address, contact)
        })
        .collect())
}
