//! The bot's answer to what a contact sent (a thank-you, "why?", a re-ask) goes out through
//! the post queue, keyed by the message it answers, so it survives a crash between storing
//! the message and answering it. The channel queues the answer, then delivers it at once
//! itself (`post_dispatcher::deliver_posts_now`); a redelivered message queues nothing new but
//! delivers what a crash left waiting, and the post dispatcher sends whatever is still left
//! after [`HANDOVER_SECONDS`]. Queueing an answer does not wake the dispatcher (migration 0034:
//! a burst of replies woke it for every batch, to find nothing due); it finds one left behind
//! by its next-due read or its poll. Like any post, an answer is sent once at most: a crash
//! while it is on its way leaves it `unknown`, never sent twice.

use std::collections::HashMap;

use anyhow::Context as _;
use chrono::TimeDelta;
use sqlx::PgPool;

use super::outcome::Handled;
use super::receive::reply_key;
use super::record::InboundMessage;
use crate::domain::PostId;
use crate::staff_posts::{self, NewPost, PostDelivery, PostKind, Recipient};

/// How long the post dispatcher leaves a queued answer to the channel that queued it, so the
/// two do not race for it (and the answers of one message keep their order).
pub const HANDOVER_SECONDS: i64 = 10;

/// The answers to one stored message, to queue for its contact.
pub struct ToAnswer<'a> {
    pub handled: &'a Handled,
    pub message: &'a InboundMessage,
    pub texts: Vec<String>,
}

/// Queues the answers to many messages at once (each unless queued before: a redelivery),
/// due [`HANDOVER_SECONDS`] after its message; returns, for each message, the ones still
/// waiting to go, in order. Two statements for the lot.
pub async fn queue_all(
    pool: &PgPool,
    answers: &[ToAnswer<'_>],
) -> anyhow::Result<Vec<Vec<PostId>>> {
    let mut posts = Vec::new();
    let mut owner: HashMap<String, usize> = HashMap::new();
    for (n, answer) in answers.iter().enumerate() {
        let source = reply_key(answer.message);
        let at = answer.message.received_at;
        for (i, text) in answer.texts.iter().enumerate() {
            let key = format!("answer:{source}:{i}");
            owner.insert(key.clone(), n);
            posts.push(NewPost {
                idempotency_key: key,
                kind: PostKind::Answer,
                escalation_id: None,
                account_id: Some(answer.handled.account_id),
                recipient: Recipient::Contact(answer.handled.contact_id),
                delivery: PostDelivery::Now,
                body: text.clone(),
                buttons: Vec::new(),
                due_at: at + TimeDelta::seconds(HANDOVER_SECONDS),
            });
        }
    }
    let mut waiting = vec![Vec::new(); answers.len()];
    let Some(now) = answers.iter().map(|a| a.message.received_at).max() else {
        return Ok(waiting);
    };
    if posts.is_empty() {
        return Ok(waiting);
    }
    let keys: Vec<String> = posts.iter().map(|p| p.idempotency_key.clone()).collect();
    let mut tx = pool.begin().await.context("queueing answers")?;
    staff_posts::enqueue_many(&mut *tx, &posts, now)
        .await
        .context("queueing answers")?;
    let planned = sqlx::query!(
        "select id, idempotency_key from staff_posts
          where idempotency_key = any($1) and status = 'planned'
          order by id",
        &keys
    )
    .fetch_all(&mut *tx)
    .await
    .context("reading the answers still to send")?;
    tx.commit().await.context("queueing answers")?;
    for post in planned {
        if let Some(&n) = owner.get(&post.idempotency_key) {
            waiting[n].push(PostId(post.id));
        }
    }
    Ok(waiting)
}
