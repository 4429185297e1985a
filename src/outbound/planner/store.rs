//! Stores the plans of a chunk of accounts in one transaction of a few set-based statements:
//! the touches of accounts with none yet copied in (`copy`), those of the others upserted,
//! what the calendar no longer wants cancelled, and the record of what each plan was computed from.
//! Rows already handed to the dispatcher (claimed, sending, sent, unknown, failed) are never
//! rewritten.

mod copy;

use std::collections::HashSet;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::ReplanReport;
use crate::domain::{AccountId, id_bounds};
use crate::outbound::calendar::{Decision, PlannedTouch, Recipient};

/// One account's new plan.
pub struct Planned {
    pub account: AccountId,
    pub touches: Vec<PlannedTouch>,
    /// What it was computed from (`load::Loaded::inputs`).
    pub inputs: String,
    /// Planning again before this instant gives the same plan.
    pub holds_until: DateTime<Utc>,
    /// The change notes this plan answers (`load::Loaded::changes`), dropped with it.
    pub changes: Vec<i64>,
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

    /// How many touches are planned and skipped.
    fn counts(&self) -> (usize, usize) {
        let planned = self.statuses.iter().filter(|s| **s == "planned").count();
        let skipped = self.statuses.iter().filter(|s| **s == "skipped").count();
        (planned, skipped)
    }
}

/// Stores `plans` as of `now`; concurrent re-plans of the same accounts wait for each other.
pub async fn store_plans(
    pool: &PgPool,
    plans: &[Planned],
    now: DateTime<Utc>,
    grace_days: u32,
    config_hash: &str,
) -> anyhow::Result<ReplanReport> {
    let mut ids: Vec<i64> = plans.iter().map(|p| p.account.0).collect();
    ids.sort_unstable();
    let mut tx = pool.begin().await?;
    let fresh = lock(&mut tx, &ids, plans).await?;
    let (mut new, mut cols) = (Columns::default(), Columns::default());
    for p in plans {
        let into = if fresh.contains(&p.account.0) {
            &mut new
        } else {
            &mut cols
        };
        for t in &p.touches {
            into.push(p.account, t);
        }
    }
    let (new_planned, new_skipped) = insert_new(&mut tx, &new, now).await?;
    let others: Vec<i64> = ids.into_iter().filter(|id| !fresh.contains(id)).collect();
    let (planned, skipped, cancelled) = if others.is_empty() {
        (0, 0, 0)
    } else {
        replace(&mut tx, &others, &cols, now, grace_days).await?
    };
    record(&mut tx, plans, now, config_hash).await?;
    let answered: Vec<i64> = plans.iter().flat_map(|p| p.changes.clone()).collect();
    drop_changes(&mut *tx, &answered).await?;
    tx.commit().await.context("committing the plans")?;
    Ok(ReplanReport {
        planned: new_planned + planned,
        skipped: new_skipped + skipped,
        cancelled,
        ..ReplanReport::default()
    })
}

/// Locks the accounts (in id order, so that two chunks never wait on each other in a circle)
/// and returns those with no touch at all, whose plan can be inserted as it is. Serialises
/// concurrent re-plans of one account (a CLI change racing the nightly job); only re-plans
/// write touches, so an account found empty under the lock stays empty until the commit.
/// `no key update` lets rows referring to the accounts be written meanwhile.
///
/// The outbox has no foreign keys to accounts, contacts and staff (migrations 0021, 0033): the
/// accounts must be there to be locked, and the recipients the plans name are checked here,
/// once. Every list is also bounded by its lowest and highest id (`id_bounds`), so that it is
/// read as an index range whatever the statistics.
async fn lock(
    tx: &mut sqlx::PgConnection,
    ids: &[i64],
    plans: &[Planned],
) -> anyhow::Result<HashSet<i64>> {
    let (lo, hi) = id_bounds(ids);
    let locked = sqlx::query_scalar!(
        "select id from accounts where id = any($1) and id between $2 and $3
          order by id for no key update",
        ids,
        lo,
        hi
    )
    .fetch_all(&mut *tx)
    .await
    .context("locking the accounts to re-plan")?;
    anyhow::ensure!(
        locked.len() == ids.len(),
        "an account was deleted meanwhile"
    );
    check_recipients(tx, plans).await?;
    let empty = sqlx::query_scalar!(
        r#"select a.id as "id!" from unnest($1::int8[]) as a(id)
           where not exists (select 1 from touches t where t.account_id = a.id)"#,
        ids
    )
    .fetch_all(&mut *tx)
    .await
    .context("finding the accounts with no touches yet")?;
    Ok(empty.into_iter().collect())
}

