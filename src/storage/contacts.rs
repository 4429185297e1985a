//! Client contacts: several per account, each reachable on one channel.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::{PgExecutor, PgPool};

use super::{StoreError, parse_locale, parse_time_zone, stored, unique_violation};
use crate::domain::{AccountId, ChannelKind, ContactId, ContactRole, MessageCategory};

#[derive(Debug, Clone, Serialize)]
pub struct Contact {
    pub id: ContactId,
    pub account_id: AccountId,
    pub name: String,
    pub role: ContactRole,
    pub channel: ChannelKind,
    pub address: Option<String>,
    pub time_zone: Option<Tz>,
    pub locale: Option<String>,
    pub unreachable_reason: Option<String>,
    pub opted_out: Vec<MessageCategory>,
    pub created_at: DateTime<Utc>,
    /// When a Telegram contact opened their join link; None for one given an address directly.
    pub joined_at: Option<DateTime<Utc>>,
}

impl Contact {
    /// The day the calendar counts this contact from: when they joined, else when added.
    pub fn added_at(&self) -> DateTime<Utc> {
        self.joined_at.unwrap_or(self.created_at)
    }
}

#[derive(Debug, Clone)]
pub struct NewContact {
    pub account_id: AccountId,
    pub name: String,
    pub role: ContactRole,
    pub channel: ChannelKind,
    pub address: Option<String>,
    pub time_zone: Option<String>,
    pub locale: Option<String>,
}

/// Normalises an address for its channel, or says what a valid one looks like.
pub fn parse_address(channel: ChannelKind, raw: &str) -> Result<String, StoreError> {
    let raw = raw.trim();
    match channel {
        ChannelKind::Whatsapp => {
            crate::whatsapp::phone::normalise_e164(raw).map_err(|e| StoreError::field("address", e))
        }
        ChannelKind::Telegram => match raw.parse::<i64>() {
            Ok(id) if id != 0 => Ok(id.to_string()),
            _ => Err(StoreError::field(
                "address",
                format!(
                    "'{raw}' is not a Telegram chat id (a number); leave the address out and send the contact their join link instead"
                ),
            )),
        },
        ChannelKind::Simulated => {
            if raw.is_empty() {
                Err(StoreError::field(
                    "address",
                    "the simulated address is empty",
                ))
            } else {
                Ok(raw.to_string())
            }
        }
    }
}

struct Row {
    id: i64,
    account_id: i64,
    name: String,
    role: String,
    channel: String,
    address: Option<String>,
    time_zone: Option<String>,
    locale: Option<String>,
    unreachable_reason: Option<String>,
    opted_out: Option<Vec<String>>,
    created_at: DateTime<Utc>,
    joined_at: Option<DateTime<Utc>>,
}

impl TryFrom<Row> for Contact {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(Contact {
            id: ContactId(r.id),
            account_id: AccountId(r.account_id),
            name: r.name,
            role: stored(&r.role)?,
            channel: stored(&r.channel)?,
            address: r.address,
            time_zone: r
                .time_zone
                .map(|t| {
                    t.parse()
                        .map_err(|_| StoreError::Corrupt(format!("time zone '{t}'")))
                })
                .transpose()?,
            locale: r.locale,
            unreachable_reason: r.unreachable_reason,
            opted_out: r
                .opted_out
                .unwrap_or_default()
                .iter()
                .map(|c| stored(c))
                .collect::<Result<_, _>>()?,
            created_at: r.created_at,
            joined_at: r.joined_at,
        })
    }
}

pub async fn add(
    pool: &PgPool,
    new: &NewContact,
    now: DateTime<Utc>,
) -> Result<Contact, StoreError> {
    let id = insert(pool, new, now).await?;
    get(pool, id).await?.ok_or(StoreError::Corrupt(
        "a contact vanished right after it was added".into(),
    ))
}

/// Checks and stores a new contact; takes any executor so that an import can add it inside
/// its row's transaction.
pub async fn insert(
    db: impl PgExecutor<'_>,
    new: &NewContact,
    now: DateTime<Utc>,
) -> Result<ContactId, StoreError> {
    let name = new.name.trim();
    if name.is_empty() {
        return Err(StoreError::field("name", "the contact name is empty"));
    }
    let address = new
        .address
        .as_deref()
        .map(|a| parse_address(new.channel, a))
        .transpose()?;
    if address.is_none() && new.channel != ChannelKind::Telegram {
        return Err(StoreError::field(
            "address",
            format!("a {} contact needs an address (--address)", new.channel),
        ));
    }
    let tz = new.time_zone.as_deref().map(parse_time_zone).transpose()?;
    let locale = new.locale.as_deref().map(parse_locale).transpose()?;
    let id = sqlx::query_scalar!(
        r#"insert into contacts (account_id, name, role, channel, address, time_zone, locale,
                                 created_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8) returning id"#,
        new.account_id.0,
        name,
        new.role.as_str(),
        new.channel.as_str(),
        address,
        tz.map(|t| t.name()),
        locale,
        now,
    )
    .fetch_one(db)
    .await
    .map_err(|e| {
        unique_violation(e, || {
            format!(
                "another contact already uses {} address {}",
                new.channel,
                address.clone().unwrap_or_default()
            )
        })
    })?;
    Ok(ContactId(id))
}

