//! An account's calendar as a person wants to read it: what was sent or skipped (from the
//! outbox), and what the calendar would plan from now on with the current settings. A dry
//! run: nothing is written, so it also shows the effect of an edited configuration before it
//! is applied.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::PgPool;

use crate::domain::{AccountId, AccountLifecycle};
use crate::outbound::calendar::{self, CalendarConfig, Decision, Recipient};
use crate::outbound::planner;

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
    /// sent, failed, unknown… for history; planned or skipped for what lies ahead.
    pub status: String,
    pub reason: Option<String>,
    pub notes: Vec<String>,
}

pub async fn preview(
    pool: &PgPool,
    config: &CalendarConfig,
    account: AccountId,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<PreviewRow>> {
    let Some((acc, input, history)) = planner::load_input(pool, config, account, now).await? else {
        anyhow::bail!("account {account} does not exist");
    };
    let mut rows = stored_history(pool, account, now).await?;
    let done: std::collections::HashSet<String> =
        rows.iter().map(|r| r.touch_key.clone()).collect();

    let names = recipient_names(pool, account).await?;
    let plan = if acc.lifecycle == AccountLifecycle::Active {
        calendar::plan(&input, &history, config, now)
    } else {
        Vec::new()
    };
    for t in plan {
        // A touch already decided in the past (sent, or skipped when it fell due) is shown as
        // it happened, not as it would be planned today.
        if done.contains(&t.touch_key) {
            continue;
        }
        let recipient = match t.recipient {
            Recipient::Contact(c) => names.get(&("c", c.0)).cloned(),
            Recipient::Staff(s) => names.get(&("s", s.0)).cloned(),
            Recipient::Nobody => None,
        }
        .unwrap_or_else(|| "-".into());
        let (status, reason) = match t.decision {
            Decision::Send => ("planned".to_string(), None),
            Decision::Skip(why) => ("skipped".to_string(), Some(why)),
        };
        rows.push(PreviewRow {
            touch_key: t.touch_key,
            rule: t.rule,
            kind: t.kind.as_str().to_string(),
            template: t.template,
            recipient,
            due_at: t.due_at,
            local_time: t.due_local,
            time_zone: t.time_zone.name().to_string(),
            status,
            reason,
            notes: t.notes,
        });
    }
    rows.sort_by(|a, b| (a.due_at, &a.touch_key).cmp(&(b.due_at, &b.touch_key)));
    Ok(rows)
}

async fn recipient_names(
    pool: &PgPool,
    account: AccountId,
) -> anyhow::Result<HashMap<(&'static str, i64), String>> {
    let mut names = HashMap::new();
    for c in sqlx::query!(
        "select id, name, role from contacts where account_id = $1",
        account.0
    )
    .fetch_all(pool)
    .await?
    {
        names.insert(
            ("c", c.id),
            format!("{} ({})", c.name, c.role.replace('_', " ")),
        );
    }
    for s in sqlx::query!("select id, name from staff")
        .fetch_all(pool)
        .await?
    {
        names.insert(("s", s.id), format!("{} (CSM, internal)", s.name));
    }
    Ok(names)
}

/// Touches the outbox has already dealt with: handed to a worker or sent, failed, or skipped
/// or cancelled when their time came.
async fn stored_history(
    pool: &PgPool,
    account: AccountId,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<PreviewRow>> {
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
           where t.account_id = $1
             and (t.status not in ('planned', 'skipped', 'cancelled')
                  or (t.status = 'skipped' and t.due_at <= $2))"#,
        account.0,
        now
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            let tz: Tz =
                r.tz.parse()
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
