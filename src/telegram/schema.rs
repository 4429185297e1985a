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

use anyhow::Context as _;

use teloxide::dispatching::{UpdateFilterExt, UpdateHandler};
use teloxide::dptree;
use teloxide::types::{CallbackQuery, ChatId, Message, Update};

use super::BotContext;
use super::channel::chat_migrated;
use super::client::{self, LANGUAGE_PREFIX};
use super::commands::{is_staff_command, typed};
use super::staff::{self, ESCALATION_PREFIX, TAKEOVER_PREFIX};
use super::who::{ContactRef, Who, contact_by_chat, staff_by_user};

pub fn schema() -> UpdateHandler<anyhow::Error> {
    let private = dptree::filter_map_async(who)
        .branch(dptree::filter_map(Lookup::<Who>::failed).endpoint(lookup_failed))
        .filter_map(Lookup::<Who>::found)
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
                    dptree::filter_map(Lookup::<Option<ContactRef>>::failed)
                        .endpoint(lookup_failed),
                )
                .filter_map(|t: client::Tapper| t.0.ok().flatten())
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

/// The outcome of looking up who wrote or tapped: a database failure is kept, so the update
/// fails (and is tried again, never confirmed) instead of treating the writer as a stranger.
#[derive(Debug, Clone)]
pub struct Lookup<T>(pub Result<T, LookupFailed>);

/// Why a lookup failed, for the error the update ends with.
#[derive(Debug, Clone)]
pub struct LookupFailed(pub Arc<anyhow::Error>);

impl<T: Clone> Lookup<T> {
    fn failed(self) -> Option<LookupFailed> {
        self.0.err()
    }

    fn found(self) -> Option<T> {
        self.0.ok()
    }
}

async fn lookup_failed(failed: LookupFailed) -> anyhow::Result<()> {
    Err(anyhow::anyhow!("{:#}", failed.0))
}

/// The contact this private chat belongs to and the staff member writing, looked up once.
async fn who(msg: Message, ctx: Arc<BotContext>) -> Option<Lookup<Who>> {
    let contact = contact_by_chat(&ctx.pool, msg.chat.id)
        .await
        .context("looking up the contact of a private chat");
    let staff = match &msg.from {
        Some(user) => staff_by_user(&ctx.pool, user)
            .await
            .context("looking up the staff member who wrote"),
        None => Ok(None),
    };
    Some(Lookup(match (contact, staff) {
        (Ok(contact), Ok(staff)) => Ok(Who { contact, staff }),
        (Err(e), _) | (_, Err(e)) => Err(LookupFailed(Arc::new(e))),
    }))
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
