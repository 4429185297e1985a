//! `touchbot staff …`

use clap::Subcommand;

use super::table::{json, opt, table};
use crate::app::Ctx;
use crate::domain::StaffRole;
use crate::storage::staff;

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
