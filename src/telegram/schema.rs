//! The handler tree: which update goes where. Who wrote is resolved once, here, so handlers
//! receive a `ContactRef` or a `StaffRef` and stay short.
//!
//! ```text
//! message
//! ├─ a group became a supergroup      → remember the team chat's new id
//! ├─ in a group                       → staff::group_message
//! └─ in private (who: contact / staff / nobody)
//!    ├─ /start <code>                 → client::join (anyone: that is how one joins)
//!    ├─ staff member, staff command   → staff::private_command
//!    ├─ contact                       → client::contact_message (/language, /help, or inbound)
//!    ├─ staff member                  → staff::private_message
//!    └─ nobody                        → client::stranger
//! callback query
//! ├─ esc:… or tko:…                   → staff::escalation_button
//! ├─ from a contact, lang:…           → client::language_button
//! ├─ from a contact                   → client::contact_button (inbound, as a button)
//! └─ anyone else                      → client::stale_button
//! ```

use std::sync::Arc;

use teloxide::dispatching::{UpdateFilterExt, UpdateHandler};
use teloxide::dptree;
use teloxide::types::{CallbackQuery, ChatId, Message, Update};

use super::BotContext;
use super::channel::chat_migrated;
use super::client::{self, LANGUAGE_PREFIX};
use super::commands::{is_staff_command, typed};
use super::staff::{self, ESCALATION_PREFIX, TAKEOVER_PREFIX};
use super::who::{Who, contact_by_chat, staff_by_user};

pub fn schema() -> UpdateHandler<anyhow::Error> {
    let private = dptree::filter_map_async(who)
        .branch(dptree::filter_map(client::join_code).endpoint(client::join))
        .branch(
            dptree::filter_map(|who: Who| who.staff)
                .filter(is_staff_command_message)
                .endpoint(staff::private_command),
        )
        .branch(dptree::filter_map(|who: Who| who.contact).endpoint(client::contact_message))
        .branch(dptree::filter_map(|who: Who| who.staff).endpoint(staff::private_message))
        .endpoint(client::stranger);

    let messages = Update::filter_message()
        .branch(dptree::filter_map(migration).endpoint(on_migration))
        .branch(
            dptree::filter(|msg: Message| !msg.chat.is_private()).endpoint(staff::group_message),
        )
        .branch(private);

    let taps = Update::filter_callback_query()
        .branch(
            dptree::filter(|q: CallbackQuery| {
                has_prefix(&q, ESCALATION_PREFIX) || has_prefix(&q, TAKEOVER_PREFIX)
            })
            .endpoint(staff::escalation_button),
        )
        .branch(
            dptree::filter_map_async(client::tapper)
                .branch(
                    dptree::filter(|q: CallbackQuery| has_prefix(&q, LANGUAGE_PREFIX))
                        .endpoint(client::language_button),
                )
                .endpoint(client::contact_button),
        )
        .endpoint(client::stale_button);

    dptree::entry().branch(messages).branch(taps)
}

fn has_prefix(q: &CallbackQuery, prefix: &str) -> bool {
    q.data.as_deref().is_some_and(|d| d.starts_with(prefix))
}

fn is_staff_command_message(msg: Message, ctx: Arc<BotContext>) -> bool {
    msg.text()
        .and_then(|t| typed(t, &ctx.username))
        .is_some_and(|c| is_staff_command(&c.name))
}

/// The contact this private chat belongs to and the staff member writing, looked up once. A
/// database failure skips the update (it is logged) rather than treating the writer as a
/// stranger.
async fn who(msg: Message, ctx: Arc<BotContext>) -> Option<Who> {
    let contact = contact_by_chat(&ctx.pool, msg.chat.id).await;
    let staff = match &msg.from {
        Some(user) => staff_by_user(&ctx.pool, user).await,
        None => Ok(None),
    };
    match (contact, staff) {
        (Ok(contact), Ok(staff)) => Some(Who { contact, staff }),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = ?e, "could not look up who wrote; the message is skipped");
            None
        }
    }
}

/// (old id, new id) when a group was upgraded to a supergroup.
#[derive(Debug, Clone, Copy)]
struct Migration(ChatId, ChatId);

fn migration(msg: Message) -> Option<Migration> {
    msg.migrate_to_chat_id()
        .map(|new| Migration(msg.chat.id, *new))
}

async fn on_migration(ctx: Arc<BotContext>, m: Migration) -> anyhow::Result<()> {
    chat_migrated(&ctx.pool, m.0, m.1).await;
    Ok(())
}
