//! Joining by a personal link: the code a contact brings binds their chat to them. Decided
//! here, beside the rest of the conversation, so an adapter only reads the code from its
//! platform's deep link and says the answer. Links exist for Telegram contacts only today
//! (`storage::invites`); a channel whose contacts are added with their address needs none.

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use super::contact::contact_by_address;
use super::conversation::{Conversation, Done, Reply, Text};
use crate::domain::ChannelKind;
use crate::messages::Vars;
use crate::outbound::planner::replan_account;
use crate::storage::invites::{self, Redeemed};

/// `code` arrived from `address` on `channel`: binds the address to the contact the code
/// names, re-plans their account so the welcome goes out, and says how it went ("welcome",
/// "already connected", expired, unknown, or the chat belongs to someone else). Texts for
/// someone still unknown use no variables and `stranger_locale`.
pub async fn join(
    conv: &Conversation<'_>,
    channel: ChannelKind,
    address: &str,
    code: &str,
    stranger_locale: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Reply> {
    let redeemed = invites::redeem(conv.pool, code, address, now)
        .await
        .context("redeeming a join code")?;
    let (key, account) = match redeemed {
        Redeemed::Joined { account_id, .. } => ("tg-joined", Some(account_id)),
        Redeemed::AlreadyJoined { .. } => ("tg-join-already", None),
        Redeemed::Expired => ("tg-join-expired", None),
        Redeemed::Unknown | Redeemed::NoLongerValid => ("tg-join-invalid", None),
        Redeemed::ChatTaken => ("tg-join-chat-taken", None),
    };
    if let Some(account) = account {
        // Puts the welcome (and whatever else is due) on the calendar from today.
        replan_account(conv.pool, &conv.settings.calendar, account, now)
            .await
            .context("re-planning the account of a contact who joined")?;
    }
    // The chat's contact, if it has one now: the one who just joined, or the one it already
    // belonged to.
    let contact = contact_by_address(conv.pool, channel, address)
        .await
        .context("looking up the contact who joined")?;
    let (locale, vars) = match &contact {
        Some(contact) => (contact.locale.as_str(), contact.vars()),
        None => (stranger_locale, Vars::new()),
    };
    let say = conv
        .text(locale, key, &vars)
        .map(|body| Text {
            body,
            buttons: Vec::new(),
        })
        .into_iter()
        .collect();
    Ok(Reply {
        toast: None,
        clear_buttons: false,
        say,
        queued: Vec::new(),
        done: Done::Joined,
    })
}
