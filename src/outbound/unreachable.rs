//! A contact the channel says cannot be reached any more (they blocked the bot, never started
//! it, or their address is refused): marked unreachable, with a signal, and their CSM told
//! once, in the transaction that records the failed send.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::domain::{AccountId, ContactId, StaffId, TouchId};

/// Marks a contact as unreachable (keeping the first reason if already marked) and records
/// a `contact_unreachable` signal once per contact and reason.
pub async fn mark_contact_unreachable(
    conn: &mut sqlx::PgConnection,
    account_id: AccountId,
    contact_id: ContactId,
    touch_id: TouchId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update contacts
            set unreachable_at = coalesce(unreachable_at, $2),
                unreachable_reason = coalesce(unreachable_reason, $3)
          where id = $1",
        contact_id.0,
        now,
        reason,
    )
    .execute(&mut *conn)
    .await?;
    let details = json!({ "reason": reason, "touch_id": touch_id.0 });
    let recorded = sqlx::query!(
        "insert into signals
            (account_id, contact_id, kind, details, occurred_at, source, idempotency_key)
         values ($1, $2, 'contact_unreachable', $3, $4, 'dispatcher', $5)
         on conflict (idempotency_key) do nothing",
        account_id.0,
        contact_id.0,
        details,
        now,
        format!("contact_unreachable:{contact_id}:{reason}"),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if recorded == 1 {
        tell_csm_unreachable(conn, account_id, contact_id, reason, now).await?;
    }
    Ok(())
}

/// Tells the account's CSM (or the team chat, without one) once that a contact cannot be
/// reached any more, so a person finds another way to them.
async fn tell_csm_unreachable(
    conn: &mut sqlx::PgConnection,
    account_id: AccountId,
    contact_id: ContactId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    use crate::staff_posts::{NewPost, PostDelivery, PostKind, Recipient, enqueue};
    let row = sqlx::query!(
        r#"select c.name as contact, c.channel, a.name as account, a.csm_id
             from contacts c join accounts a on a.id = c.account_id where c.id = $1"#,
        contact_id.0
    )
    .fetch_one(&mut *conn)
    .await?;
    let why = match reason {
        "blocked" => "blocked the bot",
        "unknown_chat" => "never started the bot or left the chat",
        "invalid_address" => "has an address the channel refuses",
        _ => "cannot be reached",
    };
    let body = format!(
        "{} of {} {why} on {}: touches to them stop. Reach them another way, or add a contact \
         who can take their place.",
        row.contact, row.account, row.channel
    );
    let recipient = row
        .csm_id
        .map_or(Recipient::TeamChat, |id| Recipient::Staff(StaffId(id)));
    let post = NewPost {
        idempotency_key: format!("unreachable:contact-{contact_id}:{reason}"),
        kind: PostKind::Unreachable,
        escalation_id: None,
        account_id: Some(account_id),
        recipient,
        delivery: PostDelivery::Now,
        body,
        buttons: Vec::new(),
        due_at: now,
    };
    enqueue(&mut *conn, &post, now).await?;
    Ok(())
}
