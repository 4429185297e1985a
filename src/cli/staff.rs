//! `touchbot staff …`

use clap::Subcommand;

use super::table::{json, opt, table};
use crate::app::Ctx;
use crate::domain::StaffRole;
use crate::storage::{StoreError, staff};

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Add a member of the CS team.
    Add {
        #[arg(long)]
        name: String,
        /// csm, cs_manager, vp or admin.
        #[arg(long)]
        role: StaffRole,
        /// Their Telegram user id, so the bot can reach them privately.
        #[arg(long)]
        telegram_id: Option<i64>,
        /// Whom they report to (staff id or name): escalations climb this chain.
        #[arg(long)]
        manager: Option<String>,
        #[arg(long, default_value = "en")]
        locale: String,
    },
    /// List the team.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a member of the team; commands and buttons see the change at once.
    Update {
        /// Staff id or name (a unique part of it is enough).
        staff: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        role: Option<StaffRole>,
        /// Their Telegram user id, or `none`.
        #[arg(long)]
        telegram_id: Option<String>,
        /// Whom they report to (staff id or name), or `none`.
        #[arg(long)]
        manager: Option<String>,
        #[arg(long)]
        locale: Option<String>,
    },
    /// Remove a member of the team: the bot treats them as a stranger from now on. Someone who
    /// still owns accounts is refused until they are given to another CSM.
    Remove {
        /// Staff id or name (a unique part of it is enough).
        staff: String,
    },
}

fn is_none(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("none")
}

fn telegram_id(value: &str) -> Result<Option<i64>, StoreError> {
    if is_none(value) {
        return Ok(None);
    }
    value.trim().parse::<i64>().map(Some).map_err(|_| {
        StoreError::Invalid(format!(
            "'{value}' is not a Telegram user id; give the number, or `none`"
        ))
    })
}

pub async fn run(ctx: &Ctx, cmd: StaffCommand) -> anyhow::Result<()> {
    match cmd {
        StaffCommand::Add {
            name,
            role,
            telegram_id,
            manager,
            locale,
        } => {
            let manager_id = match manager {
                Some(m) => Some(staff::find(&ctx.pool, &m).await?.id),
                None => None,
            };
            let s = staff::add(
                &ctx.pool,
                &staff::NewStaff {
                    name,
                    role,
                    telegram_user_id: telegram_id,
                    locale,
                    manager_id,
                },
            )
            .await?;
            println!("Added {} ({}) as staff {}.", s.name, s.role, s.id);
        }
        StaffCommand::Update {
            staff: key,
            name,
            role,
            telegram_id: tg,
            manager,
            locale,
        } => {
            let who = staff::find(&ctx.pool, &key).await?;
            let manager_id = match manager.as_deref() {
                None => None,
                Some(m) if is_none(m) => Some(None),
                Some(m) => Some(Some(staff::find(&ctx.pool, m).await?.id)),
            };
            let change = staff::StaffUpdate {
                name,
                role,
                telegram_user_id: tg.as_deref().map(telegram_id).transpose()?,
                locale,
                manager_id,
            };
            let s = staff::update(&ctx.pool, who.id, &change).await?;
            println!("Updated {} ({}), staff {}.", s.name, s.role, s.id);
        }
        StaffCommand::Remove { staff: key } => {
            let who = staff::find(&ctx.pool, &key).await?;
            let s = staff::remove(&ctx.pool, who.id).await?;
            println!(
                "Removed {} ({}); the bot no longer answers them.",
                s.name, s.role
            );
        }
        StaffCommand::List { json: as_json } => {
            let list = staff::list(&ctx.pool).await?;
            if as_json {
                println!("{}", json(&list)?);
            } else {
                let by_id: std::collections::HashMap<_, _> =
                    list.iter().map(|s| (s.id, s.name.clone())).collect();
                let rows = list
                    .iter()
                    .map(|s| {
                        vec![
                            s.id.to_string(),
                            s.name.clone(),
                            s.role.to_string(),
                            opt(&s.telegram_user_id),
                            s.manager_id
                                .and_then(|m| by_id.get(&m).cloned())
                                .unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table(&["id", "name", "role", "telegram id", "reports to"], rows)
                );
            }
        }
    }
    Ok(())
}
