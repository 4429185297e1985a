//! Stores the plans of a chunk of accounts in one transaction of three set-based statements:
//! every touch upserted from arrays, what the calendar no longer wants cancelled, and the
//! record of what each plan was computed from. Rows already handed to the dispatcher
//! (claimed, sending, sent, unknown, failed) are never rewritten.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::ReplanReport;
use crate::domain::AccountId;
use crate::outbound::calendar::{Decision, PlannedTouch, Recipient};

/// One account's new plan.
pub struct Planned {
    pub account: AccountId,
    pub touches: Vec<PlannedTouch>,
    /// What it was computed from (`load::Loaded::inputs`).
    pub inputs: String,
    /// Planning again before this instant gives the same plan.
    pub holds_until: DateTime<Utc>,
}

/// The touches of many accounts as the columns of the upsert.
#[derive(Default)]
struct Columns {
    accounts: Vec<i64>,
    keys: Vec<String>,
    rules: Vec<String>,
    kinds: Vec<String>,
    categories: Vec<String>,
    templates: Vec<String>,
    contact_ids: Vec<Option<i64>>,
    staff_ids: Vec<Option<i64>>,
    due: Vec<DateTime<Utc>>,
    statuses: Vec<&'static str>,
    reasons: Vec<Option<String>>,
    notes: Vec<String>,
}

impl Columns {
    fn push(&mut self, account: AccountId, t: &PlannedTouch) {
        let (c, s) = match t.recipient {
            Recipient::Contact(c) => (Some(c.0), None),
            Recipient::Staff(s) => (None, Some(s.0)),
            Recipient::Nobody => (None, None),
        };
        let (status, reason) = match &t.decision {
            Decision::Send if c.is_some() || s.is_some() => ("planned", None),
            Decision::Send => ("skipped", Some("no recipient".to_string())),
            Decision::Skip(why) => ("skipped", Some(why.clone())),
        };
        self.accounts.push(account.0);
        self.keys.push(t.touch_key.clone());
        self.rules.push(t.rule.clone());
        self.kinds.push(t.kind.as_str().to_string());
        self.categories.push(t.kind.category().as_str().to_string());
        self.templates.push(t.template.clone());
        self.contact_ids.push(c);
        self.staff_ids.push(s);
        self.due.push(t.due_at);
        self.statuses.push(status);
        self.reasons.push(reason);
        self.notes.push(t.notes.join("\n"));
    }
}

