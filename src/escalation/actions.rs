//! What a person does with an escalation: take it, record that the client was contacted,
//! snooze it, resolve it with an outcome. The CLI and the chat buttons both come through here.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use super::lifecycle::{Outcome, Status};
use super::store::{self, EscalationRow, Filter};
use crate::domain::{EscalationId, StaffId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// "I'm on it": acknowledges the escalation and makes the person its owner.
    Take,
    /// The client was reached: the first response is on record.
    Contacted,
    /// No re-alerts until then; the ladder keeps its pace.
    Snooze {
        days: u32,
    },
    Resolve(Outcome),
}

impl Action {
    fn event(&self) -> &'static str {
        match self {
            Action::Take => "acknowledged",
            Action::Contacted => "contacted",
            Action::Snooze { .. } => "snoozed",
            Action::Resolve(_) => "resolved",
        }
    }
}

/// Why an action was refused, in words for the person who tried it.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("there is no escalation #{0}; `touchbot escalation list` shows the open ones")]
    NotFound(EscalationId),
    #[error("escalation #{id}: {message}")]
    NotAllowed { id: EscalationId, message: String },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Who may say a client is lost, in the words of a refusal.
pub const CHURN_REFUSAL: &str = "only the account's CSM, a CS manager or a VP may resolve it as \
    churned, which stops every touch to the client; ask one of them";

/// Marking a client lost stops all contact with them, so it is kept to the people who answer
/// for the account: its own CSM, and the CS managers and VPs above every CSM.
async fn may_record_churn(
    tx: &mut sqlx::PgConnection,
    by: StaffId,
    account: crate::domain::AccountId,
) -> Result<bool, sqlx::Error> {
    let allowed = sqlx::query_scalar!(
        r#"select (s.role in ('cs_manager', 'vp') or a.csm_id = s.id) as "allowed!"
             from staff s, accounts a
            where s.id = $1 and a.id = $2 and s.removed_at is null"#,
        by.0,
        account.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(allowed.unwrap_or(false))
}

/// Applies `action` by `by` at `now` and returns the escalation as it is afterwards.
pub async fn act(
    pool: &PgPool,
    id: EscalationId,
    action: &Action,
    by: StaffId,
    now: DateTime<Utc>,
) -> Result<EscalationRow, ActionError> {
    let mut tx = pool.begin().await?;
    let e = store::fetch(&mut tx, Filter::One(id), true)
        .await?
        .pop()
        .ok_or(ActionError::NotFound(id))?;
    let refuse = |message: String| ActionError::NotAllowed { id, message };
    let status = e.status();
    if status == Status::Resolved {
        return Err(refuse(
            "it is already resolved; if the problem is back, a new escalation opens by itself"
                .into(),
        ));
    }
    if let Action::Resolve(Outcome::Churned(_)) = action
        && !may_record_churn(&mut tx, by, e.account_id).await?
    {
        return Err(refuse(CHURN_REFUSAL.into()));
    }
    let mut details = String::new();
    match action {
        Action::Take | Action::Contacted => {
            // Taking it also makes the person its owner; recording a contact does not.
            let new_owner = matches!(action, Action::Take).then_some(by.0);
            sqlx::query!(
                "update escalations set status = 'acknowledged',
                        owner_id = coalesce($4, owner_id),
                        acknowledged_at = coalesce(acknowledged_at, $3),
                        acknowledged_by = coalesce(acknowledged_by, $2),
                        first_response_at = coalesce(first_response_at, $3), updated_at = $3
                  where id = $1",
                id.0,
                by.0,
                now,
                new_owner
            )
            .execute(&mut *tx)
            .await?;
        }
        Action::Snooze { days } => {
            if *days == 0 || *days > 30 {
                return Err(refuse(format!(
                    "{days} days is not a snooze; give 1 to 30 days"
                )));
            }
            let until = now + Duration::days(i64::from(*days));
            sqlx::query!(
                "update escalations set snoozed_until = $2, updated_at = $3 where id = $1",
                id.0,
                until,
                now
            )
            .execute(&mut *tx)
            .await?;
            details = format!("until {}", until.format("%Y-%m-%d %H:%M UTC"));
        }
        Action::Resolve(outcome) => {
            details = outcome.to_string();
            sqlx::query!(
                "update escalations set status = 'resolved', resolved_at = $3, resolved_by = $2,
                        outcome = $4, updated_at = $3
                  where id = $1",
                id.0,
                by.0,
                now,
                details
            )
            .execute(&mut *tx)
            .await?;
            // A lost client stops receiving touches; its history stays.
            if matches!(outcome, Outcome::Churned(_)) {
                sqlx::query!(
                    "update accounts set lifecycle = 'churned', updated_at = $2 where id = $1",
                    e.account_id.0,
                    now
                )
                .execute(&mut *tx)
                .await?;
                // The account's other open escalations are moot now: closed with the same
                // outcome, each with its own history entry.
                let others = sqlx::query_scalar!(
                    "update escalations set status = 'resolved', resolved_at = $3,
                            resolved_by = $2, outcome = $4, updated_at = $3
                      where account_id = $1 and id <> $5 and status <> 'resolved'
                      returning id",
                    e.account_id.0,
                    by.0,
                    now,
                    details,
                    id.0
                )
                .fetch_all(&mut *tx)
                .await?;
                for other in others {
                    let note = format!("{details} (account churned, see #{id})");
                    store::add_event(
                        &mut tx,
                        EscalationId(other),
                        now,
                        "resolved",
                        Some(by),
                        &note,
                    )
                    .await?;
                }
            }
        }
    }
    if let Action::Resolve(_) = action {
        // What still waits for a digest about this escalation is old news once it is closed.
        sqlx::query!(
            "update staff_posts set status = 'skipped', status_reason = 'escalation resolved',
                    updated_at = $2
              where escalation_id = $1 and status = 'planned' and delivery = 'digest'",
            id.0,
            now
        )
        .execute(&mut *tx)
        .await?;
    }
    store::add_event(&mut tx, id, now, action.event(), Some(by), &details).await?;
    let after = store::fetch(&mut tx, Filter::One(id), false)
        .await?
        .pop()
        .ok_or(ActionError::NotFound(id))?;
    tx.commit().await?;
    Ok(after)
}