pub async fn get(pool: &PgPool, id: ContactId) -> Result<Option<Contact>, StoreError> {
    let row = sqlx::query_as!(
        Row,
        r#"select c.id, c.account_id, c.name, c.role, c.channel, c.address, c.time_zone, c.locale,
                  c.unreachable_reason, c.created_at, c.joined_at,
                  array(select category from contact_consents cc
                        where cc.contact_id = c.id and cc.opted_out order by category) as opted_out
           from contacts c where c.id = $1 and c.removed_at is null"#,
        id.0
    )
    .fetch_optional(pool)
    .await?;
    row.map(Contact::try_from).transpose()
}

/// The account's current contacts (removed ones are kept for history but not listed).
pub async fn list(pool: &PgPool, account: AccountId) -> Result<Vec<Contact>, StoreError> {
    list_many(pool, &[account.0]).await
}

/// The current contacts of all the accounts among `accounts`, by account, then id.
pub async fn list_many(pool: &PgPool, accounts: &[i64]) -> Result<Vec<Contact>, StoreError> {
    let (lo, hi) = crate::domain::id_bounds(accounts);
    let rows = sqlx::query_as!(
        Row,
        r#"select c.id, c.account_id, c.name, c.role, c.channel, c.address, c.time_zone, c.locale,
                  c.unreachable_reason, c.created_at, c.joined_at,
                  array(select category from contact_consents cc
                        where cc.contact_id = c.id and cc.opted_out order by category) as opted_out
           from contacts c
           where c.account_id = any($1) and c.account_id between $2 and $3
             and c.removed_at is null
           order by c.account_id, c.id"#,
        accounts,
        lo,
        hi
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(Contact::try_from).collect()
}

/// Finds one of the account's current contacts by id, by its exact name (any case), or by a
/// unique part of its name.
pub async fn find(pool: &PgPool, account: AccountId, key: &str) -> Result<Contact, StoreError> {
    let key = key.trim();
    let mut people = list(pool, account).await?;
    if let Ok(id) = key.parse::<i64>()
        && let Some(at) = people.iter().position(|c| c.id.0 == id)
    {
        return Ok(people.swap_remove(at));
    }
    let wanted = key.to_lowercase();
    if let Some(at) = people.iter().position(|c| c.name.to_lowercase() == wanted) {
        return Ok(people.swap_remove(at));
    }
    people.retain(|c| c.name.to_lowercase().contains(&wanted));
    match people.len() {
        0 => Err(StoreError::NotFound {
            what: "contact of this account",
            name: key.to_string(),
            hint: "'touchbot contact list --account A' shows the account's contacts",
        }),
        1 => Ok(people.remove(0)),
        _ => Err(StoreError::Ambiguous {
            what: "contact",
            name: key.to_string(),
            candidates: people
                .iter()
                .map(|c| format!("{} (id {})", c.name, c.id))
                .collect(),
        }),
    }
}

/// Removes a contact from the account: nothing more is sent to them, their history stays.
pub async fn remove(
    pool: &PgPool,
    account: AccountId,
    id: ContactId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query!(
        "update contacts set removed_at = $3 where id = $1 and account_id = $2 and removed_at is null",
        id.0,
        account.0,
        now
    )
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: "contact",
            name: id.to_string(),
            hint: "'touchbot contact list --account A' shows the account's contacts",
        });
    }
    sqlx::query!(
        r#"update touches set status = 'cancelled', status_reason = 'contact removed', updated_at = $2
           where contact_id = $1 and status = 'planned'"#,
        id.0,
        now
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Marks a contact reachable again after they wrote to the bot themselves (a user who had
/// blocked it and came back). True when they had been marked unreachable.
pub async fn mark_reachable(pool: &PgPool, id: ContactId) -> Result<bool, StoreError> {
    let done = sqlx::query!(
        "update contacts set unreachable_at = null, unreachable_reason = null
          where id = $1 and unreachable_at is not null",
        id.0
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Sets the language a contact is written to in.
pub async fn set_locale(pool: &PgPool, id: ContactId, locale: &str) -> Result<(), StoreError> {
    let locale = parse_locale(locale)?;
    sqlx::query!(
        "update contacts set locale = $2 where id = $1",
        id.0,
        locale
    )
    .execute(pool)
    .await?;
    Ok(())
}
