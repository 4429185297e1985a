//! A WhatsApp touch that may only go as a template, with none configured for its message: it
//! is skipped, and the team is told once per message key (`whatsapp_template_notices`), in
//! the same transaction, so a crash can neither lose the notice nor post it twice.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::outbox::{self, Lease, OutboxError};
use super::staff_posts::{NewPost, PostDelivery, PostKind, Recipient, enqueue};

/// Skips the touch with `reason`; the first time `key` is missing, queues `notice` to the
/// team chat. Without a notice text (it could not be rendered) the key is not marked told,
/// so the next such touch tries again.
pub async fn skip_and_tell(
    pool: &PgPool,
    lease: Lease,
    key: &str,
    reason: &str,
    notice: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), OutboxError> {
    let mut tx = pool.begin().await?;
    outbox::skip(&mut *tx, lease, reason, now).await?;
    if let Some(body) = notice {
        let first = sqlx::query_scalar!(
            "insert into whatsapp_template_notices (template_key, told_at) values ($1, $2)
             on conflict (template_key) do nothing
             returning template_key",
            key,
            now,
        )
        .fetch_optional(&mut *tx)
        .await?;
        if first.is_some() {
            let post = NewPost {
                idempotency_key: format!("template_missing:{key}"),
                kind: PostKind::TemplateMissing,
                escalation_id: None,
                account_id: None,
                recipient: Recipient::TeamChat,
                delivery: PostDelivery::Now,
                body,
                buttons: Vec::new(),
                due_at: now,
            };
            enqueue(&mut *tx, &post, now).await?;
            tracing::warn!(key, "no WhatsApp template configured; the team is told");
        }
    }
    tx.commit().await?;
    Ok(())
}
