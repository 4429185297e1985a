//! The backlog an outage leaves. Touches that fell due while nothing could send would all go
//! out at once when sending resumes: at night, several to one person, over the weekly cap. A
//! touch overdue by more than `[calendar] retime_after_hours` is instead given back to the
//! calendar, which re-plans its account as of now: it moves to the next free slot in the
//! recipient's send window within the fatigue limits, or is skipped as overdue past
//! `grace_days`. The dispatcher runs this before it claims, so no try is spent on it.

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use super::calendar::CalendarConfig;
use super::planner;
use crate::domain::AccountId;

/// What one look at the backlog did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Retimed {
    /// Accounts re-planned because one of their touches was long overdue.
    pub accounts: usize,
    /// Accounts whose re-plan failed; their touches go out as they are.
    pub failed: usize,
}

/// Re-plans, as of `now`, every account with a planned touch overdue by more than
/// `retime_after_hours` (0 turns this off). Touches being retried, or sent again on an
/// operator's word, have their own time (`next_attempt_at`) and are left alone.
#[tracing::instrument(skip_all)]
pub async fn retime_overdue(
    pool: &PgPool,
    config: &CalendarConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<Retimed> {
    let mut done = Retimed::default();
    if config.retime_after_hours == 0 {
        return Ok(done);
    }
    let cutoff = now - Duration::hours(i64::from(config.retime_after_hours));
    let accounts = sqlx::query_scalar!(
        "select distinct account_id from touches
          where status = 'planned' and due_at < $1 and next_attempt_at is null",
        cutoff
    )
    .fetch_all(pool)
    .await
    .context("looking for touches overdue since an outage")?;
    for id in accounts {
        match planner::replan_account(pool, config, AccountId(id), now).await {
            Ok(report) => {
                tracing::info!(
                    account_id = id,
                    ?report,
                    "re-timed an account's overdue touches"
                );
                done.accounts += 1;
            }
            Err(e) => {
                tracing::warn!(account_id = id, error = %format!("{e:#}"), "could not re-time an account's overdue touches");
                done.failed += 1;
            }
        }
    }
    Ok(done)
}
