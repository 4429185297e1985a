//! `touchbot signal …`: feeding outside facts about an account, which re-scores its health.
//! A ticket's opening or closing also re-plans the account: a closed ticket brings a CSAT
//! survey, and one opened again takes it back.

use chrono::{DateTime, NaiveDate, Utc};
use clap::Subcommand;

use super::table::{json, opt, table};
use crate::app::Ctx;
use crate::inbound::signal_store;
use crate::inbound::signals::{RawSignal, not_in_future, parse_signal};
use crate::storage::{StoreError, accounts, contacts};

#[derive(Debug, Subcommand)]
pub enum SignalCommand {
    /// Record a fact about an account and re-score its health (a ticket's opening or closing
    /// also re-plans its touches: a closed ticket brings a CSAT survey).
    Add {
        /// Account id or name.
        #[arg(long)]
        account: String,
        /// What happened: active_users, licences, login_days_30, feature_adoption,
        /// ticket_opened, ticket_closed, payment_on_time, payment_late, goal_set, goal_met,
        /// sponsor_present, sponsor_left, champion_changed, competitor_mentioned,
        /// renewal_progress (the CSM moved the renewal deal forward).
        #[arg(long)]
        kind: String,
        /// The figure, for the usage kinds; for payment_on_time and payment_late, the amount
        /// paid in currency units (optional; revenue retention in `status` needs it).
        #[arg(long, allow_negative_numbers = true)]
        value: Option<f64>,
        /// The ticket's id, for ticket_opened and ticket_closed.
        #[arg(long)]
        ticket: Option<String>,
        /// low, normal, high or critical, for ticket_opened.
        #[arg(long)]
        severity: Option<String>,
        /// The client's rating 1-5 of a closed ticket, when the helpdesk collected one (then
        /// touchbot does not ask).
        #[arg(long)]
        csat: Option<f64>,
        /// The contact (id or name) who raised the ticket, for ticket_opened and
        /// ticket_closed: the CSAT survey asks them.
        #[arg(long)]
        contact: Option<String>,
        /// The competitor's name, for competitor_mentioned.
        #[arg(long)]
        competitor: Option<String>,
        /// When it happened: YYYY-MM-DDTHH:MM:SSZ or YYYY-MM-DD (midnight UTC); default now.
        #[arg(long)]
        at: Option<String>,
        /// Your own key for this fact; feeding the same key again changes nothing.
        #[arg(long)]
        key: Option<String>,
    },
    /// List an account's signals, newest first.
    List {
        #[arg(long)]
        account: String,
        #[arg(long)]
        json: bool,
    },
}

/// Reads `--at`: a UTC instant, or a date meaning its midnight UTC.
fn parse_at(raw: &str) -> Result<DateTime<Utc>, StoreError> {
    let t = raw.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.with_timezone(&Utc));
    }
    if let Ok(day) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    Err(StoreError::Invalid(format!(
        "'{t}' is not a time; write YYYY-MM-DDTHH:MM:SSZ or YYYY-MM-DD"
    )))
}

pub async fn run(ctx: &Ctx, cmd: SignalCommand) -> anyhow::Result<()> {
    match cmd {
        SignalCommand::Add {
            account,
            kind,
            value,
            ticket,
            severity,
            csat,
            competitor,
            contact,
            at,
            key,
        } => {
            let occurred_at = match at {
                Some(raw) => parse_at(&raw)?,
                None => ctx.now,
            };
            not_in_future(occurred_at, ctx.now).map_err(|e| StoreError::Invalid(e.0))?;
            let a = accounts::find(&ctx.pool, &account).await?;
            let contact = match contact {
                Some(key) => Some(contacts::find(&ctx.pool, a.id, &key).await?.id),
                None => None,
            };
            let raw = RawSignal {
                kind,
                value,
                ticket,
                severity,
                csat,
                competitor,
                contact,
                occurred_at,
                key,
            };
            let signal = parse_signal(a.id, &raw).map_err(|e| StoreError::Invalid(e.0))?;
            // The signal and what follows it are stored together; a run cut short is finished
            // by running the same command (with --key) again, or by `serve`'s sweep.
            let recorded =
                signal_store::record(&ctx.pool, &ctx.settings, &signal, "cli", ctx.now).await?;
            match recorded.id {
                Some(id) => println!("Recorded {} for {} (signal {id}).", signal.kind, a.name),
                None => println!(
                    "This signal is already recorded for {} (key '{}'); nothing changed.",
                    a.name, signal.idempotency_key
                ),
            }
            let done = recorded.followups?;
            if let Some(planned) = done.replanned {
                println!("{planned} touches planned ahead for {}.", a.name);
            }
            let Some(judged) = done.reassessed else {
                return Ok(());
            };
            match judged.scores.first() {
                Some((_, s)) => println!("Health: {}", s.summary()),
                None => println!(
                    "Health is not scored for {}: the account is churned.",
                    a.name
                ),
            }
            let e = judged.escalations;
            if e.opened + e.realerted > 0 {
                println!(
                    "Escalations: {} opened, {} worse; `touchbot escalation list --account {}` shows them.",
                    e.opened, e.realerted, a.id
                );
            }
        }
        SignalCommand::List {
            account,
            json: as_json,
        } => {
            let a = accounts::find(&ctx.pool, &account).await?;
            let signals = signal_store::list(&ctx.pool, a.id).await?;
            if as_json {
                println!("{}", json(&signals)?);
            } else if signals.is_empty() {
                println!(
                    "  (no signals for {} yet: add one with 'touchbot signal add')",
                    a.name
                );
            } else {
                let rows = signals
                    .iter()
                    .map(|s| {
                        vec![
                            s.id.to_string(),
                            s.occurred_at.format("%Y-%m-%d %H:%M").to_string(),
                            s.kind.clone(),
                            opt(&s.contact_id),
                            opt(&s.value),
                            s.details.to_string(),
                            s.source.clone(),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table(
                        &[
                            "id", "at (UTC)", "kind", "contact", "value", "details", "source"
                        ],
                        rows
                    )
                );
            }
        }
    }
    Ok(())
}
