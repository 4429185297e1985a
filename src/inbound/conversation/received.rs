//! The messages a conversation stores, however many arrived together: stored in one go
//! (`record_batch`; a single message is a batch of one), what follows them done when the
//! caller leaves it to the conversation, and their answers (thank-you, why-question, re-ask,
//! opt-out confirmation) queued in one go under each message's key.

use super::{Conversation, Done, FollowUps, Reply, answer_texts};
use crate::inbound::answers::{self, ToAnswer};
use crate::inbound::receive::follow_up;
use crate::inbound::{Answer, ContactRef, Handled, InboundMessage, InboundOutcome, record_batch};

/// A message from a contact, to store and answer.
pub(super) struct ToStore<'a> {
    pub(super) contact: &'a ContactRef,
    pub(super) message: InboundMessage,
    /// It was a button tap: it gets a toast, and its keyboard is taken off.
    pub(super) tap: bool,
}

/// Stores the messages, does what follows them when `follow_ups` says so, and queues their
/// answers; one reply or error for each, in order.
pub(super) async fn received_all(
    conv: &Conversation<'_>,
    items: &[ToStore<'_>],
    follow_ups: FollowUps,
) -> Vec<anyhow::Result<Reply>> {
    if items.is_empty() {
        return Vec::new();
    }
    let messages: Vec<InboundMessage> = items.iter().map(|i| i.message.clone()).collect();
    let outcomes = record_batch(conv.pool, &messages).await;
    let mut replies = Vec::with_capacity(items.len());
    let mut texts = Vec::with_capacity(items.len());
    for (item, outcome) in items.iter().zip(outcomes) {
        let handled = match outcome {
            Ok(InboundOutcome::Handled(handled)) => handled,
            Ok(InboundOutcome::UnknownSender) => {
                // The contact went away between the adapter's look-up and now.
                let mut reply = Reply::quiet(Done::Stranger);
                reply.toast = item.tap.then(|| {
                    conv.toast(
                        item.message.channel,
                        &item.contact.locale,
                        Some("button-stale"),
                    )
                });
                replies.push(Ok(reply));
                texts.push(Vec::new());
                continue;
            }
            Err(e) => {
                replies.push(Err(e.into()));
                texts.push(Vec::new());
                continue;
            }
        };
        if follow_ups == FollowUps::Now {
            let message = &item.message;
            follow_up(
                conv.pool,
                conv.settings,
                message,
                &handled,
                message.received_at,
            )
            .await;
        }
        texts.push(texts_for(conv, item, &handled));
        replies.push(Ok(reply_to(conv, item, handled)));
    }
    queue_answers(conv, items, replies, texts).await
}

/// The answers to queue for a stored message. A redelivered message was answered the first
/// time, unless a crash came in between: the answers are queued under the message's key, so
/// nothing is sent twice. During a takeover the bot says nothing: the words went to the CSM.
fn texts_for(conv: &Conversation<'_>, item: &ToStore<'_>, handled: &Handled) -> Vec<String> {
    let channel = item.message.channel;
    let mut texts = answer_texts(conv, channel, handled);
    if texts.is_empty() && handled.answer == (Answer::OptIn { changed: false }) {
        // "/start" from someone who never left: say they are set rather than nothing.
        texts.extend(conv.chat_text(
            channel,
            &handled.locale,
            "start-again",
            &item.contact.vars(),
        ));
    }
    texts
}

/// The reply to a stored message, its answers still to queue.
fn reply_to(conv: &Conversation<'_>, item: &ToStore<'_>, handled: Handled) -> Reply {
    let (mut toast, mut clear_buttons) = (None, false);
    if item.tap {
        let note = match (&handled.answer, handled.duplicate) {
            (_, true) => None,
            (Answer::AlreadyAnswered, _) => Some("already-answered"),
            (Answer::StaleButton, _) => Some("button-stale"),
            _ => None,
        };
        toast = Some(conv.toast(item.message.channel, &handled.locale, note));
        clear_buttons = !handled.duplicate && !matches!(handled.answer, Answer::StaleButton);
    }
    Reply {
        toast,
        clear_buttons,
        say: Vec::new(),
        queued: Vec::new(),
        done: Done::Received(handled),
    }
}

/// Queues the answers of every stored message together; when that fails, each of them fails
/// (stored, they are answered on their redelivery).
async fn queue_answers(
    conv: &Conversation<'_>,
    items: &[ToStore<'_>],
    mut replies: Vec<anyhow::Result<Reply>>,
    texts: Vec<Vec<String>>,
) -> Vec<anyhow::Result<Reply>> {
    let mut at = Vec::new();
    let mut to_answer = Vec::new();
    for (n, ((item, reply), texts)) in items.iter().zip(&replies).zip(texts).enumerate() {
        if let Ok(Reply {
            done: Done::Received(handled),
            ..
        }) = reply
        {
            at.push(n);
            to_answer.push(ToAnswer {
                handled,
                message: &item.message,
                texts,
            });
        }
    }
    let queued = answers::queue_all(conv.pool, &to_answer).await;
    drop(to_answer);
    match queued {
        Ok(queued) => {
            for (n, queued) in at.into_iter().zip(queued) {
                if let Ok(reply) = &mut replies[n] {
                    reply.queued = queued;
                }
            }
        }
        Err(e) => {
            let e = format!("{e:#}");
            for n in at {
                replies[n] = Err(anyhow::anyhow!(e.clone()));
            }
        }
    }
    replies
}
