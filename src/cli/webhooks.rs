//! `touchbot webhook …`: subscriptions to outgoing events, and their delivery log.

use clap::Subcommand;

use super::table::{json, opt, table};
use crate::app::Ctx;
use crate::webhooks;

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Send events to URL as signed JSON POSTs; prints the signing secret once.
    Add {
        /// The receiver's full address, e.g. https://crm.example.com/touchbot.
        url: String,
        /// Comma-separated: nps_answer, escalation_opened, escalation_resolved,
        /// contact_unreachable, health_category_changed.
        #[arg(long, required = true, value_delimiter = ',')]
        events: Vec<String>,
    },
    /// The webhooks events are sent to.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop sending to a webhook; deliveries not yet made are cancelled.
    Remove {
        /// The webhook's id (see 'webhook list').
        id: i64,
    },
    /// The newest deliveries, with their state and the receiver's last answer.
    Deliveries {
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(ctx: &Ctx, cmd: WebhookCommand) -> anyhow::Result<()> {
    match cmd {
        WebhookCommand::Add { url, events } => {
            let created = webhooks::add(&ctx.pool, &url, &events).await?;
            let s = &created.subscription;
            println!(
                "Webhook {} sends {} to {}.\nIts signing secret (shown only now; keep it with the receiver):\n{}\n\
                 Each POST carries '{}: sha256=<hex HMAC-SHA256 of the body under this secret>'.",
                s.id,
                s.events.join(", "),
                s.url,
                created.secret,
                webhooks::SIGNATURE_HEADER
            );
        }
        WebhookCommand::List { json: as_json } => {
            let subs = webhooks::list(&ctx.pool).await?;
            if as_json {
                println!("{}", json(&subs)?);
            } else if subs.is_empty() {
                println!("No webhooks: add one with 'touchbot webhook add URL --events …'.");
            } else {
                let rows = subs
                    .iter()
                    .map(|s| vec![s.id.to_string(), s.url.clone(), s.events.join(", ")])
                    .collect();
                println!("{}", table(&["id", "url", "events"], rows));
            }
        }
        WebhookCommand::Remove { id } => {
            let cancelled = webhooks::remove(&ctx.pool, id).await?;
            println!(
                "Removed webhook {id}; {cancelled} delivery(ies) not yet made were cancelled."
            );
        }
        WebhookCommand::Deliveries {
            limit,
            json: as_json,
        } => {
            let log = webhooks::deliveries(&ctx.pool, &Default::default(), limit.clamp(1, 10_000))
                .await?;
            if as_json {
                println!("{}", json(&log)?);
            } else if log.is_empty() {
                println!("No deliveries yet.");
            } else {
                let rows = log
                    .iter()
                    .map(|d| {
                        vec![
                            d.id.to_string(),
                            format!("{} ({})", d.event_id, d.kind),
                            d.subscription_id.to_string(),
                            d.status.clone(),
                            d.tries.to_string(),
                            d.last_status.map_or_else(|| "-".into(), |s| s.to_string()),
                            opt(&d.last_error),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table(
                        &["id", "event", "webhook", "status", "tries", "http", "error"],
                        rows
                    )
                );
            }
        }
    }
    Ok(())
}
