//! The staff side of the chat, whatever the channel: who is asking, the manager commands, the
//! buttons under escalation cards, binding the team's group chat, and human takeover of a
//! client conversation. A channel adapter (Telegram) turns updates into calls here and sends
//! back the texts and buttons these functions return; nothing here talks to a platform.
//!
//! - `identity`: staff by their chat id, and the refusal a stranger gets
//! - `command`: parsing a command's text (pure); `answer`: running it
//! - `portfolio`, `account`: the texts of `/status`, `/mine`, `/atrisk`, `/renewals`, `/nps`
//! - `split`: long answers cut at line boundaries
//! - `cards`: the escalation card's buttons and its text with the history
//! - `bind`: one-time codes that bind the team chat
//! - `takeover`: the conversation state; `relay`: the words passed between client and CSM
//! - `taps`: each button's callback applied once
//!
//! Texts for staff are in English, as the escalation cards are.

mod account;
pub mod answer;
pub mod bind;
pub mod cards;
pub mod command;
pub mod identity;
mod portfolio;
pub mod relay;
pub mod split;
pub mod takeover;
pub mod taps;

pub use answer::{answer, command as staff_command};
pub use bind::{BindCode, BindOutcome, bind, follow_migration, new_code};
pub use cards::{CardView, Edit, PressResult, card_view, posted_cards, press};
pub use identity::{NOT_IN_THIS_CHAT, REFUSAL, is_team_chat, who};
pub use relay::{Forwarded, ReplyOutcome, forward_to_csm, reply_to_client};
pub use split::{MAX_MESSAGE, split};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// "10:42 MSK, Mon 2 Mar": when something happened, in the team's zone.
pub(crate) fn when(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%H:%M %Z, %a %-d %b")
        .to_string()
}
