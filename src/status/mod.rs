//! What a manager asks first: how is the portfolio doing, how is each CSM's, and how is this
//! account doing. The team figures come from `metrics`; this module reads the per-account rows
//! and lays everything out for the terminal.
//!
//! - `accounts`: one row per account; `account`: one account in full
//! - `portfolio`: the metrics, the per-CSM table and the accounts table
//! - `page`: which accounts the portfolio lists, and in what order

mod account;
mod accounts;
mod page;
mod portfolio;

pub use account::render_account;
pub use accounts::{AccountStatus, account_statuses, nps_between};
pub use page::{AccountOrder, FIRST_PAGE, Listing};
pub use portfolio::{Portfolio, portfolio, portfolio_listing, portfolio_of, render_portfolio};

use crate::app::Ctx;
use crate::cli::StatusArgs;
use crate::metrics::Params;
use crate::storage::{accounts as account_store, staff};

pub async fn run(ctx: &Ctx, args: StatusArgs) -> anyhow::Result<()> {
    let params = Params::from_settings(&ctx.settings);
    match args.account {
        None => {
            let csm = match &args.csm {
                Some(key) => Some(staff::find(&ctx.pool, key).await?),
                None => None,
            };
            let listing = if args.all {
                Listing::All
            } else {
                Listing::First(FIRST_PAGE)
            };
            let p = portfolio_listing(&ctx.pool, ctx.now, csm.as_ref(), &params, listing).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                print!("{}", render_portfolio(&p));
            }
        }
        Some(key) => {
            let account = account_store::find(&ctx.pool, &key).await?;
            let all = account_statuses(&ctx.pool, ctx.now, Some(account.id.0)).await?;
            let a = all
                .into_iter()
                .find(|s| s.id == account.id.0)
                .ok_or_else(|| anyhow::anyhow!("account {} vanished", account.id))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&a)?);
            } else {
                print!("{}", render_account(&a));
            }
        }
    }
    Ok(())
}
