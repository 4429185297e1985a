//! The words passed between a client and their CSM during a human takeover. A client's message
//! the bot cannot answer goes to the account's CSM as a staff post (their private chat, or the
//! team chat), delivered by the staff post dispatcher like any post, and starts a takeover; a
//! staff member's reply to that post goes back to the client, signed with their name, as a
//! post whose reader is the contact: queued under the key of the staff message it answers (a
//! redelivered update queues nothing new) and delivered by the same dispatcher (a crash after
//! the tap loses nothing).
//!
//! The client's words are posted, never logged.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::identity::{REFUSAL, log_refused, who};
use super::takeover::{self, Takeover};
use super::when;
use crate::channel::Button;
use crate::config::Settings;
use crate::domain::{ContactId, PostId};
use crate::staff_posts::{self, NewPost, PostDelivery, PostKind, Recipient};
use crate::storage::{accounts, contacts};

/// The most of a client's message quoted in one post; the rest is cut so the post fits a chat.
const MAX_QUOTED: usize = 3500;

/// A client's message on its way to staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    /// The post queued with the client's words; `None` when this message was forwarded before.
    pub post: Option<PostId>,
    pub takeover: Takeover,
}

/// Passes the words of `contact`'s message `provider_message_id` to the account's CSM (or to
/// the team chat when the account has none) and pauses the contact's automated touches for
/// `[takeover] hours`. Forwarding the same message again changes nothing but the pause.
pub async fn forward_to_csm(
    pool: &PgPool,
    settings: &Settings,
    contact: ContactId,
    provider_message_id: &str,
    words: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Forwarded> {
    let person = contacts::get(pool, contact)
        .await?
        .ok_or_else(|| anyhow::anyhow!("contact {contact} is not on record"))?;
    let account = accounts::get(pool, person.account_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("account {} is not on record", person.account_id))?;
    let until = now + settings.takeover.duration();
    let tz = settings.escalation.sla.time_zone;
    let mut tx = pool.begin().await?;
    let takeover = takeover::start_in(&mut tx, contact, account.csm_id, now, until).await?;
    let text = forwarded_text(
        &person.name,
        person.role.as_str(),
        &account.name,
        account.csm_id.is_some(),
        words,
        &when(takeover.until, tz),
    );
    let post = NewPost {
        idempotency_key: format!("relay:{contact}:{provider_message_id}"),
        kind: PostKind::Relay,
        escalation_id: None,
        account_id: Some(account.id),
        recipient: account.csm_id.map_or(Recipient::TeamChat, Recipient::Staff),
        delivery: PostDelivery::Now,
        body: text,
        buttons: vec![vec![Button {
            label: "Hand back to the bot".into(),
            data: format!("tko:{contact}:back"),
        }]],
        due_at: now,
    };
    let id = staff_posts::enqueue(&mut *tx, &post, now).await?;
    if let Some(id) = id {
        sqlx::query!(
            "insert into takeover_relays (post_id, contact_id) values ($1, $2)",
            id.0,
            contact.0
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Forwarded { post: id, takeover })
}

fn forwarded_text(
    contact: &str,
    role: &str,
    account: &str,
    has_csm: bool,
    words: &str,
    until: &str,
) -> String {
    let words = words.trim();
    let quoted = if words.chars().count() > MAX_QUOTED {
        let cut: String = words.chars().take(MAX_QUOTED).collect();
        format!("{cut}… (cut to fit; the full text is stored with the account's replies)")
    } else {
        words.to_string()
    };
    let team = if has_csm {
        String::new()
    } else {
        format!("{account} has no CSM, so this comes to the team.\n")
    };
    format!(
        "{team}💬 {contact} ({}, {account}) wrote:\n\"{quoted}\"\n\nReply to this message to \
         answer {contact}; I'll pass it on. Automated touches to {contact} wait until {until}, \
         or until you tap Hand back.",
        role.replace('_', " ")
    )
}

/// What to do with a message a staff member sent in reply to one of the bot's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyOutcome {
    /// It does not answer a client's relayed words: not for the relay.
    NotARelay,
    /// The sender is not on the staff; tell them `notice` and send nothing.
    Refused { notice: String },
    /// The reply is queued for the contact (`fresh` false when this staff message was queued
    /// before: a redelivery); tell the staff member `confirmation`.
    Queued {
        contact: ContactId,
        post: Option<PostId>,
        fresh: bool,
        confirmation: String,
    },
    /// The contact cannot get it; tell the staff member why. Nothing was sent.
    Undeliverable { notice: String },
}

/// A reply by the Telegram user `from`, sent in `chat` as message `reply_message_id`, to the
/// bot's message `replied_to`. When that message carried a client's words, the reply goes back
/// to the client and the takeover is extended (or started again after a hand-back).
#[allow(clippy::too_many_arguments)]
pub async fn reply_to_client(
    pool: &PgPool,
    settings: &Settings,
    from: i64,
    chat: &str,
    replied_to: &str,
    reply_message_id: &str,
    words: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<ReplyOutcome> {
    let contact = sqlx::query_scalar!(
        "select r.contact_id from takeover_relays r join staff_posts p on p.id = r.post_id
          where p.provider_message_id = $1 and p.sent_address = $2",
        replied_to,
        chat
    )
    .fetch_optional(pool)
    .await?;
    let Some(contact) = contact.map(ContactId) else {
        return Ok(ReplyOutcome::NotARelay);
    };
    let Some(staff) = who(pool, from).await? else {
        log_refused(from, "relay reply");
        return Ok(ReplyOutcome::Refused {
            notice: REFUSAL.to_string(),
        });
    };
    let undeliverable = |notice: String| Ok(ReplyOutcome::Undeliverable { notice });
    let words = words.trim();
    if words.is_empty() {
        return undeliverable("Only text is passed on to the client; nothing was sent.".into());
    }
    let Some(person) = contacts::get(pool, contact).await? else {
        return undeliverable("That contact is no longer on record; nothing was sent.".into());
    };
    if let Some(reason) = &person.unreachable_reason {
        return undeliverable(format!(
            "{} cannot be reached on {} any more ({}); nothing was sent.",
            person.name,
            person.channel,
            reason.replace('_', " ")
        ));
    }
    if person.address.is_none() {
        return undeliverable(format!(
            "{} has not joined the bot on {}; nothing was sent.",
            person.name, person.channel
        ));
    }
    let account = accounts::get(pool, person.account_id).await?;
    let mut tx = pool.begin().await?;
    let takeover = takeover::start_in(
        &mut tx,
        contact,
        Some(staff.id),
        now,
        now + settings.takeover.duration(),
    )
    .await?;
    let post = NewPost {
        idempotency_key: format!("relay-reply:{chat}:{reply_message_id}"),
        kind: PostKind::RelayReply,
        escalation_id: None,
        account_id: Some(person.account_id),
        recipient: Recipient::Contact(contact),
        delivery: PostDelivery::Now,
        body: format!("{}:\n{words}", staff.name),
        buttons: Vec::new(),
        due_at: now,
    };
    let queued = staff_posts::enqueue(&mut *tx, &post, now).await?;
    tx.commit().await?;
    if queued.is_some() {
        tracing::info!(staff_id = %staff.id, contact_id = %contact, "queued a staff reply to a client");
    }
    Ok(ReplyOutcome::Queued {
        contact,
        post: queued,
        fresh: queued.is_some(),
        confirmation: format!(
            "Passing it on to {}{}. Automated touches wait until {}.",
            person.name,
            account
                .map(|a| format!(" ({})", a.name))
                .unwrap_or_default(),
            when(takeover.until, settings.escalation.sla.time_zone)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forwarded_words_name_the_contact_and_account_and_say_how_to_answer() {
        let text = forwarded_text(
            "Dana",
            "decision_maker",
            "Northwind",
            true,
            "  Can we move the training?  ",
            "09:00 UTC, Wed 4 Mar",
        );
        assert!(
            text.starts_with("💬 Dana (decision maker, Northwind) wrote:"),
            "{text}"
        );
        assert!(text.contains("\"Can we move the training?\""), "{text}");
        assert!(text.contains("Reply to this message"), "{text}");
        assert!(text.contains("until 09:00 UTC, Wed 4 Mar"), "{text}");
    }

    #[test]
    fn without_a_csm_the_team_is_told_why_it_gets_the_words() {
        let text = forwarded_text("Dana", "user", "Acme", false, "hi", "soon");
        assert!(text.starts_with("Acme has no CSM, so this comes to the team."));
    }

    #[test]
    fn a_very_long_message_is_cut_so_the_post_fits_a_chat() {
        let text = forwarded_text("Dana", "user", "Acme", true, &"word ".repeat(2000), "soon");
        assert!(
            text.chars().count() < super::super::MAX_MESSAGE,
            "{}",
            text.len()
        );
        assert!(text.contains("(cut to fit;"));
    }
}