/// Stores `plans` as of `now`; concurrent re-plans of the same accounts wait for each other.
pub async fn store_plans(
    pool: &PgPool,
    plans: &[Planned],
    now: DateTime<Utc>,
    grace_days: u32,
) -> anyhow::Result<ReplanReport> {
    let mut ids: Vec<i64> = plans.iter().map(|p| p.account.0).collect();
    ids.sort_unstable();
    let mut cols = Columns::default();
    for p in plans {
        for t in &p.touches {
            cols.push(p.account, t);
        }
    }
    let statuses: Vec<String> = cols.statuses.iter().map(|s| s.to_string()).collect();

    let mut tx = pool.begin().await?;
    // Serialises concurrent re-plans of one account (a CLI change racing the nightly job);
    // taken in id order so that two chunks never wait on each other in a circle.
    sqlx::query!(
        "select id from accounts where id = any($1) order by id for update",
        &ids
    )
    .fetch_all(&mut *tx)
    .await
    .context("locking the accounts to re-plan")?;
    sqlx::query!(
        r#"insert into touches (account_id, touch_key, rule, kind, category, template,
                                contact_id, staff_id, due_at, status, status_reason, notes,
                                created_at, updated_at)
           select p.account_id, p.key, p.rule, p.kind, p.category, p.template, p.contact_id,
                  p.staff_id, p.due_at, p.status, p.reason,
                  case when p.notes = '' then '{}'::text[] else string_to_array(p.notes, E'\n') end,
                  $13, $13
           from unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::int8[], $8::int8[], $9::timestamptz[], $10::text[], $11::text[],
                       $12::text[])
                as p(account_id, key, rule, kind, category, template, contact_id, staff_id,
                     due_at, status, reason, notes)
           on conflict (account_id, touch_key) do update set
               rule = excluded.rule, kind = excluded.kind, category = excluded.category,
               template = excluded.template, contact_id = excluded.contact_id,
               staff_id = excluded.staff_id, due_at = excluded.due_at,
               status = excluded.status, status_reason = excluded.status_reason,
               notes = excluded.notes, updated_at = excluded.updated_at
           -- Only what is still ahead is re-planned: a touch skipped or cancelled when its
           -- time came keeps the reason it had then.
           -- Except one skipped for want of a reachable contact, still within the grace
           -- period: someone can be reached now (they joined late), and the calendar has
           -- re-timed it into the next free slot.
           where (touches.status = 'planned'
                  or (touches.status in ('skipped', 'cancelled') and touches.due_at > $13)
                  or (touches.status = 'skipped' and excluded.status = 'planned'
                      and touches.status_reason like 'no reachable contact%'
                      and touches.due_at > $13 - make_interval(days => $14)))
             and (touches.due_at, touches.status, coalesce(touches.status_reason, ''),
                  touches.contact_id, touches.staff_id, touches.notes, touches.template)
                 is distinct from
                 (excluded.due_at, excluded.status, coalesce(excluded.status_reason, ''),
                  excluded.contact_id, excluded.staff_id, excluded.notes, excluded.template)"#,
        &cols.accounts,
        &cols.keys,
        &cols.rules,
        &cols.kinds,
        &cols.categories,
        &cols.templates,
        &cols.contact_ids as &[Option<i64>],
        &cols.staff_ids as &[Option<i64>],
        &cols.due,
        &statuses,
        &cols.reasons as &[Option<String>],
        &cols.notes,
        now,
        i32::try_from(grace_days).unwrap_or(i32::MAX),
    )
    .execute(&mut *tx)
    .await
    .context("storing the plans")?;
    let cancelled = sqlx::query!(
        r#"update touches t set status = 'cancelled',
                  status_reason = 'no longer in the calendar (dates, contacts or settings changed)',
                  updated_at = $4
           where t.account_id = any($1)
             -- A touch skipped ahead of time (no recipient yet) for a key the calendar has
             -- dropped (an old renewal date) goes too, or it would surface later as history.
             and (t.status = 'planned' or (t.status = 'skipped' and t.due_at > $4))
             and not exists (select 1 from unnest($2::int8[], $3::text[]) as k(account_id, key)
                             where k.account_id = t.account_id and k.key = t.touch_key)"#,
        &ids,
        &cols.accounts,
        &cols.keys,
        now
    )
    .execute(&mut *tx)
    .await
    .context("cancelling what the calendar no longer wants")?
    .rows_affected();
    record(&mut tx, plans, now).await?;
    tx.commit().await.context("committing the plans")?;
    Ok(ReplanReport {
        planned: cols.statuses.iter().filter(|s| **s == "planned").count(),
        skipped: cols.statuses.iter().filter(|s| **s == "skipped").count(),
        cancelled: usize::try_from(cancelled).unwrap_or(usize::MAX),
        ..ReplanReport::default()
    })
}

/// Records what each plan was computed from, for the nightly re-plan to skip it unchanged.
async fn record(
    tx: &mut sqlx::PgConnection,
    plans: &[Planned],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let ids: Vec<i64> = plans.iter().map(|p| p.account.0).collect();
    let inputs: Vec<String> = plans.iter().map(|p| p.inputs.clone()).collect();
    let until: Vec<DateTime<Utc>> = plans.iter().map(|p| p.holds_until).collect();
    sqlx::query!(
        r#"insert into account_plans (account_id, inputs, planned_at, holds_until)
           select p.account_id, p.inputs, $4, p.holds_until
           from unnest($1::int8[], $2::text[], $3::timestamptz[])
                as p(account_id, inputs, holds_until)
           on conflict (account_id) do update set
               inputs = excluded.inputs, planned_at = excluded.planned_at,
               holds_until = excluded.holds_until"#,
        &ids,
        &inputs,
        &until,
        now
    )
    .execute(&mut *tx)
    .await
    .context("recording what the plans were computed from")?;
    Ok(())
}
