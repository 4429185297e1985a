//! `touchbot outbox …`: the touches the dispatcher could not settle by itself, and the
//! operator's decisions about them.
//!
//! A send interrupted by a crash is left 'unknown' when its channel cannot say whether the
//! message arrived, and the dispatcher never resends it blindly: a person checks with the
//! recipient and then either confirms it (`mark-sent`) or sends it again (`requeue`).

use chrono::{DateTime, Utc};
use clap::{Subcommand, ValueEnum};
use serde::Serialize;

use super::table::{json, table};
use crate::app::Ctx;
use crate::domain::{AccountId, TouchId};
use crate::outbound::outbox::{self, RequeueError};
use crate::storage::{StoreError, accounts};

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Touches waiting for a decision (unknown or failed), or those of one status.
    List {
        /// Only touches in this state; without it, the unknown and failed ones.
        #[arg(long)]
        status: Option<TouchStatus>,
        /// Only this account's touches (id or name).
        #[arg(long)]
        account: Option<String>,
        /// At most this many rows, the earliest due first.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Send an unknown or failed touch again, as soon as the dispatcher gets to it.
    Requeue {
        /// The touch id, from 'touchbot outbox list'.
        id: i64,
    },
    /// Record that an unknown touch did arrive (the recipient or the provider confirmed it).
    MarkSent {
        /// The touch id, from 'touchbot outbox list'.
        id: i64,
        /// The provider's id of the message, if you found it.
        #[arg(long)]
        message_id: Option<String>,
    },
}

/// The states of a touch in the outbox, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TouchStatus {
    Planned,
    Claimed,
    Sending,
    Sent,
    Skipped,
    Failed,
    Cancelled,
    Unknown,
}

impl TouchStatus {
    fn as_str(self) -> &'static str {
        match self {
            TouchStatus::Planned => "planned",
            TouchStatus::Claimed => "claimed",
            TouchStatus::Sending => "sending",
            TouchStatus::Sent => "sent",
            TouchStatus::Skipped => "skipped",
            TouchStatus::Failed => "failed",
            TouchStatus::Cancelled => "cancelled",
            TouchStatus::Unknown => "unknown",
        }
    }
}

/// One touch as the operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: TouchId,
    pub account_id: AccountId,
    pub account: String,
    /// The contact's or staff member's name; `None` when the recipient is gone.
    pub recipient: Option<String>,
    pub channel: Option<String>,
    pub touch_key: String,
    pub kind: String,
    pub due_at: DateTime<Utc>,
    pub status: String,
    pub attempt: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub status_reason: Option<String>,
    pub last_error: Option<String>,
    /// The worker that last held the touch: where to look in the logs.
    pub lease_owner: Option<String>,
    pub updated_at: DateTime<Utc>,
}

