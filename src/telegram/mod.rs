//! The Telegram adapter, built on teloxide.
//!
//! Outbound, [`TelegramChannel`] is one more `Channel` for the dispatchers. Inbound,
//! [`polling::run`] reads updates (on one instance only), or [`webhook`] receives them (on
//! every instance), and each goes to the handler tree of
//! [`schema::schema`]: a contact's message goes to `inbound::receive`, like every channel's, and
//! the answer it decides on is sent back; `/start <code>` joins a contact by their link; staff
//! messages and escalation buttons go to [`staff`], where the staff features connect.

pub mod channel;
mod client;
pub mod commands;
pub mod polling;
mod replies;
pub mod schema;
pub mod settings;
pub mod staff;
pub mod webhook;
mod who;

use std::sync::Arc;

use sqlx::PgPool;

use crate::config::Settings;
use crate::messages::Messages;

pub use channel::TelegramChannel;
pub use settings::TelegramSettings;
pub use who::{ContactRef, StaffRef};

/// What every handler needs, resolved once when the bot starts.
#[derive(Debug)]
pub struct BotContext {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub messages: Arc<Messages>,
    /// The bot's own username, as Telegram reported it, for reading "/cmd@bot".
    pub username: String,
}

/// The handlers' result: an error is logged with the update's id, never shown to a user.
pub type HandlerResult = anyhow::Result<()>;
