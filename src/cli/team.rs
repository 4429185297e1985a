//! `touchbot team …`: the CS team's group chat, where escalation cards are posted.

use clap::Subcommand;
use serde::Serialize;

use super::table::json;
use crate::app::Ctx;
use crate::domain::ChannelKind;
use crate::storage::team_chat::{self, TeamChat};

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Which chat the team's posts go to.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Make a chat the team chat (replacing the current one).
    SetChat {
        /// telegram (a group the bot was added to) or simulated.
        #[arg(long)]
        channel: ChannelKind,
        /// The chat's id on that channel; a Telegram group's id is negative, e.g. -1001234567890.
        #[arg(long, allow_hyphen_values = true)]
        address: String,
    },
    /// Print a one-time code that binds a Telegram group as the team chat: a staff member
    /// sends /bind CODE in the group (the bot must be a member; `touchbot serve` running).
    BindCode,
}

const HOW_TO_BIND: &str = "Bind one with: touchbot team bind-code (then /bind CODE in the group), \
    or touchbot team set-chat --channel telegram --address <the group's chat id, e.g. \
    -1001234567890>";

#[derive(Serialize)]
struct Shown {
    chat: Option<TeamChat>,
    /// Posts that can only go to the team chat and have not gone yet.
    waiting_posts: i64,
}

pub async fn run(ctx: &Ctx, cmd: TeamCommand) -> anyhow::Result<()> {
    match cmd {
        TeamCommand::Show { json: as_json } => {
            let chat = team_chat::get(&ctx.pool).await?;
            let waiting_posts = team_chat::waiting_posts(&ctx.pool).await?;
            if as_json {
                println!(
                    "{}",
                    json(&Shown {
                        chat,
                        waiting_posts
                    })?
                );
                return Ok(());
            }
            match chat {
                Some(chat) => println!(
                    "The team chat is {} chat {}, bound {}.",
                    chat.channel,
                    chat.address,
                    chat.bound_at.format("%Y-%m-%d %H:%M UTC")
                ),
                None => println!(
                    "No team chat is bound yet: posts for the team wait until one is.\n{HOW_TO_BIND}"
                ),
            }
            if waiting_posts > 0 {
                println!("{waiting_posts} post(s) for the team chat have not gone out yet.");
            }
        }
        TeamCommand::SetChat { channel, address } => {
            let chat = team_chat::bind(&ctx.pool, channel, &address, None, ctx.now).await?;
            println!(
                "The team chat is now {} chat {}. Posts for the team go there from now on \
                 (while touchbot serve runs).",
                chat.channel, chat.address
            );
        }
        TeamCommand::BindCode => {
            let code = crate::chat::new_code(&ctx.pool, ctx.now).await?;
            println!(
                "Bind code: {} (works once, until {}).\nAdd the bot to the team's Telegram \
                 group, then send this message in the group:\n\n{}",
                code.code,
                code.expires_at.format("%Y-%m-%d %H:%M UTC"),
                code.command()
            );
        }
    }
    Ok(())
}
