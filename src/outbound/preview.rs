//! The calendar of one account as stored: every touch with its local send time, recipient,
//! the rule that placed it, and why it moved or was skipped.

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::PgPool;

use crate::domain::AccountId;

#[derive(Debug, Clone, Serialize)]
pub struct PreviewRow {
    pub touch_key: String,
    pub rule: String,
    pub kind: String,
    pub template: String,
    pub recipient: String,
    pub due_at: DateTime<Utc>,
    pub local_time: NaiveDateTime,
    pub time_zone: String,
    pub status: String,
    pub reason: Option<String>,
    pub notes: Vec<String>,
}

pub async fn preview(pool: &PgPool, account: AccountId) -> anyhow::Result<Vec<PreviewRow>> {
    let rows = sqlx::query!(
        r#"select t.touch_key, t.rule, t.kind, t.template, t.due_at, t.sent_at, t.status,
                  t.status_reason, t.notes,
                  coalesce(c.time_zone, a.time_zone) as "tz!",
                  case when c.id is not null then c.name || ' (' || replace(c.role, '_', ' ') || ')'
                       when s.id is not null then s.name || ' (CSM, internal)'
                       else '-' end as "recipient!"
           from touches t
           join accounts a on a.id = t.account_id
           left join contacts c on c.id = t.contact_id
           left join staff s on s.id = t.staff_id
           where t.account_id = $1 and t.status <> 'cancelled'
           order by coalesce(t.sent_at, t.due_at), t.touch_key"#,
        account.0
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            let tz: Tz = r
                .tz
                .parse()
                .map_err(|_| anyhow::anyhow!("stored time zone '{}' is unknown", r.tz))?;
            let when = r.sent_at.unwrap_or(r.due_at);
            Ok(PreviewRow {
                touch_key: r.touch_key,
                rule: r.rule,
                kind: r.kind,
                template: r.template,
                recipient: r.recipient,
                due_at: when,
                local_time: when.with_timezone(&tz).naive_local(),
                time_zone: r.tz,
                status: r.status,
                reason: r.status_reason,
                notes: r.notes,
            })
        })
        .collect()
}
