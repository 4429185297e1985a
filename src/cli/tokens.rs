//! `touchbot token …`: the bearer tokens of the integration API.

use clap::Subcommand;
use secrecy::ExposeSecret;

use super::table::{json, table};
use crate::app::Ctx;
use crate::storage::tokens;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for an integration; it is printed once and cannot be shown again.
    Create {
        /// What uses it, such as crm or product-usage (unique among working tokens).
        #[arg(long)]
        name: String,
    },
    /// List the tokens: name, created, last used, revoked (never the token itself).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its name or id: requests with it are refused from now on.
    Revoke {
        /// The token's name or id (see 'token list').
        token: String,
    },
}

fn when(at: &Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map_or_else(
        || "-".into(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

pub async fn run(ctx: &Ctx, cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create { name } => {
            let issued = tokens::create(&ctx.pool, &name, ctx.now).await?;
            println!(
                "Created token '{}' (id {}). Copy it now; it is not stored and cannot be shown again:",
                issued.token.name, issued.token.id
            );
            println!("{}", issued.secret.expose_secret());
            println!("Send it as the header 'Authorization: Bearer <token>'.");
        }
        TokenCommand::List { json: as_json } => {
            let list = tokens::list(&ctx.pool).await?;
            if as_json {
                println!("{}", json(&list)?);
            } else if list.is_empty() {
                println!("No API tokens yet. Create one with 'touchbot token create --name crm'.");
            } else {
                let rows = list
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.name.clone(),
                            when(&Some(t.created_at)),
                            when(&t.last_used_at),
                            when(&t.revoked_at),
                        ]
                    })
                    .collect();
                let head = ["id", "name", "created", "last used", "revoked"];
                println!("{}", table(&head, rows));
            }
        }
        TokenCommand::Revoke { token } => {
            let t = tokens::revoke(&ctx.pool, &token, ctx.now).await?;
            println!(
                "Revoked token '{}' (id {}); requests with it get 401 now.",
                t.name, t.id
            );
        }
    }
    Ok(())
}
