//! `touchbot calendar preview --account A`

use clap::Subcommand;

use super::table::{json, table};
use crate::app::Ctx;
use crate::outbound::preview::{PreviewRow, preview};
use crate::storage::accounts;

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Every touch of an account: when (local time), to whom, which rule, and why it moved
    /// or was skipped.
    Preview {
        /// Account id or name.
        #[arg(long)]
        account: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(ctx: &Ctx, cmd: CalendarCommand) -> anyhow::Result<()> {
    match cmd {
        CalendarCommand::Preview {
            account,
            json: as_json,
        } => {
            let a = accounts::find(&ctx.pool, &account).await?;
            let rows = preview(&ctx.pool, &ctx.settings.calendar, a.id, ctx.now).await?;
            if as_json {
                println!("{}", json(&rows)?);
            } else {
                println!(
                    "Calendar of {} ({}, day 0 {}, renewal {}):",
                    a.name,
                    a.segment,
                    a.day_zero(),
                    a.renewal_date
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "not set".into())
                );
                println!("{}", render(&rows));
            }
        }
    }
    Ok(())
}

pub fn render(rows: &[PreviewRow]) -> String {
    if rows.is_empty() {
        return "  (nothing planned)".into();
    }
    table(
        &["local time", "zone", "touch", "to", "rule", "status", "why"],
        rows.iter()
            .map(|r| {
                let mut why: Vec<String> = r.notes.clone();
                if let Some(reason) = &r.reason {
                    why.push(reason.clone());
                }
                vec![
                    r.local_time.format("%a %Y-%m-%d %H:%M").to_string(),
                    r.time_zone.clone(),
                    r.template.clone(),
                    r.recipient.clone(),
                    r.rule.clone(),
                    r.status.clone(),
                    why.join("; "),
                ]
            })
            .collect(),
    )
}
