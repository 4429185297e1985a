//! The Telegram adapter, built on teloxide.
//!
//! Outbound, [`TelegramChannel`] is one more `Channel` for the dispatchers. Inbound,
//! [`polling::run`] reads updates (on one instance only), or [`webhook`] receives them (on
//! every instance), and each goes to the handler tree of
//! [`schema::schema`]: a contact's message goes to the conversation core
//! (`inbound::conversation`), like every channel's, and the answer it decides on is sent back; `/start <code>` joins a contact by their link; staff
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
use teloxide::Bot;

use crate::channel::Channels;
use crate::config::Settings;
use crate::inbound::Conversation;
use crate::messages::Messages;

pub use channel::TelegramChannel;
pub use settings::TelegramSettings;
pub use who::{ContactRef, StaffRef};

/// What every handler needs, resolved once when the bot starts.
pub struct BotContext {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub messages: Arc<Messages>,
    /// The bot's own username, as Telegram reported it, for reading "/cmd@bot".
    pub username: String,
    /// Delivers the answers to contacts; one per bot, so every handler keeps the same pace.
    pub answers: Channels,
}

impl BotContext {
    pub fn new(
        bot: &Bot,
        pool: PgPool,
        settings: Arc<Settings>,
        messages: Arc<Messages>,
        username: String,
    ) -> BotContext {
        let answers = Channels::new(settings.dispatcher.rate_limits.clone())
            .with(Arc::new(TelegramChannel::new(bot.clone(), pool.clone())));
        BotContext {
            pool,
            settings,
            messages,
            username,
            answers,
        }
    }

    /// The channel-free conversation core, on this bot's database and settings.
    pub fn conversation(&self) -> Conversation<'_> {
        Conversation {
            pool: &self.pool,
            settings: &self.settings,
            messages: &self.messages,
        }
    }
}

impl std::fmt::Debug for BotContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotContext")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The handlers' result: an error is logged with the update's id, never shown to a user.
pub type HandlerResult = anyhow::Result<()>;
