//! `touchbot contact …`

use clap::Subcommand;

use super::table::{json, opt, table};
use crate::app::Ctx;
use crate::domain::{ChannelKind, ContactId, ContactRole};
use crate::storage::accounts;
use crate::storage::consents::{self, CATEGORIES};
use crate::storage::contact_update::{self, ContactUpdate};
use crate::storage::contacts::{self, Contact};
use crate::storage::{StoreError, erasure, invites};

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
    /// Print a fresh Telegram join link for a contact (older unused links stop working).
    Invite {
        #[arg(long)]
        account: String,
        /// The contact's id, name, or a unique part of the name.
        contact: String,
    },
    /// Show what a contact agreed to receive now, and every change with its time and source.
    Consent {
        /// The contact's id (see 'contact list').
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Change a contact's name, role, address, time zone or language; the account is
    /// re-planned.
    Update {
        #[arg(long)]
        account: String,
        /// The contact's id, name, or a unique part of the name.
        contact: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        role: Option<ContactRole>,
        /// A new address, checked for the contact's channel (E.164 for WhatsApp).
        #[arg(long)]
        address: Option<String>,
        /// The contact's own time zone, or `none` to follow the account's.
        #[arg(long = "tz")]
        time_zone: Option<String>,
        /// The contact's language, or `none` to follow the account's.
        #[arg(long)]
        locale: Option<String>,
    },
    /// Remove a contact: nothing more is sent to them, their history stays.
    Remove {
        #[arg(long)]
        account: String,
        /// The contact's id (see 'contact list').
        id: i64,
    },
    /// Erase a contact at their request: their name, address, words and raw messages are
    /// removed everywhere; counts and scores stay, anonymous. Cannot be undone.
    Erase {
        /// The contact's id (see 'contact list').
        id: i64,
        /// Go ahead: without it the command only says what it would erase.
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        json: bool,
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
                if ctx.settings.telegram.bot_username.is_some() {
                    print_invite(ctx, &c).await?;
                } else {
                    println!("{}", invites::no_username(&c));
                }
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
        ContactCommand::Invite { account, contact } => {
            let a = accounts::find(&ctx.pool, &account).await?;
            let c = contacts::find(&ctx.pool, a.id, &contact).await?;
            print_invite(ctx, &c).await?;
        }
        ContactCommand::Consent { id, json: as_json } => {
            print_consent(ctx, ContactId(id), as_json).await?;
        }
        ContactCommand::Update {
            account,
            contact,
            name,
            role,
            address,
            time_zone,
            locale,
        } => {
            let a = accounts::find(&ctx.pool, &account).await?;
            let c = contacts::find(&ctx.pool, a.id, &contact).await?;
            let or_none =
                |v: Option<String>| v.map(|v| Some(v).filter(|v| !v.eq_ignore_ascii_case("none")));
            let change = ContactUpdate {
                name,
                role,
                address,
                time_zone: or_none(time_zone),
                locale: or_none(locale),
            };
            let c = contact_update::update(&ctx.pool, c.id, &change).await?;
            ctx.replan(a.id).await?;
            println!("Updated {} (contact {}) of {}.", c.name, c.id, a.name);
        }
        ContactCommand::Remove { account, id } => {
            let a = accounts::find(&ctx.pool, &account).await?;
            contacts::remove(&ctx.pool, a.id, ContactId(id), ctx.now).await?;
            ctx.replan(a.id).await?;
            println!("Removed contact {id} from {}.", a.name);
        }
        ContactCommand::Erase {
            id,
            yes,
            json: as_json,
        } => erase(ctx, ContactId(id), yes, as_json).await?,
    }
    Ok(())
}

/// `contact erase ID`: refuses without --yes, then prints what went, table by table.
async fn erase(ctx: &Ctx, id: ContactId, yes: bool, as_json: bool) -> anyhow::Result<()> {
    let Some(who) = erasure::describe(&ctx.pool, id).await? else {
        return Err(StoreError::NotFound {
            what: "contact",
            name: id.to_string(),
            hint: "'touchbot contact list --account A' shows the account's contacts and their ids",
        }
        .into());
    };
    if !yes {
        return Err(StoreError::Invalid(format!(
            "erasing contact {id} ({who}) removes their name, address, words and messages for \
             good and cannot be undone; run 'touchbot contact erase {id} --yes' to go ahead"
        ))
        .into());
    }
    let report = erasure::erase_contact_at(&ctx.pool, id, ctx.now).await?;
    if as_json {
        println!("{}", json(&report)?);
    } else if report.already_erased {
        println!(
            "Contact {id} was already erased on {}; nothing left to remove.",
            report.erased_at.format("%Y-%m-%d %H:%M UTC")
        );
    } else {
        println!("Erased contact {id}; what was removed or changed:");
        let rows = report
            .changes
            .iter()
            .map(|c| vec![c.table.clone(), c.action.to_string(), c.rows.to_string()])
            .collect();
        println!("{}", table(&["table", "action", "rows"], rows));
    }
    Ok(())
}

/// Issues a join link and prints it, or says what is missing to make one.
async fn print_invite(ctx: &Ctx, contact: &Contact) -> anyhow::Result<()> {
    let link = invites::join_link(&ctx.pool, &ctx.settings.telegram, contact, ctx.now).await?;
    println!(
        "Send {} this link to join on Telegram (it works once, until {}):\n{}",
        contact.name,
        link.expires_at.format("%Y-%m-%d %H:%M UTC"),
        link.url
    );
    Ok(())
}

/// `contact consent ID`: the current state per category, then the history, oldest first.
async fn print_consent(ctx: &Ctx, id: ContactId, as_json: bool) -> anyhow::Result<()> {
    let contact = contacts::get(&ctx.pool, id)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: "contact",
            name: id.to_string(),
            hint: "see 'touchbot contact list --account ACCOUNT' for the ids",
        })?;
    let history = consents::history(&ctx.pool, id).await?;
    if as_json {
        let value = serde_json::json!({
            "contact": contact.id,
            "opted_out": contact.opted_out,
            "history": history,
        });
        println!("{}", json(&value)?);
        return Ok(());
    }
    println!(
        "{} (contact {}, on {}):",
        contact.name, contact.id, contact.channel
    );
    let now = CATEGORIES.iter().map(|category| {
        let out = contact.opted_out.contains(category);
        let since = history
            .iter()
            .rev()
            .find(|h| h.category == category.as_str());
        vec![
            category.to_string(),
            if out { "opted out" } else { "receives" }.to_string(),
            since.map_or_else(
                || "-".to_string(),
                |h| {
                    format!(
                        "{} ({})",
                        h.changed_at.format("%Y-%m-%d %H:%M UTC"),
                        h.source
                    )
                },
            ),
        ]
    });
    println!("{}", table(&["category", "now", "since"], now.collect()));
    if history.is_empty() {
        println!("No changes: the contact receives everything, as every contact does at first.");
        return Ok(());
    }
    println!("History, oldest first:");
    let rows = history
        .iter()
        .map(|h| {
            vec![
                h.changed_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                h.category.clone(),
                if h.opted_out { "opted out" } else { "opted in" }.to_string(),
                h.source.clone(),
            ]
        })
        .collect();
    println!("{}", table(&["when", "category", "change", "source"], rows));
    Ok(())
}