pub async fn run(ctx: &Ctx, cmd: OutboxCommand) -> anyhow::Result<()> {
    match cmd {
        OutboxCommand::List {
            status,
            account,
            limit,
            json: as_json,
        } => {
            let account = match account {
                Some(key) => Some(accounts::find(&ctx.pool, &key).await?),
                None => None,
            };
            let statuses: Vec<String> = match status {
                Some(s) => vec![s.as_str().to_string()],
                None => vec!["unknown".into(), "failed".into()],
            };
            if limit < 1 {
                return Err(StoreError::Invalid("--limit must be at least 1".into()).into());
            }
            let mut rows = list(ctx, &statuses, account.as_ref().map(|a| a.id), limit + 1).await?;
            let more = rows.len() as i64 > limit;
            rows.truncate(limit as usize);
            if as_json {
                println!("{}", json(&rows)?);
                return Ok(());
            }
            let what = match status {
                Some(s) => format!("{} touches", s.as_str()),
                None => "unknown or failed touches".into(),
            };
            let whose = account
                .as_ref()
                .map(|a| format!(" for {}", a.name))
                .unwrap_or_default();
            if rows.is_empty() {
                println!("No {what}{whose}.");
                return Ok(());
            }
            println!("{}", render(&rows));
            if more {
                println!("Only the first {limit} {what}{whose} are shown; use --limit for more.");
            }
            if rows.iter().any(|r| r.status == "unknown") {
                println!(
                    "An unknown touch may or may not have reached its recipient. Check with them, \
                     then run 'touchbot outbox mark-sent ID' if it arrived, or \
                     'touchbot outbox requeue ID' to send it again."
                );
            }
            if rows.iter().any(|r| r.status == "failed") {
                println!(
                    "A failed touch is not retried by itself. Fix the cause shown, then run \
                     'touchbot outbox requeue ID' to send it again."
                );
            }
        }
        OutboxCommand::Requeue { id } => {
            let id = TouchId(id);
            let mut conn = ctx.pool.acquire().await?;
            match outbox::requeue(&mut conn, id, ctx.now).await {
                Ok(()) => println!(
                    "Touch {id} is back in the queue; a running 'touchbot serve' sends it at its \
                     next pass, without waiting for the send window."
                ),
                Err(RequeueError::NotFound(id)) => return Err(no_such_touch(id).into()),
                Err(RequeueError::NotRequeueable { id, status }) => {
                    return Err(StoreError::Invalid(cannot_requeue(id, &status)).into());
                }
                Err(e @ RequeueError::Database(_)) => return Err(e.into()),
            }
        }
        OutboxCommand::MarkSent { id, message_id } => {
            let id = TouchId(id);
            if mark_sent_by_operator(ctx, id, message_id.as_deref()).await? {
                println!("Touch {id} is recorded as sent; it will not be sent again.");
            } else {
                return Err(match status_of(ctx, id).await? {
                    None => no_such_touch(id),
                    Some(status) => StoreError::Invalid(cannot_mark_sent(id, &status)),
                }
                .into());
            }
        }
    }
    Ok(())
}

fn no_such_touch(id: TouchId) -> StoreError {
    StoreError::NotFound {
        what: "touch",
        name: id.to_string(),
        hint: "'touchbot outbox list' shows the touches waiting for a decision with their ids",
    }
}

/// Why `requeue` refused a touch in `status`, and what to do instead.
fn cannot_requeue(id: TouchId, status: &str) -> String {
    let why = match status {
        "planned" => "it is already waiting to be sent",
        "claimed" | "sending" => {
            "a dispatcher is sending it right now; if that worker died, the lease rescue settles \
             it within a few minutes, then list it again"
        }
        "sent" => "it was already sent, and sending it again would repeat the message",
        "skipped" | "cancelled" => {
            "the calendar decided not to send it; change the account or contact and it is \
             re-planned if it still applies"
        }
        _ => "its state does not allow it",
    };
    format!(
        "touch {id} is '{status}': {why}. Only unknown or failed touches can be requeued \
         ('touchbot outbox list' shows them)"
    )
}

/// Why `mark-sent` refused a touch in `status`, and what to do instead.
fn cannot_mark_sent(id: TouchId, status: &str) -> String {
    let why = match status {
        "sent" => "it is already recorded as sent".to_string(),
        "failed" => format!(
            "its channel refused it, so it did not arrive; to try again, run \
             'touchbot outbox requeue {id}'"
        ),
        "planned" | "claimed" | "sending" => {
            "it has not been handed to a channel yet, or is being sent right now".to_string()
        }
        _ => "it was never sent".to_string(),
    };
    format!(
        "touch {id} is '{status}': {why}. Only an unknown touch can be marked sent by hand \
         ('touchbot outbox list --status unknown' shows them)"
    )
}

