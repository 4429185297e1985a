//! A stored WhatsApp message, handed to the conversation core as an arrival, and the core's
//! reply said back on WhatsApp. Nothing is decided here: this only translates.
//!
//! - text → a text; a reply button, a list row or a template's quick reply → a tap with the
//!   data it carries; an image, a voice note, a sticker… → nothing the bot can read.
//! - The sender is `+<from>`; the wamid identifies the message, and its `timestamp` is when it
//!   was received.
//! - WhatsApp has no pop-up for a tap and no keyboard to take off: the toast and
//!   `clear_buttons` of the reply do not apply; the answers are the queued texts.

use anyhow::Context as _;

use super::events::{Said, StoredMessage};
use super::phone::normalise_e164;
use super::worker::Worker;
use crate::channel::{Address, OutboundMessage};
use crate::domain::{ChannelKind, PostId};
use crate::inbound::conversation::{LANGUAGE_PREFIX, Text, choose_locale, command_word};
use crate::inbound::{
    Arrival, ContactRef, Conversation, Done, FollowUps, InboundContent, InboundMessage,
    contacts_by_address, converse_all, deliver_answers, reply_key,
};
use crate::messages::FALLBACK_LOCALE;

/// Hands one message to the conversation core and says its reply.
pub async fn handle(worker: &Worker, stored: &StoredMessage) -> anyhow::Result<()> {
    let (address, contact) = sender(worker, stored).await?;
    let from = Incoming {
        stored,
        address: &address,
        contact: contact.as_ref(),
    };
    let mut answered = answer_all(worker, &[from], FollowUps::Now).await;
    let answered = answered.pop().expect("one answer for one message")?;
    deliver(worker, &answered.queued, &stored.message.id).await
}

/// The sender's number and the contact who has it, if any.
pub async fn sender(
    worker: &Worker,
    stored: &StoredMessage,
) -> anyhow::Result<(String, Option<ContactRef>)> {
    let mut found = senders(worker, &[stored]).await?;
    found.pop().expect("one sender for one message")
}

/// [`sender`] of many messages, the contacts looked up in one statement: the outer error is
/// the look-up's, an inner one a message's own (a sender that is no phone number).
pub async fn senders(
    worker: &Worker,
    stored: &[&StoredMessage],
) -> anyhow::Result<Vec<anyhow::Result<(String, Option<ContactRef>)>>> {
    // The reason would quote the number: the error (logged, kept) names only the message.
    let addresses: Vec<anyhow::Result<String>> = stored
        .iter()
        .map(|s| {
            normalise_e164(&format!("+{}", s.message.from)).map_err(|_| {
                anyhow::anyhow!(
                    "message {} has a sender that is no phone number",
                    s.message.id
                )
            })
        })
        .collect();
    let known: Vec<&str> = addresses.iter().filter_map(|a| a.as_deref().ok()).collect();
    let contacts = contacts_by_address(&worker.pool, ChannelKind::Whatsapp, &known)
        .await
        .context("looking up the contacts who wrote on WhatsApp")?;
    Ok(addresses
        .into_iter()
        .map(|a| {
            a.map(|a| {
                let contact = contacts.get(&a).cloned();
                (a, contact)
            })
        })
        .collect())
}

/// What came of a message once the conversation core had it: the answers it queued, and the
/// key naming the steps that follow it when it was stored (for a caller doing them itself).
#[derive(Debug, Default)]
pub struct Answered {
    pub queued: Vec<PostId>,
    pub follow_ups: Option<String>,
}

/// A message with its sender's number and contact, as [`senders`] found them.
#[derive(Clone, Copy)]
pub struct Incoming<'a> {
    pub stored: &'a StoredMessage,
    pub address: &'a str,
    pub contact: Option<&'a ContactRef>,
}

