//! Erasing a contact at their request (the right to be forgotten).
//!
//! Table by table (see the migrations): the contact row stays as a tombstone (name replaced,
//! address, time zone, language and unreachable reason cleared, `erased_at` set) so counts
//! and foreign keys hold, and it is removed so nothing is planned or sent to it again. Rows
//! that are wholly about the person go: join invites (code and chat id), consent state and
//! history, posts relaying their words or written to them, forwards of their words still to
//! do, raw inbound payloads (WhatsApp events, dead letters) and stranger records carrying
//! their address or name. Their replies keep kind, score and choice (anonymous aggregates)
//! but lose their text. Their touches keep their outcome; those still to go are cancelled.
//! Health history, signals and escalations stay, and a final sweep of every text column
//! replaces any remaining quotation of their name, address or words (see `sweep`).

pub mod redact;
mod sweep;

use anyhow::Context as _;
use chrono::{DateTime, SubsecRound as _, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;

use super::StoreError;
use crate::domain::ContactId;
use redact::Needles;

/// What one erasure removed or changed, per table, for the operator and the API.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErasureReport {
    #[schema(value_type = i64)]
    pub contact_id: ContactId,
    pub erased_at: DateTime<Utc>,
    /// True when the contact had been erased before: nothing was done this time.
    pub already_erased: bool,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Change {
    pub table: String,
    /// deleted, blanked (text emptied), cancelled, ended, tombstoned (rows), or
    /// "redacted (fields)": values in which a quotation was replaced
    #[schema(value_type = String)]
    pub action: &'static str,
    pub rows: u64,
}

impl ErasureReport {
    fn add(&mut self, table: &str, action: &'static str, rows: u64) {
        if rows > 0 {
            self.changes.push(Change {
                table: table.to_string(),
                action,
                rows,
            });
        }
    }
}

/// Erases a contact now. See the module documentation for what happens to each table.
pub async fn erase_contact(pool: &PgPool, id: ContactId) -> Result<ErasureReport, StoreError> {
    // To the microsecond PostgreSQL keeps, so the report says the time a repeat will read back.
    erase_contact_at(pool, id, Utc::now().trunc_subsecs(6)).await
}

/// Erases a contact as of `now`, in one transaction: a crash leaves it untouched or erased.
#[tracing::instrument(skip(pool), fields(contact = id.0))]
pub async fn erase_contact_at(
    pool: &PgPool,
    id: ContactId,
    now: DateTime<Utc>,
) -> Result<ErasureReport, StoreError> {
    let mut tx = pool.begin().await?;
    let person = sqlx::query!(
        "select name, channel, address, erased_at from contacts where id = $1 for update",
        id.0
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::NotFound {
        what: "contact",
        name: id.to_string(),
        hint: "'touchbot contact list --account A' shows the account's contacts and their ids",
    })?;
    let mut report = ErasureReport {
        contact_id: id,
        erased_at: person.erased_at.unwrap_or(now),
        already_erased: person.erased_at.is_some(),
        changes: Vec::new(),
    };
    if report.already_erased {
        return Ok(report);
    }
    let addresses: Vec<String> = person
        .address
        .iter()
        .flat_map(|a| [a.clone(), a.trim_start_matches('+').to_string()])
        .collect();
    let needles = needles(&mut tx, id, &person.name, &person.channel, &addresses).await?;
    delete_owned_rows(&mut tx, id, &person.channel, &addresses, &mut report).await?;
    delete_raw_payloads(&mut tx, &needles, &mut report).await?;
    keep_aggregates(&mut tx, id, now, &mut report).await?;
    let token = format!("[erased #{id}]");
    for (table, rows) in sweep::sweep(&mut tx, &needles, &token)
        .await
        .map_err(|e| StoreError::Corrupt(format!("{e:#}")))?
    {
        report.add(&table, "redacted (fields)", rows);
    }
    tx.commit().await?;
    tracing::info!(changes = report.changes.len(), "contact erased");
    Ok(report)
}

/// Everything that identifies the person in free text: name, address (a phone number also
/// without its '+', as WhatsApp writes it), their words, and the profile name WhatsApp gave.
async fn needles(
    tx: &mut PgConnection,
    id: ContactId,
    name: &str,
    channel: &str,
    addresses: &[String],
) -> Result<Needles, StoreError> {
    let words = sqlx::query!(
        "select body, comment from replies where contact_id = $1",
        id.0
    )
    .fetch_all(&mut *tx)
    .await?;
    let profile = sqlx::query_scalar!(
        "select display_name from strangers where channel = $1 and address = any($2)",
        channel,
        addresses
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(Needles::new(
        [name.to_string()]
            .into_iter()
            .chain(addresses.iter().cloned())
            .chain(
                words
                    .into_iter()
                    .flat_map(|w| [Some(w.body), w.comment])
                    .flatten(),
            )
            .chain(profile.into_iter().flatten()),
    ))
}

async fn delete_owned_rows(
    tx: &mut PgConnection,
    id: ContactId,
    channel: &str,
    addresses: &[String],
    report: &mut ErasureReport,
) -> Result<(), StoreError> {
    let c = id.0;
    let n = sqlx::query!("delete from contact_invites where contact_id = $1", c)
        .execute(&mut *tx)
        .await?;
    report.add("contact_invites", "deleted", n.rows_affected());
    let n = sqlx::query!("delete from contact_consents where contact_id = $1", c)
        .execute(&mut *tx)
        .await?;
    report.add("contact_consents", "deleted", n.rows_affected());
    let n = sqlx::query!("delete from consent_changes where contact_id = $1", c)
        .execute(&mut *tx)
        .await?;
    report.add("consent_changes", "deleted", n.rows_affected());
    // Their words relayed to staff, and what staff or the bot wrote to them; the relay links
    // go with the posts.
    let n = sqlx::query!(
        "delete from staff_posts
          where contact_id = $1
             or id in (select post_id from takeover_relays where contact_id = $1)",
        c
    )
    .execute(&mut *tx)
    .await?;
    report.add("staff_posts", "deleted", n.rows_affected());
    let n = sqlx::query!(
        "delete from inbound_followups where contact_id = $1 and step = 'forward' and done_at is null",
        c
    )
    .execute(&mut *tx)
    .await?;
    report.add("inbound_followups", "deleted", n.rows_affected());
    let n = sqlx::query!(
        "delete from strangers where channel = $1 and address = any($2)",
        channel,
        addresses
    )
    .execute(&mut *tx)
    .await?;
    report.add("strangers", "deleted", n.rows_affected());
    Ok(())
}

/// Raw inbound payloads that mention the person are theirs whole: they are deleted, not
/// redacted (a payload is evidence of what arrived, and a half-payload is evidence of nothing).
async fn delete_raw_payloads(
    tx: &mut PgConnection,
    needles: &Needles,
    report: &mut ErasureReport,
) -> Result<(), StoreError> {
    let list = needles.as_slice();
    let events = sqlx::query!(
        "select id, payload::text as \"payload!\" from whatsapp_events
          where exists (select 1 from unnest($1::text[]) n where strpos(payload::text, n) > 0)",
        list
    )
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<i64> = events
        .into_iter()
        .filter(|e| needles.found_in(&e.payload))
        .map(|e| e.id)
        .collect();
    let n = sqlx::query!("delete from whatsapp_events where id = any($1)", &ids)
        .execute(&mut *tx)
        .await?;
    report.add("whatsapp_events", "deleted", n.rows_affected());
    let letters = sqlx::query!(
        "select id, payload::text as \"payload!\" from inbound_dead_letters
          where exists (select 1 from unnest($1::text[]) n where strpos(payload::text, n) > 0)",
        list
    )
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<i64> = letters
        .into_iter()
        .filter(|e| needles.found_in(&e.payload))
        .map(|e| e.id)
        .collect();
    let n = sqlx::query!("delete from inbound_dead_letters where id = any($1)", &ids)
        .execute(&mut *tx)
        .await?;
    report.add("inbound_dead_letters", "deleted", n.rows_affected());
    Ok(())
}

/// Rows kept for counts and scores, emptied of the person.
async fn keep_aggregates(
    tx: &mut PgConnection,
    id: ContactId,
    now: DateTime<Utc>,
    report: &mut ErasureReport,
) -> Result<(), StoreError> {
    let c = id.0;
    let n = sqlx::query!(
        "update replies set body = '', comment = null where contact_id = $1",
        c
    )
    .execute(&mut *tx)
    .await?;
    report.add("replies", "blanked", n.rows_affected());
    let n = sqlx::query!(
        "update touches set status = 'cancelled', status_reason = 'contact erased',
                lease_owner = null, lease_until = null, updated_at = $2
          where contact_id = $1 and status in ('planned', 'claimed', 'unknown')",
        c,
        now
    )
    .execute(&mut *tx)
    .await?;
    report.add("touches", "cancelled", n.rows_affected());
    // A channel's error text may quote the chat or number it failed to reach.
    let n = sqlx::query!(
        "update touches set last_error = null where contact_id = $1 and last_error is not null",
        c
    )
    .execute(&mut *tx)
    .await?;
    report.add("touches", "blanked", n.rows_affected());
    let n = sqlx::query!(
        "update contact_takeovers set ended_at = $2 where contact_id = $1 and ended_at is null",
        c,
        now
    )
    .execute(&mut *tx)
    .await?;
    report.add("contact_takeovers", "ended", n.rows_affected());
    let n = sqlx::query!(
        "update contacts
            set name = 'erased contact #' || id, address = null, time_zone = null, locale = null,
                unreachable_reason = null, removed_at = coalesce(removed_at, $2), erased_at = $2
          where id = $1",
        c,
        now
    )
    .execute(&mut *tx)
    .await?;
    report.add("contacts", "tombstoned", n.rows_affected());
    Ok(())
}

/// Looks the contact up first so the operator can confirm by name.
pub async fn describe(pool: &PgPool, id: ContactId) -> anyhow::Result<Option<String>> {
    let row = sqlx::query!(
        "select c.name, a.name as account, c.erased_at from contacts c
           join accounts a on a.id = c.account_id where c.id = $1",
        id.0
    )
    .fetch_optional(pool)
    .await
    .context("looking up the contact to erase")?;
    Ok(row.map(|r| match r.erased_at {
        Some(at) => format!("{} (erased on {})", r.name, at.format("%Y-%m-%d")),
        None => format!("{} of {}", r.name, r.account),
    }))
}
