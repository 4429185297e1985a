//! What WhatsApp says became of a message after accepting it (`sent`, `delivered`, `read`,
//! `failed`), applied to the touch it was.
//!
//! - The touch is found by `biz_opaque_callback_data`, which every send carries as the touch's
//!   idempotency key, else by the wamid. Staff posts and answers to a contact come back too;
//!   what matches no touch is ignored. A status about an earlier send of a touch sent again
//!   since (another wamid) changes nothing.
//! - `sent`, `delivered` or `read` for a touch left `unknown` (a crash, a lost answer) settles
//!   it as sent, with no person involved. `delivered_at` and `read_at` keep the earliest time
//!   given, whatever order the statuses are handled in (least() skips nulls); read implies
//!   delivered.
//! - `failed` with 131047 (the 24-hour window had closed) moves the touch to its template
//!   (`template_only`) and queues it again at once. Any other failure marks it failed with
//!   WhatsApp's reason; 131026 (the number cannot receive) also marks the contact unreachable,
//!   as a refused send does.

use anyhow::Context as _;
use chrono::Utc;
use sqlx::PgPool;

use super::events::Status;
use crate::channel::PermanentReason;
use crate::delivery::Rescue;
use crate::domain::{AccountId, ContactId, TouchId};
use crate::outbound::outbox;

/// The window had closed: only a template may go.
pub const WINDOW_CLOSED: i64 = 131047;
/// The number is not on WhatsApp or cannot receive.
pub const UNDELIVERABLE: i64 = 131026;

/// What a status did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// It is about no touch (a staff post, an answer), or about an earlier send of one.
    Ignored,
    /// Recorded (and an `unknown` send settled as sent, when it was one).
    Recorded { settled: bool },
    /// The touch goes again, as its template.
    AsTemplate,
    /// The touch failed for the reason given.
    Failed(String),
    /// The touch is still being sent (claimed, or handed to WhatsApp with its answer not yet
    /// recorded): the status is looked at again later. Meta's status can overtake the answer
    /// to the send, and after a crash it is what settles the send the rescue leaves unknown.
    InFlight,
}

struct Touch {
    id: TouchId,
    account_id: AccountId,
    contact_id: Option<ContactId>,
    status: String,
    provider_message_id: Option<String>,
}

/// Applies one status to its touch.
pub async fn apply(pool: &PgPool, status: &Status) -> anyhow::Result<Applied> {
    let Some(touch) = find_touch(pool, status)
        .await
        .context("finding the touch a WhatsApp status is about")?
    else {
        return Ok(Applied::Ignored);
    };
    if matches!(touch.status.as_str(), "claimed" | "sending") {
        return Ok(Applied::InFlight);
    }
    if touch
        .provider_message_id
        .as_deref()
        .is_some_and(|wamid| wamid != status.id)
    {
        return Ok(Applied::Ignored);
    }
    match status.status.as_str() {
        "sent" | "delivered" | "read" => recorded(pool, &touch, status).await,
        "failed" => failed(pool, &touch, status).await,
        other => {
            tracing::debug!(status = other, "a WhatsApp status touchbot does not use");
            Ok(Applied::Ignored)
        }
    }
}

async fn find_touch(pool: &PgPool, status: &Status) -> sqlx::Result<Option<Touch>> {
    // The key is `touch:<account>:<touch key>` (outbox::idempotency_key).
    let keyed = status
        .biz_opaque_callback_data
        .as_deref()
        .and_then(|k| k.strip_prefix("touch:"))
        .and_then(|k| k.split_once(':'))
        .and_then(|(account, key)| Some((account.parse::<i64>().ok()?, key)));
    let row = sqlx::query!(
        r#"select id, account_id, contact_id, status, provider_message_id from touches
            where (account_id = $1 and touch_key = $2) or provider_message_id = $3
            order by (account_id = $1 and touch_key = $2) is true desc
            limit 1"#,
        keyed.map(|(account, _)| account),
        keyed.map(|(_, key)| key),
        status.id,
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Touch {
        id: TouchId(r.id),
        account_id: AccountId(r.account_id),
        contact_id: r.contact_id.map(ContactId),
        status: r.status,
        provider_message_id: r.provider_message_id,
    }))
}

async fn recorded(pool: &PgPool, touch: &Touch, status: &Status) -> anyhow::Result<Applied> {
    let mut settled = false;
    if touch.status == "unknown" {
        settled = <outbox::TouchTable as Rescue>::resolve_unknown_as_sent(
            pool,
            touch.id,
            &status.id,
            Utc::now(),
        )
        .await
        .context("settling an unknown send from its WhatsApp status")?;
        if settled {
            tracing::info!(
                touch = touch.id.0,
                "a send left unknown was settled as sent by its WhatsApp status"
            );
        }
    }
    let at = status.at();
    let (delivered, read) = match status.status.as_str() {
        "delivered" => (Some(at), None),
        "read" => (Some(at), Some(at)),
        _ => (None, None),
    };
    sqlx::query!(
        "update touches
            set delivered_at = least(delivered_at, $2), read_at = least(read_at, $3)
          where id = $1 and ($2::timestamptz is not null or $3::timestamptz is not null)",
        touch.id.0,
        delivered,
        read,
    )
    .execute(pool)
    .await
    .context("storing when a touch was delivered or read")?;
    Ok(Applied::Recorded { settled })
}

async fn failed(pool: &PgPool, touch: &Touch, status: &Status) -> anyhow::Result<Applied> {
    let error = status.errors.first();
    let code = error.map(|e| e.code);
    let title = error
        .and_then(|e| e.title.clone())
        .unwrap_or_else(|| "no reason given".to_string());
    let reason = match code {
        Some(code) => format!("WhatsApp could not deliver it: {title} ({code})"),
        None => format!("WhatsApp could not deliver it: {title}"),
    };
    let now = Utc::now();
    let mut tx = pool
        .begin()
        .await
        .context("starting to apply a failed status")?;
    let marked = sqlx::query!(
        "update touches
            set status = 'failed', status_reason = $2, last_error = $2, updated_at = $3,
                template_only = template_only or $4
          where id = $1 and status in ('sent', 'unknown')",
        touch.id.0,
        reason,
        now,
        code == Some(WINDOW_CLOSED),
    )
    .execute(&mut *tx)
    .await
    .context("marking a touch WhatsApp could not deliver")?
    .rows_affected();
    if marked == 0 {
        // Already failed, requeued or skipped by an earlier status or a person.
        return Ok(Applied::Ignored);
    }
    let applied = match code {
        Some(WINDOW_CLOSED) => {
            let why = "the 24-hour window had closed (WhatsApp 131047): goes again as its template";
            outbox::requeue_because(&mut tx, touch.id, why, now)
                .await
                .context("queueing a touch again as its template")?;
            Applied::AsTemplate
        }
        Some(UNDELIVERABLE) => {
            if let Some(contact) = touch.contact_id {
                let unreachable = PermanentReason::UnknownChat.as_str();
                crate::outbound::unreachable::mark_contact_unreachable(
                    &mut tx,
                    touch.account_id,
                    contact,
                    touch.id,
                    unreachable,
                    now,
                )
                .await
                .context("marking a contact WhatsApp cannot deliver to unreachable")?;
            }
            Applied::Failed(reason)
        }
        _ => Applied::Failed(reason),
    };
    tx.commit().await.context("applying a failed status")?;
    tracing::info!(
        touch = touch.id.0,
        ?code,
        "a WhatsApp status reported a failed send"
    );
    Ok(applied)
}
