//! `touchbot escalation …`: the red signals being worked, and what a person does with them.
//! The chat's card buttons do the same through `escalation::actions`.

use chrono::{DateTime, Utc};
use clap::Subcommand;

use super::table::{json, table};
use crate::app::Ctx;
use crate::domain::EscalationId;
use crate::escalation::actions::{Action, ActionError, act};
use crate::escalation::ladder::escalation_day;
use crate::escalation::store::{self, EscalationRow, Filter};
use crate::escalation::{Outcome, card};
use crate::storage::{StoreError, accounts, staff};

#[derive(Debug, Subcommand)]
pub enum EscalationCommand {
    /// Open and acknowledged escalations, oldest first (or every one with --all).
    List {
        /// Only this account's (id or name).
        #[arg(long)]
        account: Option<String>,
        /// Resolved ones too.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// One escalation with its history.
    Show { id: i64 },
    /// Take an escalation: you own it and the first response is on record.
    #[command(alias = "take")]
    Ack {
        id: i64,
        /// Who takes it (staff id or name).
        #[arg(long)]
        by: String,
    },
    /// Record that the client was contacted.
    Contacted {
        id: i64,
        #[arg(long)]
        by: String,
    },
    /// No re-alerts for a while (the ladder keeps its pace).
    Snooze {
        id: i64,
        #[arg(long)]
        by: String,
        #[arg(long, default_value_t = 1)]
        days: u32,
    },
    /// Close an escalation with its outcome.
    Resolve {
        id: i64,
        #[arg(long)]
        by: String,
        /// saved, recovered, no_action, other:<text>, or churned:<reason> where the reason is
        /// price, missing_feature:<which>, service, business_changed, competitor:<which> or
        /// budget. A churned outcome also marks the account churned.
        #[arg(long)]
        outcome: String,
    },
}

pub async fn run(ctx: &Ctx, cmd: EscalationCommand) -> anyhow::Result<()> {
    let (id, by, action) = match cmd {
        EscalationCommand::List {
            account,
            all,
            json: as_json,
        } => return list(ctx, account, all, as_json).await,
        EscalationCommand::Show { id } => return show(ctx, EscalationId(id)).await,
        EscalationCommand::Ack { id, by } => (id, by, Action::Take),
        EscalationCommand::Contacted { id, by } => (id, by, Action::Contacted),
        EscalationCommand::Snooze { id, by, days } => (id, by, Action::Snooze { days }),
        EscalationCommand::Resolve { id, by, outcome } => {
            let outcome: Outcome =
                outcome
                    .parse()
                    .map_err(|e: crate::escalation::OutcomeParseError| {
                        StoreError::Invalid(e.to_string())
                    })?;
            (id, by, Action::Resolve(outcome))
        }
    };
    let person = staff::find(&ctx.pool, &by).await?;
    let e = act(&ctx.pool, EscalationId(id), &action, person.id, ctx.now)
        .await
        .map_err(|e| match e {
            ActionError::Database(db) => anyhow::Error::from(db),
            user => StoreError::Invalid(user.to_string()).into(),
        })?;
    let done = match &action {
        Action::Take => format!("taken by {}", person.name),
        Action::Contacted => format!("client contacted, recorded by {}", person.name),
        Action::Snooze { days } => format!("snoozed for {days} day(s) by {}", person.name),
        Action::Resolve(outcome) => format!("resolved by {} as {outcome}", person.name),
    };
    println!(
        "Escalation #{} ({}, {}) {done}.",
        e.id,
        e.account_name,
        card::reason_title(e.reason)
    );
    if matches!(&action, Action::Resolve(Outcome::Churned(_))) {
        println!(
            "{} is now marked churned: it receives no more touches; its history stays.",
            e.account_name
        );
    }
    Ok(())
}

fn sla_text(e: &EscalationRow, now: DateTime<Utc>) -> String {
    match (e.first_response_at, e.sla_due_at) {
        (Some(at), Some(due)) if at <= due => "met".into(),
        (Some(_), Some(_)) => "met late".into(),
        (Some(_), None) => "answered".into(),
        (None, Some(due)) if due <= now => "BREACHED".into(),
        (None, Some(due)) => format!("due {}", due.format("%m-%d %H:%M")),
        (None, None) => "-".into(),
    }
}

async fn list(ctx: &Ctx, account: Option<String>, all: bool, as_json: bool) -> anyhow::Result<()> {
    let account = match account {
        Some(key) => Some(accounts::find(&ctx.pool, &key).await?.id),
        None => None,
    };
    let filter = if all {
        Filter::All(account)
    } else {
        Filter::Unresolved(account)
    };
    let mut conn = ctx.pool.acquire().await?;
    let rows = store::fetch(&mut conn, filter, false).await?;
    if as_json {
        println!("{}", json(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!(
            "  (no {}escalations{})",
            if all { "" } else { "open " },
            if account.is_some() {
                " for this account"
            } else {
                ""
            }
        );
        return Ok(());
    }
    let now = ctx.now;
    let body = rows
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                e.account_name.clone(),
                card::reason_title(e.reason).to_string(),
                e.severity.to_string(),
                e.status.clone(),
                if e.resolved_at.is_some() {
                    "-".into()
                } else {
                    format!("day {}", escalation_day(e.opened_at, now))
                },
                e.notified_level.clone().unwrap_or_else(|| "-".into()),
                e.owner_name.clone().unwrap_or_else(|| "-".into()),
                sla_text(e, now),
                e.evidence.clone(),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &[
                "id", "account", "reason", "severity", "status", "age", "level", "owner", "SLA",
                "evidence",
            ],
            body
        )
    );
    Ok(())
}

async fn show(ctx: &Ctx, id: EscalationId) -> anyhow::Result<()> {
    let mut conn = ctx.pool.acquire().await?;
    let Some(e) = store::fetch(&mut conn, Filter::One(id), false).await?.pop() else {
        return Err(StoreError::Invalid(ActionError::NotFound(id).to_string()).into());
    };
    println!(
        "Escalation #{} · {} · {}\n{}\n",
        e.id,
        e.account_name,
        card::reason_title(e.reason),
        e.evidence
    );
    println!(
        "Severity {}, status {}, ladder {}, owner {}, SLA {}",
        e.severity,
        e.status,
        e.notified_level.as_deref().unwrap_or("-"),
        e.owner_name.as_deref().unwrap_or("none"),
        sla_text(&e, ctx.now)
    );
    if let Some(outcome) = &e.outcome {
        println!("Outcome: {outcome}");
    }
    if let (Some(at), Some(before)) = (e.recovered_at, e.nps_score) {
        println!(
            "Recovered on {} (detractor score {before})",
            at.format("%Y-%m-%d")
        );
    }
    let history = store::events(&mut conn, e.id).await?;
    let rows = history
        .into_iter()
        .map(|ev| {
            vec![
                ev.at.format("%Y-%m-%d %H:%M").to_string(),
                ev.kind,
                ev.staff.unwrap_or_default(),
                ev.details,
            ]
        })
        .collect();
    println!(
        "\n{}",
        table(&["when (UTC)", "what", "who", "details"], rows)
    );
    Ok(())
}