async fn list(
    ctx: &Ctx,
    statuses: &[String],
    account: Option<AccountId>,
    limit: i64,
) -> Result<Vec<OutboxRow>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        select t.id, t.account_id, a.name as account_name, t.touch_key, t.kind, t.due_at,
               t.status, t.attempt, t.next_attempt_at, t.status_reason, t.last_error,
               t.lease_owner, t.updated_at,
               coalesce(c.name, s.name) as "recipient?",
               case when t.staff_id is not null then 'telegram' else c.channel end as "channel?"
          from touches t
          join accounts a on a.id = t.account_id
          left join contacts c on c.id = t.contact_id
          left join staff s on s.id = t.staff_id
         where t.status = any($1)
           and ($2::bigint is null or t.account_id = $2)
         order by t.due_at, t.id
         limit $3
        "#,
        statuses,
        account.map(|a| a.0),
        limit,
    )
    .fetch_all(&ctx.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| OutboxRow {
            id: TouchId(r.id),
            account_id: AccountId(r.account_id),
            account: r.account_name,
            recipient: r.recipient,
            channel: r.channel,
            touch_key: r.touch_key,
            kind: r.kind,
            due_at: r.due_at,
            status: r.status,
            attempt: r.attempt,
            next_attempt_at: r.next_attempt_at,
            status_reason: r.status_reason,
            last_error: r.last_error,
            lease_owner: r.lease_owner,
            updated_at: r.updated_at,
        })
        .collect())
}

fn render(rows: &[OutboxRow]) -> String {
    table(
        &[
            "id",
            "account",
            "recipient",
            "touch",
            "due (UTC)",
            "status",
            "attempt",
            "reason / last error",
        ],
        rows.iter()
            .map(|r| {
                let recipient = match (&r.recipient, &r.channel) {
                    (Some(name), Some(channel)) => format!("{name} ({channel})"),
                    (Some(name), None) => name.clone(),
                    (None, _) => "(gone)".into(),
                };
                vec![
                    r.id.to_string(),
                    r.account.clone(),
                    recipient,
                    r.touch_key.clone(),
                    r.due_at.format("%Y-%m-%d %H:%M").to_string(),
                    r.status.clone(),
                    r.attempt.to_string(),
                    reason(r.status_reason.as_deref(), r.last_error.as_deref()),
                ]
            })
            .collect(),
    )
}

/// The stored reason, and the last error when it adds something.
fn reason(status_reason: Option<&str>, last_error: Option<&str>) -> String {
    match (status_reason, last_error) {
        (Some(r), Some(e)) if r != e => format!("{r} (last error: {e})"),
        (Some(r), _) => r.to_string(),
        (None, Some(e)) => e.to_string(),
        (None, None) => "-".into(),
    }
}

/// `sent_at` is when the operator confirmed it: the moment it really arrived is not known.
async fn mark_sent_by_operator(
    ctx: &Ctx,
    id: TouchId,
    message_id: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "update touches
            set status = 'sent', sent_at = $2,
                provider_message_id = coalesce($3, provider_message_id),
                status_reason = 'confirmed by an operator after a worker stopped mid-send',
                lease_owner = null, lease_until = null, updated_at = $2
          where id = $1 and status = 'unknown'",
        id.0,
        ctx.now,
        message_id,
    )
    .execute(&ctx.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn status_of(ctx: &Ctx, id: TouchId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("select status from touches where id = $1", id.0)
        .fetch_optional(&ctx.pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_shows_the_last_error_only_when_it_adds_something() {
        assert_eq!(reason(Some("blocked"), Some("blocked")), "blocked");
        assert_eq!(
            reason(Some("requeued by an operator"), Some("timeout")),
            "requeued by an operator (last error: timeout)"
        );
        assert_eq!(reason(None, Some("timeout")), "timeout");
        assert_eq!(reason(None, None), "-");
    }

    #[test]
    fn refusing_to_mark_a_failed_touch_sent_points_to_requeue() {
        let text = cannot_mark_sent(TouchId(7), "failed");
        assert!(text.contains("touchbot outbox requeue 7"), "{text}");
    }
}
