//! Who is asking. Every staff command and button needs a registered staff member, found by the
//! Telegram user id on record (`touchbot staff add --telegram-id`); anyone else is refused in
//! words that say nothing about any account, and the attempt is logged with ids only.

use sqlx::PgPool;

use crate::domain::ChannelKind;
use crate::storage::StoreError;
use crate::storage::staff::{self, Staff};
use crate::storage::team_chat;

/// The answer to a stranger's command: no figures, no names, no hint whether an account exists.
pub const REFUSAL: &str = "Sorry, these commands are for the customer-success team only. If \
    you are on the team, ask an admin to register your Telegram account with the bot.";

/// The answer to a stranger's tap on a staff button; the message stays as it was.
pub const BUTTON_REFUSAL: &str = "Only the customer-success team can use these buttons.";

/// The staff member behind a Telegram user id, or `None` for anyone else.
pub async fn who(pool: &PgPool, telegram_user_id: i64) -> Result<Option<Staff>, StoreError> {
    staff::by_telegram_id(pool, telegram_user_id).await
}

/// Logs a stranger's attempt: their id and what they tried (a command name or an action), never
/// the arguments, which may name a client.
pub fn log_refused(telegram_user_id: i64, attempt: &str) {
    tracing::warn!(
        telegram_user_id,
        attempt,
        "refused a staff command or button from someone who is not on the staff"
    );
}

/// The answer to a staff command typed in a group that is not the team's: a group may be shared
/// with a client, so it gets no figures and no names, only where to ask instead.
pub const NOT_IN_THIS_CHAT: &str = "The team's commands are answered only in the team chat and \
    in a private chat with me.";

/// Whether staff commands typed in the group `address` on `channel` may be answered: only in
/// the bound team chat (private chats are always fine and do not come here).
pub async fn is_team_chat(
    pool: &PgPool,
    channel: ChannelKind,
    address: &str,
) -> Result<bool, StoreError> {
    Ok(team_chat::get(pool)
        .await?
        .is_some_and(|t| t.channel == channel && t.address == address))
}
