//! A WhatsApp touch that may only go as a template, with none configured for its message: it
//! is skipped, and the team is told once per message key (`whatsapp_template_notices`), in
//! the same transaction, so a crash can neither lose the notice nor post it twice.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::staff_posts::{NewPost, PostDelivery, PostKind, Recipient, enqueue};

/// Queues `notice` to the team chat the first time the template for `key` is missing. Run in
/// the transaction that skips the touch; without a notice text (it could not be rendered) no
/// follow-up is asked for, so the key is not marked told and the next such touch tries again.
pub async fn tell_once(
    conn: &mut PgConnection,
    key: &str,
    notice: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let first = sqlx::query_scalar!(
        "insert into whatsapp_template_notices (template_key, told_at) values ($1, $2)
         on conflict (template_key) do nothing
         returning template_key",
        key,
        now,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if first.is_some() {
        let post = NewPost {
            idempotency_key: format!("template_missing:{key}"),
            kind: PostKind::TemplateMissing,
            escalation_id: None,
            account_id: None,
            recipient: Recipient::TeamChat,
            delivery: PostDelivery::Now,
            body: notice.to_string(),
            buttons: Vec::new(),
            due_at: now,
        };
        enqueue(&mut *conn, &post, now).await?;
        tracing::warn!(key, "no WhatsApp template configured; the team is told");
    }
    Ok(())
}
