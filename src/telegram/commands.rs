//! The bot's commands: what clients and staff see in Telegram's command menu, registered with
//! `setMyCommands` per scope, and the reading of a command out of a message's text.
//!
//! Scopes: clients see the client commands everywhere by default; the team's group chats see
//! the staff commands; each staff member with a Telegram id sees the staff commands in their
//! private chat. A staff member added while the bot runs gets their menu at the next start.

use sqlx::PgPool;
use teloxide::Bot;
use teloxide::RequestError;
use teloxide::payloads::SetMyCommandsSetters;
use teloxide::prelude::Requester;
use teloxide::types::{BotCommand, BotCommandScope, ChatId, Recipient};
use teloxide::utils::command::BotCommands;

/// What a client can ask of the bot.
#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum ClientCommand {
    /// Turn surveys and check-ins on
    Start,
    /// Pause surveys and check-ins
    Stop,
    /// Change the language
    Language,
    /// What this bot does
    Help,
}

/// What the CS team can ask of the bot (answered by the staff features).
#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum StaffCommand {
    /// Portfolio, or one account: /status [account]
    Status,
    /// Accounts at risk
    Atrisk,
    /// Renewals ahead: /renewals [days]
    Renewals,
    /// NPS: /nps [days]
    Nps,
    /// Your own accounts
    Mine,
    /// Bind this group as the team chat: /bind <code>
    Bind,
    /// Resolve an escalation with an outcome: /resolve <id> <outcome>
    Resolve,
    /// What this bot does
    Help,
}

/// A command as typed: its name in lower case, without any "@bot" suffix, and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typed<'a> {
    pub name: String,
    pub args: &'a str,
}

/// Reads "/name@bot rest" (the @bot part is optional; for another bot it is not ours).
pub fn typed<'a>(text: &'a str, bot_username: &str) -> Option<Typed<'a>> {
    let text = text.trim_start();
    let rest = text.strip_prefix('/')?;
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (head, args) = rest.split_at(end);
    let (name, addressed) = match head.split_once('@') {
        Some((name, to)) => (name, Some(to)),
        None => (head, None),
    };
    if addressed.is_some_and(|to| !to.eq_ignore_ascii_case(bot_username)) {
        return None;
    }
    let valid = !name.is_empty()
        && name.len() <= 32
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| Typed {
        name: name.to_ascii_lowercase(),
        args: args.trim(),
    })
}

/// Whether a staff member's command is one of the staff features' (rather than a client's).
pub fn is_staff_command(name: &str) -> bool {
    StaffCommand::bot_commands()
        .iter()
        .any(|c| c.command.trim_start_matches('/') == name && name != "help")
}

/// The derive writes names as typed ("/stop"); Telegram's menu takes them bare.
fn menu(commands: Vec<BotCommand>) -> Vec<BotCommand> {
    commands
        .into_iter()
        .map(|c| BotCommand::new(c.command.trim_start_matches('/'), c.description))
        .collect()
}

/// Sets the command menus. A staff member whose private chat Telegram does not know (they never
/// started the bot) is skipped; any other refusal is returned.
pub async fn register(bot: &Bot, pool: &PgPool) -> anyhow::Result<()> {
    let client = menu(ClientCommand::bot_commands());
    let staff_menu = menu(StaffCommand::bot_commands());
    bot.set_my_commands(client).await?;
    bot.set_my_commands(staff_menu.clone())
        .scope(BotCommandScope::AllGroupChats)
        .await?;
    let staff = sqlx::query_scalar!(
        r#"select telegram_user_id as "id!" from staff where telegram_user_id is not null"#
    )
    .fetch_all(pool)
    .await?;
    for id in staff {
        let scope = BotCommandScope::Chat {
            chat_id: Recipient::Id(ChatId(id)),
        };
        match bot.set_my_commands(staff_menu.clone()).scope(scope).await {
            Ok(_) => {}
            Err(RequestError::Api(e)) => {
                tracing::debug!(telegram_user_id = id, error = %e, "no staff menu for this chat");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_read_with_or_without_the_bots_name() {
        let t = typed("/start AbC_1", "acme_bot").unwrap();
        assert_eq!((t.name.as_str(), t.args), ("start", "AbC_1"));
        let t = typed("/Stop@Acme_Bot", "acme_bot").unwrap();
        assert_eq!((t.name.as_str(), t.args), ("stop", ""));
        assert_eq!(typed("/stop@other_bot", "acme_bot"), None);
        assert_eq!(typed("stop", "acme_bot"), None);
        assert_eq!(typed("/ start", "acme_bot"), None);
    }

    #[test]
    fn command_names_follow_telegrams_rules() {
        for c in ClientCommand::bot_commands()
            .into_iter()
            .chain(StaffCommand::bot_commands())
        {
            let name = c.command.trim_start_matches('/');
            assert!((1..=32).contains(&name.len()));
            assert!(
                name.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
            );
        }
    }

    #[test]
    fn staff_commands_are_told_apart_from_client_ones() {
        assert!(is_staff_command("status"));
        assert!(is_staff_command("bind"));
        assert!(!is_staff_command("stop"));
        assert!(!is_staff_command("help"));
    }
}
