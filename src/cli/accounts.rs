//! `touchbot account …`

use chrono::NaiveDate;
use clap::Subcommand;

use super::table::{json, money, opt, table};
use super::{parse_arr, parse_date};
use crate::app::Ctx;
use crate::domain::{AccountLifecycle, Segment};
use crate::storage::{accounts, contacts, staff};

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Add a client account; its touch calendar is planned at once.
    Add(AccountFields),
    /// List every account.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one account with its contacts.
    Show {
        /// Account id or name.
        account: String,
        #[arg(long)]
        json: bool,
    },
    /// Change an account; its future touches are re-planned.
    Update {
        /// Account id or name.
        account: String,
        #[command(flatten)]
        fields: UpdateFields,
    },
}

#[derive(Debug, clap::Args)]
pub struct AccountFields {
    #[arg(long)]
    pub name: String,
    /// enterprise, mid_market or smb.
    #[arg(long)]
    pub segment: Segment,
    /// Annual recurring revenue in whole currency units (120000, 120k).
    #[arg(long, value_parser = parse_arr, default_value = "0")]
    pub arr: i64,
    /// Contract start, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub start: NaiveDate,
    /// Go-live date, YYYY-MM-DD; day 0 of the calendar when given.
    #[arg(long, value_parser = parse_date)]
    pub go_live: Option<NaiveDate>,
    /// Renewal date, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub renewal: Option<NaiveDate>,
    /// The owning CSM (staff id or name).
    #[arg(long)]
    pub csm: Option<String>,
    /// IANA time zone of the account, e.g. Asia/Almaty.
    #[arg(long = "tz", default_value = "UTC")]
    pub time_zone: String,
    /// Language of the messages: en or ru.
    #[arg(long, default_value = "en")]
    pub locale: String,
}

#[derive(Debug, clap::Args)]
pub struct UpdateFields {
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub segment: Option<Segment>,
    #[arg(long, value_parser = parse_arr)]
    pub arr: Option<i64>,
    #[arg(long, value_parser = parse_date)]
    pub start: Option<NaiveDate>,
    #[arg(long, value_parser = parse_date, conflicts_with = "clear_go_live")]
    pub go_live: Option<NaiveDate>,
    /// Forget the go-live date: day 0 becomes the contract start again.
    #[arg(long)]
    pub clear_go_live: bool,
    #[arg(long, value_parser = parse_date, conflicts_with = "clear_renewal")]
    pub renewal: Option<NaiveDate>,
    /// Forget the renewal date: its renewal touches are cancelled.
    #[arg(long)]
    pub clear_renewal: bool,
    /// The owning CSM (staff id or name), or `none`.
    #[arg(long)]
    pub csm: Option<String>,
    #[arg(long = "tz")]
    pub time_zone: Option<String>,
    #[arg(long)]
    pub locale: Option<String>,
    /// active, paused or churned.
    #[arg(long)]
    pub state: Option<AccountLifecycle>,
}

pub async fn run(ctx: &Ctx, cmd: AccountCommand) -> anyhow::Result<()> {
    match cmd {
        AccountCommand::Add(f) => {
            let csm_id = match &f.csm {
                Some(k) => Some(staff::find(&ctx.pool, k).await?.id),
                None => None,
            };
            let new = accounts::NewAccount {
                name: f.name,
                segment: f.segment,
                arr_cents: f.arr,
                contract_start: f.start,
                go_live: f.go_live,
                renewal_date: f.renewal,
                csm_id,
                time_zone: f.time_zone,
                locale: f.locale,
            };
            let a = accounts::create(&ctx.pool, &new).await?;
            let planned = ctx.replan(a.id).await?;
            println!(
                "Added account {} (id {}); {} touches planned. Add its contacts with 'touchbot contact add --account {}'.",
                a.name, a.id, planned, a.id
            );
        }
        AccountCommand::List { json: as_json } => {
            let list = accounts::list(&ctx.pool).await?;
            if as_json {
                println!("{}", json(&list)?);
            } else if list.is_empty() {
                println!(
                    "No accounts yet. Add one with 'touchbot account add' or 'touchbot import'."
                );
            } else {
                let rows = list
                    .iter()
                    .map(|a| {
                        vec![
                            a.id.to_string(),
                            a.name.clone(),
                            a.segment.to_string(),
                            money(a.arr_cents),
                            a.day_zero().to_string(),
                            opt(&a.renewal_date),
                            a.lifecycle.to_string(),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table(
                        &["id", "name", "segment", "ARR", "day 0", "renewal", "state"],
                        rows
                    )
                );
            }
        }
        AccountCommand::Show {
            account,
            json: as_json,
        } => {
            let a = accounts::find(&ctx.pool, &account).await?;
            let people = contacts::list(&ctx.pool, a.id).await?;
            let csm = match a.csm_id {
                Some(id) => staff::find(&ctx.pool, &id.to_string())
                    .await
                    .ok()
                    .map(|s| s.name),
                None => None,
            };
            if as_json {
                println!(
                    "{}",
                    json(&serde_json::json!({ "account": a, "csm": csm, "contacts": people }))?
                );
            } else {
                println!("{} (id {})", a.name, a.id);
                println!("  segment:   {}", a.segment);
                println!("  ARR:       {}", money(a.arr_cents));
                println!("  start:     {}", a.contract_start);
                println!("  go-live:   {}", opt(&a.go_live));
                println!("  renewal:   {}", opt(&a.renewal_date));
                println!("  CSM:       {}", csm.unwrap_or_else(|| "(none)".into()));
                println!("  time zone: {}", a.time_zone);
                println!("  language:  {}", a.locale);
                println!("  state:     {}", a.lifecycle);
                println!("{}", super::contacts::contacts_table(&people));
            }
        }
        AccountCommand::Update { account, fields: f } => {
            let a = accounts::find(&ctx.pool, &account).await?;
            let csm_id = match &f.csm {
                Some(k) if k.eq_ignore_ascii_case("none") => Some(None),
                Some(k) => Some(Some(staff::find(&ctx.pool, k).await?.id)),
                None => None,
            };
            let change = accounts::AccountUpdate {
                name: f.name,
                segment: f.segment,
                arr_cents: f.arr,
                contract_start: f.start,
                go_live: if f.clear_go_live {
                    Some(None)
                } else {
                    f.go_live.map(Some)
                },
                renewal_date: if f.clear_renewal {
                    Some(None)
                } else {
                    f.renewal.map(Some)
                },
                csm_id,
                time_zone: f.time_zone,
                locale: f.locale,
                lifecycle: f.state,
            };
            let a = accounts::update(&ctx.pool, a.id, &change).await?;
            let planned = ctx.replan(a.id).await?;
            println!(
                "Updated account {} (id {}); {} touches planned ahead.",
                a.name, a.id, planned
            );
        }
    }
    Ok(())
}
