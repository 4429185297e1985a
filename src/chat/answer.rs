//! Running a staff command: who asks, what they asked, and the answer as messages that fit a
//! chat. A fault is logged with its whole cause chain and answered with a plain apology; the
//! person never sees a database error.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::cards::outcome_words;
use super::command::{self, Command, HELP};
use super::identity::{REFUSAL, log_refused, who};
use super::split::{MAX_MESSAGE, split};
use super::{account, portfolio};
use crate::config::Settings;
use crate::escalation::actions::{Action, ActionError, act};
use crate::escalation::card::reason_title;
use crate::storage::StoreError;
use crate::storage::accounts;
use crate::storage::staff::Staff;

/// What anyone sees when the bot could not work out an answer.
pub const TRY_AGAIN: &str =
    "Sorry, I could not put that answer together just now. Please try again in a minute.";

/// A command from the Telegram user `from`: answered for staff, refused for anyone else.
pub async fn command(
    pool: &PgPool,
    settings: &Settings,
    from: i64,
    text: &str,
    now: DateTime<Utc>,
) -> Vec<String> {
    match who(pool, from).await {
        Ok(Some(staff)) => answer(pool, settings, &staff, text, now).await,
        Ok(None) => {
            log_refused(from, command::name(text));
            vec![REFUSAL.to_string()]
        }
        Err(e) => {
            tracing::error!(telegram_user_id = from, error = ?e, "could not look up who sent a command");
            vec![TRY_AGAIN.to_string()]
        }
    }
}

/// The answer to `text` for `staff`, in messages of at most [`MAX_MESSAGE`] characters.
pub async fn answer(
    pool: &PgPool,
    settings: &Settings,
    staff: &Staff,
    text: &str,
    now: DateTime<Utc>,
) -> Vec<String> {
    let reply = match command::parse(text) {
        Err(usage) => usage,
        Ok(cmd) => match run(pool, settings, staff, cmd, now).await {
            Ok(reply) => reply,
            Err(e) => {
                tracing::error!(staff_id = %staff.id, command = command::name(text), error = ?e,
                    "could not answer a staff command");
                TRY_AGAIN.to_string()
            }
        },
    };
    split(&reply, MAX_MESSAGE)
}

async fn run(
    pool: &PgPool,
    settings: &Settings,
    staff: &Staff,
    cmd: Command,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    match cmd {
        Command::Help => Ok(HELP.to_string()),
        Command::Status(None) => portfolio::status(pool, settings, now).await,
        Command::Status(Some(name)) => match accounts::find(pool, &name).await {
            Ok(a) => account::status(pool, &a, settings.escalation.sla.time_zone, now).await,
            Err(e) => not_found(&name, e),
        },
        Command::AtRisk => portfolio::at_risk(pool, settings, now).await,
        Command::Renewals { days } => portfolio::renewals(pool, settings, days, now).await,
        Command::Nps { days } => portfolio::nps(pool, settings, days, now).await,
        Command::Mine => portfolio::mine(pool, settings, staff, now).await,
        Command::Resolve { id, outcome } => {
            match act(pool, id, &Action::Resolve(outcome.clone()), staff.id, now).await {
                Ok(e) => Ok(format!(
                    "Resolved #esc{id} ({}, {}) as {}.",
                    e.account_name,
                    reason_title(e.reason),
                    outcome_words(&outcome)
                )),
                Err(ActionError::NotFound(_)) => Ok(format!(
                    "There is no escalation #esc{id}. /atrisk and /status ACCOUNT list the open \
                     ones with their numbers."
                )),
                Err(ActionError::NotAllowed { message, .. }) => {
                    Ok(format!("Escalation #esc{id}: {message}."))
                }
                Err(ActionError::Database(e)) => Err(e.into()),
            }
        }
    }
}

/// An account name that matched none or several, said so that the next try works.
fn not_found(name: &str, e: StoreError) -> anyhow::Result<String> {
    match e {
        StoreError::NotFound { .. } => Ok(format!(
            "No account matches '{name}'. Part of the name is enough, in any case; /status lists \
             the portfolio, and /renewals, /atrisk and /mine name accounts too."
        )),
        StoreError::Ambiguous { candidates, .. } => {
            let mut out = format!("'{name}' matches several accounts:\n");
            for c in &candidates {
                out.push_str(&format!("• {c}\n"));
            }
            out.push_str("Send /status with more of the name, or with the id.");
            Ok(out)
        }
        other => Err(other.into()),
    }
}