/// Hands the messages (from different senders) to the conversation core together and says
/// at once what is not queued; the queued answers are left to [`deliver`]. One result for
/// each message, in order.
pub async fn answer_all(
    worker: &Worker,
    from: &[Incoming<'_>],
    follow_ups: FollowUps,
) -> Vec<anyhow::Result<Answered>> {
    let conversation = worker.conversation();
    let mut answered: Vec<Option<anyhow::Result<Answered>>> = Vec::with_capacity(from.len());
    let (mut arrivals, mut at) = (Vec::new(), Vec::new());
    for f in from {
        let said = f.stored.message.said();
        if let (Some(contact), Some(Said::Tap(data))) = (f.contact, &said)
            && data.starts_with(LANGUAGE_PREFIX)
        {
            answered.push(Some(language(worker, f, contact, data).await));
            continue;
        }
        at.push(answered.len());
        answered.push(None);
        arrivals.push(arrival(f, said));
    }
    let keys: Vec<Option<String>> = arrivals
        .iter()
        .map(|a| a.message.as_ref().map(reply_key))
        .collect();
    let replies = converse_all(&conversation, arrivals, follow_ups).await;
    for ((n, key), reply) in at.into_iter().zip(keys).zip(replies) {
        let f = &from[n];
        answered[n] = Some(match reply {
            Ok(reply) => {
                say(worker, f.address, &f.stored.message.id, reply.say).await;
                Ok(Answered {
                    queued: reply.queued,
                    follow_ups: key.filter(|_| matches!(reply.done, Done::Received(_))),
                })
            }
            Err(e) => Err(e),
        });
    }
    answered
        .into_iter()
        .map(|a| a.expect("every message answered"))
        .collect()
}

/// A tap on a language button: the contact's language changes, and is confirmed at once.
async fn language(
    worker: &Worker,
    f: &Incoming<'_>,
    contact: &ContactRef,
    data: &str,
) -> anyhow::Result<Answered> {
    let (_, done) = choose_locale(&worker.conversation(), contact, data).await?;
    let texts = done.map(|body| Text {
        body,
        buttons: Vec::new(),
    });
    say(
        worker,
        f.address,
        &f.stored.message.id,
        texts.into_iter().collect(),
    )
    .await;
    Ok(Answered::default())
}

fn arrival<'a>(f: &Incoming<'a>, said: Option<Said>) -> Arrival<'a> {
    let message = &f.stored.message;
    Arrival {
        channel: ChannelKind::Whatsapp,
        command: match &said {
            Some(Said::Text(text)) => command_word(text).map(String::from),
            _ => None,
        },
        tap: matches!(said, Some(Said::Tap(_))),
        message: said.map(|said| InboundMessage {
            channel: ChannelKind::Whatsapp,
            address: f.address.to_string(),
            provider_message_id: message.id.clone(),
            content: match said {
                Said::Text(text) => InboundContent::text(&text),
                Said::Tap(data) => InboundContent::Button(data),
            },
            received_at: message.sent_at(),
        }),
        contact: f.contact,
        stranger_locale: stranger_locale(f.address),
        address: f.address,
        display_name: f.stored.profile_name.as_deref(),
    }
}

/// Delivers the queued answers to one message.
pub async fn deliver(worker: &Worker, queued: &[PostId], wamid: &str) -> anyhow::Result<()> {
    // Through the durable pool: its `sending` mark flushes the handling before anything is sent.
    let durable = Conversation {
        pool: &worker.pool,
        ..worker.conversation()
    };
    deliver_answers(&durable, &worker.answers, queued)
        .await
        .with_context(|| format!("answering WhatsApp message {wamid}"))
}

/// WhatsApp gives no language for a sender: a number of the +7 zone (Kazakhstan, Russia), the
/// bot's home market, is answered in Russian, any other in the fallback language.
fn stranger_locale(address: &str) -> &'static str {
    if address.starts_with("+7") {
        "ru"
    } else {
        FALLBACK_LOCALE
    }
}

/// Says texts that answer nothing stored (help, the language buttons, the polite answer to a
/// stranger). They are not queued: a failure is logged, and the sender can ask again.
async fn say(worker: &Worker, address: &str, wamid: &str, texts: Vec<Text>) {
    if texts.is_empty() {
        return;
    }
    let Some(channel) = worker.answers.get(ChannelKind::Whatsapp) else {
        tracing::warn!("a WhatsApp answer was not sent: WhatsApp sending is not configured");
        return;
    };
    for (n, text) in texts.into_iter().enumerate() {
        let message = OutboundMessage {
            idempotency_key: format!("say:{wamid}:{n}"),
            to: Address {
                channel: ChannelKind::Whatsapp,
                address: address.to_string(),
            },
            text: text.body,
            buttons: text.buttons,
            template: None,
        };
        if let Err(e) = channel.send(&message).await {
            tracing::warn!(error = %e, wamid, "could not answer a WhatsApp message");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stranger_from_the_plus_seven_zone_is_answered_in_russian() {
        assert_eq!(stranger_locale("+77011234567"), "ru");
        assert_eq!(stranger_locale("+4915123456789"), FALLBACK_LOCALE);
    }
}