/// Checks that the contacts and staff the plans name exist. Statements of their own, so that
/// they see what a transaction they waited for committed. The staff rows are locked as the
/// foreign key did (`for key share`): one deleted meanwhile waits for the plans to commit,
/// then its delete trigger sees the touches naming it.
async fn check_recipients(tx: &mut sqlx::PgConnection, plans: &[Planned]) -> anyhow::Result<()> {
    let (mut contacts, mut staff) = (Vec::new(), Vec::new());
    for t in plans.iter().flat_map(|p| &p.touches) {
        match t.recipient {
            Recipient::Contact(c) => contacts.push(c.0),
            Recipient::Staff(s) => staff.push(s.0),
            Recipient::Nobody => {}
        }
    }
    for named in [&mut contacts, &mut staff] {
        named.sort_unstable();
        named.dedup();
    }
    let (lo, hi) = id_bounds(&contacts);
    let found = sqlx::query_scalar!(
        r#"select count(*) as "n!" from contacts where id = any($1) and id between $2 and $3"#,
        &contacts,
        lo,
        hi
    )
    .fetch_one(&mut *tx)
    .await
    .context("checking the contacts of the plans exist")?;
    anyhow::ensure!(
        usize::try_from(found) == Ok(contacts.len()),
        "a contact was deleted meanwhile"
    );
    let found = sqlx::query_scalar!(
        "select id from staff where id = any($1) order by id for key share",
        &staff
    )
    .fetch_all(&mut *tx)
    .await
    .context("checking the staff of the plans exist")?;
    anyhow::ensure!(
        found.len() == staff.len(),
        "a staff member was deleted meanwhile"
    );
    Ok(())
}

/// Inserts the touches of accounts that have none: a plain copy, nothing to compare with.
async fn insert_new(
    tx: &mut sqlx::PgConnection,
    cols: &Columns,
    now: DateTime<Utc>,
) -> anyhow::Result<(usize, usize)> {
    if !cols.accounts.is_empty() {
        copy::insert(tx, cols, now).await?;
    }
    Ok(cols.counts())
}

/// Upserts the touches of accounts `ids` that already have some, and cancels what the
/// calendar no longer wants. Returns how many touches are planned, skipped and cancelled.
async fn replace(
    tx: &mut sqlx::PgConnection,
    ids: &[i64],
    cols: &Columns,
    now: DateTime<Utc>,
    grace_days: u32,
) -> anyhow::Result<(usize, usize, usize)> {
    let (planned, skipped) = cols.counts();
    let statuses: Vec<String> = cols.statuses.iter().map(|s| s.to_string()).collect();
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
        ids,
        &cols.accounts,
        &cols.keys,
        now
    )
    .execute(&mut *tx)
    .await
    .context("cancelling what the calendar no longer wants")?
    .rows_affected();
    Ok((
        planned,
        skipped,
        usize::try_from(cancelled).unwrap_or(usize::MAX),
    ))
}

/// Drops change notes a stored plan answers (`plan_input_changes`).
pub async fn drop_changes(db: impl sqlx::PgExecutor<'_>, ids: &[i64]) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query!("delete from plan_input_changes where id = any($1)", ids)
        .execute(db)
        .await
        .context("dropping the change notes the plans answer")?;
    Ok(())
}

/// Drops the change notes of accounts that are not active (paused, churned, deleted): no
/// plan will answer them, and an account made active again is noted by that change itself,
/// so without this they would pile up for good. A note written while this runs is not in its
/// snapshot and stays.
pub async fn drop_inactive_changes(pool: &PgPool) -> anyhow::Result<u64> {
    let dropped = sqlx::query!(
        "delete from plan_input_changes c
          where not exists (select 1 from accounts a
                             where a.id = c.account_id and a.lifecycle = 'active')"
    )
    .execute(pool)
    .await
    .context("dropping the change notes of accounts that are not active")?
    .rows_affected();
    Ok(dropped)
}

/// Records what each plan was computed from, for the nightly re-plan to skip it unchanged.
async fn record(
    tx: &mut sqlx::PgConnection,
    plans: &[Planned],
    now: DateTime<Utc>,
    config_hash: &str,
) -> anyhow::Result<()> {
    let ids: Vec<i64> = plans.iter().map(|p| p.account.0).collect();
    let inputs: Vec<String> = plans.iter().map(|p| p.inputs.clone()).collect();
    let until: Vec<DateTime<Utc>> = plans.iter().map(|p| p.holds_until).collect();
    sqlx::query!(
        r#"insert into account_plans (account_id, inputs, planned_at, holds_until, config)
           select p.account_id, p.inputs, $4, p.holds_until, $5
           from unnest($1::int8[], $2::text[], $3::timestamptz[])
                as p(account_id, inputs, holds_until)
           on conflict (account_id) do update set
               inputs = excluded.inputs, planned_at = excluded.planned_at,
               holds_until = excluded.holds_until, config = excluded.config"#,
        &ids,
        &inputs,
        &until,
        now,
        config_hash
    )
    .execute(&mut *tx)
    .await
    .context("recording what the plans were computed from")?;
    Ok(())
}
