//! What a contact agreed to receive. `contact_consents` holds the current state per category
//! (no row: the default, receive); `consent_changes` keeps every change with its time and
//! source, never overwritten. Both are written here only, in the caller's transaction, so the
//! state and its history cannot disagree.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::StoreError;
use crate::domain::{ContactId, MessageCategory};

/// One change of one category, as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentChange {
    pub category: String,
    pub opted_out: bool,
    pub changed_at: DateTime<Utc>,
    /// Where the change came from: `reply:<channel>` for words the contact sent on that
    /// channel (`reply:whatsapp`), or the tool that made it.
    pub source: String,
}

/// Sets `category` to `opted_out` for the contact at `at`, and records the change. Saying
/// the same thing again changes nothing and adds no history: the time of the real change
/// stands. Returns whether anything changed.
pub async fn set(
    conn: &mut PgConnection,
    contact: ContactId,
    category: MessageCategory,
    opted_out: bool,
    at: DateTime<Utc>,
    source: &str,
) -> Result<bool, sqlx::Error> {
    // Opting in where no row exists is no change (receiving is the default), so only an
    // opt-out inserts. The row lock taken by the upsert or update makes a concurrent change of
    // the same category wait, then see the new state and record nothing twice.
    let changed = if opted_out {
        sqlx::query_scalar!(
            r#"insert into contact_consents (contact_id, category, opted_out, changed_at, source)
               values ($1, $2, true, $3, $4)
               on conflict (contact_id, category) do update
                   set opted_out = true, changed_at = excluded.changed_at, source = excluded.source
                   where not contact_consents.opted_out
               returning true as "changed!""#,
            contact.0,
            category.as_str(),
            at,
            source,
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_scalar!(
            r#"update contact_consents set opted_out = false, changed_at = $3, source = $4
               where contact_id = $1 and category = $2 and opted_out
               returning true as "changed!""#,
            contact.0,
            category.as_str(),
            at,
            source,
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    if changed.is_none() {
        return Ok(false);
    }
    sqlx::query!(
        "insert into consent_changes (contact_id, category, opted_out, changed_at, source)
         values ($1, $2, $3, $4, $5)",
        contact.0,
        category.as_str(),
        opted_out,
        at,
        source,
    )
    .execute(conn)
    .await?;
    Ok(true)
}

/// Every change of the contact's consent, oldest first.
pub async fn history(pool: &PgPool, contact: ContactId) -> Result<Vec<ConsentChange>, StoreError> {
    Ok(sqlx::query_as!(
        ConsentChange,
        "select category, opted_out, changed_at, source from consent_changes
         where contact_id = $1 order by changed_at, id",
        contact.0
    )
    .fetch_all(pool)
    .await?)
}

/// The categories a contact can be asked about, in the order they are shown.
pub const CATEGORIES: [MessageCategory; 4] = [
    MessageCategory::Survey,
    MessageCategory::Checkin,
    MessageCategory::Renewal,
    MessageCategory::Service,
];
