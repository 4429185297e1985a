//! `touchbot inbound …`: inbound updates that kept failing while the database was fine, set
//! aside so they no longer held up their chat (staff list them, fix the cause, and replay
//! them), and the strangers who wrote to the bot.

use std::sync::Arc;

use anyhow::Context as _;
use clap::Subcommand;

use super::table::{json, table};
use crate::app::Ctx;
use crate::inbound::{dead_letters, strangers};
use crate::storage::StoreError;

#[derive(Debug, Subcommand)]
pub enum InboundCommand {
    /// Updates set aside after failing again and again, newest first.
    DeadLetters {
        /// Include those a replay has handled since.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Handle an update set aside once more (after fixing what made it fail).
    Replay {
        /// Its id, from `touchbot inbound dead-letters`.
        id: i64,
    },
    /// People who wrote to the bot and are no contact, the latest first: add them with
    /// `touchbot contact add` if they belong to an account.
    Strangers {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(ctx: &Ctx, cmd: InboundCommand) -> anyhow::Result<()> {
    match cmd {
        InboundCommand::DeadLetters { all, json: as_json } => {
            let letters = dead_letters::list(&ctx.pool, all).await?;
            if as_json {
                println!("{}", json(&letters)?);
            } else if letters.is_empty() {
                println!("  (no inbound update is set aside)");
            } else {
                let rows = letters
                    .iter()
                    .map(|l| {
                        vec![
                            l.id.to_string(),
                            l.channel.clone(),
                            l.external_id.clone(),
                            l.last_failed_at.format("%Y-%m-%d %H:%M").to_string(),
                            l.tries.to_string(),
                            l.resolved_at
                                .map_or("waiting".to_string(), |_| "replayed".to_string()),
                            first_line(&l.error),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table(
                        &[
                            "id",
                            "channel",
                            "update",
                            "last failed (UTC)",
                            "tries",
                            "state",
                            "error"
                        ],
                        rows
                    )
                );
                println!("Replay one with: touchbot inbound replay ID");
            }
        }
        InboundCommand::Replay { id } => replay(ctx, id).await?,
        InboundCommand::Strangers { json: as_json } => list_strangers(ctx, as_json).await?,
    }
    Ok(())
}

async fn list_strangers(ctx: &Ctx, as_json: bool) -> anyhow::Result<()> {
    let found = strangers::list(&ctx.pool)
        .await
        .context("reading the strangers who wrote")?;
    if as_json {
        println!("{}", json(&found)?);
        return Ok(());
    }
    if found.is_empty() {
        println!("  (nobody unknown has written to the bot)");
        return Ok(());
    }
    let when = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M").to_string();
    let rows = found
        .iter()
        .map(|s| {
            vec![
                s.channel.clone(),
                s.address.clone(),
                s.display_name.clone().unwrap_or_default(),
                when(s.first_seen_at),
                when(s.last_seen_at),
                s.messages.to_string(),
            ]
        })
        .collect();
    let headers = [
        "channel",
        "address",
        "name",
        "first seen (UTC)",
        "last seen (UTC)",
        "messages",
    ];
    println!("{}", table(&headers, rows));
    println!(
        "Add one who belongs to an account with: touchbot contact add --account ACCOUNT \
         --name NAME --channel CHANNEL --address ADDRESS"
    );
    Ok(())
}

fn first_line(error: &str) -> String {
    let line = error.lines().next().unwrap_or_default();
    if line.chars().count() > 100 {
        format!("{}…", line.chars().take(100).collect::<String>())
    } else {
        line.to_string()
    }
}

async fn replay(ctx: &Ctx, id: i64) -> anyhow::Result<()> {
    let Some(letter) = dead_letters::get(&ctx.pool, id).await? else {
        return Err(StoreError::Invalid(format!(
            "no inbound update {id} is set aside; `touchbot inbound dead-letters --all` lists them"
        ))
        .into());
    };
    if letter.resolved_at.is_some() {
        println!("Update {id} was replayed and handled already; nothing to do.");
        return Ok(());
    }
    let outcome = match letter.channel.as_str() {
        "telegram" => {
            let bot = ctx
                .settings
                .telegram
                .bot()
                .context("reading the Telegram settings")?
                .ok_or_else(|| {
                    StoreError::Invalid(
                        "replaying a Telegram update needs TELOXIDE_TOKEN (and TELOXIDE_API_URL, if \
                         the bot uses another Bot API server)"
                            .into(),
                    )
                })?;
            crate::telegram::polling::replay(
                &bot,
                ctx.pool.clone(),
                Arc::new(ctx.settings.clone()),
                Arc::new(crate::messages::Messages::load()?),
                &letter.payload,
            )
            .await
        }
        "whatsapp" => {
            let worker = crate::whatsapp::worker::Worker::new(
                ctx.pool.clone(),
                Arc::new(ctx.settings.clone()),
                Arc::new(crate::messages::Messages::load()?),
            )?;
            worker.replay(&letter.external_id).await
        }
        other => Err(anyhow::anyhow!("updates from {other} cannot be replayed")),
    };
    dead_letters::replayed(&ctx.pool, id, outcome.as_ref().err(), ctx.now).await?;
    match outcome {
        Ok(()) => {
            println!("Update {id} was handled.");
            Ok(())
        }
        Err(e) => Err(e.context(format!("update {id} failed again; it stays set aside"))),
    }
}
