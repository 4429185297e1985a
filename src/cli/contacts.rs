//! `touchbot contact …`

use clap::Subcommand;

use super::table::{json, opt, table};
use crate::app::Ctx;
use crate::domain::{ChannelKind, ContactId, ContactRole};
use crate::storage::accounts;
use crate::storage::contacts::{self, Contact};

#[derive(Debug, Subcommand)]
pub enum ContactCommand {
    /// Add a contact to an account.
    Add {
        /// Account id or name.
        #[arg(long)]
        account: String,
        #[arg(long)]
        name: String,
        /// decision_maker, champion or user.
        #[arg(long)]
        role: ContactRole,
        /// telegram, whatsapp or simulated.
        #[arg(long, default_value = "telegram")]
        channel: ChannelKind,
        /// Phone number (WhatsApp), chat id (Telegram; usually left out: the contact joins
        /// by link) or handle (simulated).
        #[arg(long)]
        address: Option<String>,
        /// The contact's own time zone, when it differs from the account's.
        #[arg(long = "tz")]
        time_zone: Option<String>,
        /// The contact's language, when it differs from the account's.
        #[arg(long)]
        locale: Option<String>,
    },
    /// List an account's contacts.
    List {
        #[arg(long)]
        account: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a contact: nothing more is sent to them, their history stays.
    Remove {
        #[arg(long)]
        account: String,
        /// The contact's id (see 'contact list').
        id: i64,
    },
}

pub fn contacts_table(people: &[Contact]) -> String {
    if people.is_empty() {
        return "  (no contacts yet: add one with 'touchbot contact add')".into();
    }
    let rows = people
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                c.name.clone(),
                c.role.to_string(),
                c.channel.to_string(),
                c.address.clone().unwrap_or_else(|| "(not joined)".into()),
                opt(&c.time_zone),
                match (&c.unreachable_reason, c.opted_out.is_empty()) {
                    (Some(r), _) => format!("unreachable ({r})"),
                    (None, false) => format!(
                        "opted out of {}",
                        c.opted_out
                            .iter()
                            .map(|x| x.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    (None, true) => "ok".into(),
                },
            ]
        })
        .collect();
    table(
        &[
            "id",
            "name",
            "role",
            "channel",
            "address",
            "time zone",
            "state",
        ],
        rows,
    )
}

pub async fn run(ctx: &Ctx, cmd: ContactCommand) -> anyhow::Result<()> {
    match cmd {
        ContactCommand::Add {
            account,
            name,
            role,
            channel,
            address,
            time_zone,
            locale,
        } => {
            let a = accounts::find(&ctx.pool, &account).await?;
            let c = contacts::add(
                &ctx.pool,
                &contacts::NewContact {
                    account_id: a.id,
                    name,
                    role,
                    channel,
                    address,
                    time_zone,
                    locale,
                },
                ctx.now,
            )
            .await?;
            ctx.replan(a.id).await?;
            println!(
                "Added {} (contact {}) to {} as {}.",
                c.name, c.id, a.name, c.role
            );
            if c.channel == ChannelKind::Telegram && c.address.is_none() {
                println!(
                    "They join on Telegram through a personal link; the Telegram adapter prints it once it is configured."
                );
            }
        }
        ContactCommand::List {
            account,
            json: as_json,
        } => {
            let a = accounts::find(&ctx.pool, &account).await?;
            let people = contacts::list(&ctx.pool, a.id).await?;
            if as_json {
                println!("{}", json(&people)?);
            } else {
                println!("{}", contacts_table(&people));
            }
        }
        ContactCommand::Remove { account, id } => {
            let a = accounts::find(&ctx.pool, &account).await?;
            contacts::remove(&ctx.pool, a.id, ContactId(id), ctx.now).await?;
            ctx.replan(a.id).await?;
            println!("Removed contact {id} from {}.", a.name);
        }
    }
    Ok(())
}
