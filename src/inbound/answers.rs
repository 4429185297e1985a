//! The bot's answer to what a contact sent (a thank-you, "why?", a re-ask) goes out through
//! the post queue, keyed by the message it answers, so it survives a crash between storing
//! the message and answering it. The channel queues the answer, then delivers it at once
//! itself (`post_dispatcher::deliver_posts_now`); a redelivered message queues nothing new but
//! delivers what a crash left waiting, and the post dispatcher sends whatever is still left
//! after [`HANDOVER_SECONDS`]. Like any post, an answer is sent once at most: a crash while it
//! is on its way leaves it `unknown`, never sent twice.

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

use super::outcome::Handled;
use super::receive::reply_key;
use super::record::InboundMessage;
use crate::domain::PostId;
use crate::staff_posts::{self, NewPost, PostDelivery, PostKind, Recipient};

/// How long the post dispatcher leaves a queued answer to the channel that queued it, so the
/// two do not race for it (and the answers of one message keep their order).
pub const HANDOVER_SECONDS: i64 = 10;

/// Queues `texts`, the answers to `message`, for its contact, unless queued before (a
/// redelivery); returns the ones still waiting to go, in order.
pub async fn queue(
    pool: &PgPool,
    handled: &Handled,
    message: &InboundMessage,
    texts: &[String],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<PostId>> {
    if texts.is_empty() {
        return Ok(Vec::new());
    }
    let source = reply_key(message);
    let keys: Vec<String> = (0..texts.len())
        .map(|i| format!("answer:{source}:{i}"))
        .collect();
    let mut tx = pool.begin().await.context("queueing an answer")?;
    for (key, text) in keys.iter().zip(texts) {
        let post = NewPost {
            idempotency_key: key.clone(),
            kind: PostKind::Answer,
            escalation_id: None,
            account_id: Some(handled.account_id),
            recipient: Recipient::Contact(handled.contact_id),
            delivery: PostDelivery::Now,
            body: text.clone(),
            buttons: Vec::new(),
            due_at: now + TimeDelta::seconds(HANDOVER_SECONDS),
        };
        staff_posts::enqueue(&mut *tx, &post, now)
            .await
            .context("queueing an answer")?;
    }
    let waiting = sqlx::query_scalar!(
        "select id from staff_posts
          where idempotency_key = any($1) and status = 'planned'
          order by id",
        &keys
    )
    .fetch_all(&mut *tx)
    .await
    .context("reading the answers still to send")?;
    tx.commit().await.context("queueing an answer")?;
    Ok(waiting.into_iter().map(PostId).collect())
}
