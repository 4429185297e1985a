//! Changing a contact: name, role, address (checked for its channel, as when added), time zone
//! and language. The channel stays: a contact moving to another channel is a new contact.

use sqlx::PgPool;

use super::contacts::{Contact, get, parse_address};
use super::{StoreError, parse_locale, parse_time_zone, unique_violation};
use crate::domain::{ContactId, ContactRole};

/// A partial change: `None` leaves a field as it is; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct ContactUpdate {
    pub name: Option<String>,
    pub role: Option<ContactRole>,
    pub address: Option<String>,
    pub time_zone: Option<Option<String>>,
    pub locale: Option<Option<String>>,
}

/// Applies `change` to a current contact. A new address is a new person to the channel: the
/// 24-hour window and any unreachable mark of the old one are dropped.
pub async fn update(
    pool: &PgPool,
    id: ContactId,
    change: &ContactUpdate,
) -> Result<Contact, StoreError> {
    let current = get(pool, id).await?.ok_or_else(|| StoreError::NotFound {
        what: "contact",
        name: id.to_string(),
        hint: "'touchbot contact list --account A' shows the account's contacts",
    })?;
    let name = match &change.name {
        Some(n) if n.trim().is_empty() => {
            return Err(StoreError::field("name", "the contact name is empty"));
        }
        Some(n) => n.trim().to_string(),
        None => current.name.clone(),
    };
    let address = match &change.address {
        Some(a) => Some(parse_address(current.channel, a)?),
        None => current.address.clone(),
    };
    let moved = address != current.address;
    let tz = match &change.time_zone {
        Some(Some(t)) => Some(parse_time_zone(t)?.name().to_string()),
        Some(None) => None,
        None => current.time_zone.map(|t| t.name().to_string()),
    };
    let locale = match &change.locale {
        Some(Some(l)) => Some(parse_locale(l)?),
        Some(None) => None,
        None => current.locale.clone(),
    };
    sqlx::query!(
        r#"update contacts set name = $2, role = $3, address = $4, time_zone = $5, locale = $6,
                  last_inbound_at = case when $7 then null else last_inbound_at end,
                  unreachable_at = case when $7 then null else unreachable_at end,
                  unreachable_reason = case when $7 then null else unreachable_reason end
           where id = $1 and removed_at is null"#,
        id.0,
        name,
        change.role.unwrap_or(current.role).as_str(),
        address,
        tz,
        locale,
        moved,
    )
    .execute(pool)
    .await
    .map_err(|e| {
        unique_violation(e, || {
            format!(
                "another contact already uses {} address {}",
                current.channel,
                address.clone().unwrap_or_default()
            )
        })
    })?;
    get(pool, id).await?.ok_or(StoreError::Corrupt(
        "a contact vanished right after it was changed".into(),
    ))
}
