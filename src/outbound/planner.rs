//! Between the pure calendar and the outbox: loads an account, asks the calendar for its
//! touches, and stores the answer in one set-based statement. Rows already handed to the
//! dispatcher (claimed, sending, sent, unknown, failed) are never rewritten, so re-planning
//! can run at any time without risking a second send.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::{AccountId, AccountLifecycle, ContactId, TouchKind};
use crate::outbound::calendar::{
    self, AccountInput, CalendarConfig, ClosedTicket, ContactInput, Decision, PlannedTouch,
    Recipient, SentTouch,
};
use crate::storage::{accounts, contacts};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplanReport {
    /// Touches waiting to be sent.
    pub planned: usize,
    pub skipped: usize,
    /// Touches still ahead that the calendar no longer wants (dates or contacts changed).
    pub cancelled: usize,
    /// Accounts that could not be re-planned (`replan_all` logs each and goes on).
    pub failed: usize,
}

/// What the calendar needs to know about an account at `now`, read from storage.
pub async fn load_input(
    pool: &PgPool,
    config: &CalendarConfig,
    id: AccountId,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<(accounts::Account, AccountInput, Vec<SentTouch>)>> {
    let Some(account) = accounts::get(pool, id).await? else {
        return Ok(None);
    };
    let people = contacts::list(pool, id).await?;
    let reachable = sqlx::query_scalar!(
        // A Telegram contact who has not joined yet has no chat to send to either.
        "select id from contacts where account_id = $1 and unreachable_at is null and address is not null",
        id.0
    )
    .fetch_all(pool)
    .await?;
    let input = AccountInput {
        id,
        segment: account.segment,
        day_zero: account.day_zero(),
        renewal_date: account.renewal_date,
        time_zone: account.time_zone,
        csm: account.csm_id,
        contacts: people
            .iter()
            .map(|c| ContactInput {
                id: c.id,
                role: c.role,
                time_zone: c.time_zone,
                added_on: c
                    .added_at()
                    .with_timezone(&c.time_zone.unwrap_or(account.time_zone))
                    .date_naive(),
                opted_out: c.opted_out.clone(),
                reachable: reachable.contains(&c.id.0),
            })
            .collect(),
        closed_tickets: closed_tickets(pool, config, id, now).await?,
    };
    let history = sqlx::query!(
        r#"select touch_key, kind, contact_id, coalesce(sent_at, due_at) as "sent_at!"
           from touches
           where account_id = $1 and status in ('claimed', 'sending', 'sent', 'unknown')"#,
        id.0
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| {
        Ok(SentTouch {
            touch_key: r.touch_key,
            kind: r
                .kind
                .parse::<TouchKind>()
                .map_err(|e| anyhow::anyhow!(e.0))?,
            contact_id: r.contact_id.map(crate::domain::ContactId),
            sent_at: r.sent_at,
        })
    })
    .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some((account, input, history)))
}

/// The account's tickets closed within `[calendar.csat] within_days` of `now`, one row per
/// ticket in one statement: its latest closing, any rating given with a closing, and who raised
/// it (the contact of its first opening that names one, else of its latest closing that does).
/// A ticket opened again after its latest closing is left out: it is not closed any more.
async fn closed_tickets(
    pool: &PgPool,
    config: &CalendarConfig,
    id: AccountId,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<ClosedTicket>> {
    let within = i32::try_from(config.csat.within_days).unwrap_or(i32::MAX);
    let rows = sqlx::query!(
        r#"with closed as (
               select details->>'ticket' as ticket, max(occurred_at) as closed_at,
                      (array_agg((details->>'csat')::int order by occurred_at desc)
                           filter (where details ? 'csat'))[1] as csat,
                      (array_agg(contact_id order by occurred_at desc)
                           filter (where contact_id is not null))[1] as closer
               from signals
               where account_id = $1 and kind = 'ticket_closed' and details ? 'ticket'
                 and occurred_at <= $2
               group by details->>'ticket'
           )
           select c.ticket as "ticket!", c.closed_at as "closed_at!", c.csat,
                  coalesce((select o.contact_id from signals o
                            where o.account_id = $1 and o.kind = 'ticket_opened'
                              and o.details->>'ticket' = c.ticket
                              and o.contact_id is not null and o.occurred_at <= $2
                            order by o.occurred_at, o.id
                            limit 1),
                           c.closer) as raised_by
           from closed c
           where c.closed_at > $2 - make_interval(days => $3)
             and not exists (select 1 from signals r
                             where r.account_id = $1 and r.kind = 'ticket_opened'
                               and r.details->>'ticket' = c.ticket
                               and r.occurred_at > c.closed_at and r.occurred_at <= $2)
           order by c.closed_at, c.ticket"#,
        id.0,
        now,
        within,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ClosedTicket {
            ticket: r.ticket,
            closed_at: r.closed_at,
            raised_by: r.raised_by.map(ContactId),
            // Stored ratings were checked to be 1-5 when the signal came in.
            csat: r.csat.and_then(|c| u8::try_from(c).ok()),
        })
        .collect())
}

/// Re-plans one account at `now` and stores the result.
pub async fn replan_account(
    pool: &PgPool,
    config: &CalendarConfig,
    id: AccountId,
    now: DateTime<Utc>,
) -> anyhow::Result<ReplanReport> {
    let Some((account, input, history)) = load_input(pool, config, id, now).await? else {
        anyhow::bail!("account {id} does not exist");
    };
    let plan = if account.lifecycle == AccountLifecycle::Active {
        calendar::plan(&input, &history, config, now)
    } else {
        Vec::new()
    };
    store_plan(pool, id, &plan, now, config.grace_days).await
}

/// Re-plans every active account (the nightly job, and after a configuration change).
#[tracing::instrument(skip_all)]
pub async fn replan_all(
    pool: &PgPool,
    config: &CalendarConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<ReplanReport> {
    let ids = sqlx::query_scalar!("select id from accounts where lifecycle = 'active' order by id")
        .fetch_all(pool)
        .await
        .context("listing the active accounts to re-plan")?;
    let mut total = ReplanReport::default();
    for id in ids {
        // One broken account must not cost every later one its calendar.
        match replan_account(pool, config, AccountId(id), now).await {
            Ok(r) => {
                total.planned += r.planned;
                total.skipped += r.skipped;
                total.cancelled += r.cancelled;
            }
            Err(e) => {
                tracing::error!(account_id = id, error = %format!("{e:#}"), "could not re-plan an account; going on with the others");
                total.failed += 1;
            }
        }
    }
    Ok(total)
}

async fn store_plan(
    pool: &PgPool,
    account: AccountId,
    plan: &[PlannedTouch],
    now: DateTime<Utc>,
    grace_days: u32,
) -> anyhow::Result<ReplanReport> {
    let mut keys = Vec::new();
    let mut rules = Vec::new();
    let mut kinds = Vec::new();
    let mut categories = Vec::new();
    let mut templates = Vec::new();
    let mut contact_ids: Vec<Option<i64>> = Vec::new();
    let mut staff_ids: Vec<Option<i64>> = Vec::new();
    let mut due = Vec::new();
    let mut statuses = Vec::new();
    let mut reasons: Vec<Option<String>> = Vec::new();
    let mut notes = Vec::new();
    for t in plan {
        keys.push(t.touch_key.clone());
        rules.push(t.rule.clone());
        kinds.push(t.kind.as_str().to_string());
        categories.push(t.kind.category().as_str().to_string());
        templates.push(t.template.clone());
        let (c, s) = match t.recipient {
            Recipient::Contact(c) => (Some(c.0), None),
            Recipient::Staff(s) => (None, Some(s.0)),
            Recipient::Nobody => (None, None),
        };
        contact_ids.push(c);
        staff_ids.push(s);
        due.push(t.due_at);
        match &t.decision {
            Decision::Send if c.is_some() || s.is_some() => {
                statuses.push("planned".to_string());
                reasons.push(None);
            }
            Decision::Send => {
                statuses.push("skipped".to_string());
                reasons.push(Some("no recipient".to_string()));
            }
            Decision::Skip(why) => {
                statuses.push("skipped".to_string());
                reasons.push(Some(why.clone()));
            }
        }
        notes.push(t.notes.join("\n"));
    }

    let mut tx = pool.begin().await?;
    // Serialises concurrent re-plans of one account (a CLI change racing the nightly job).
    sqlx::query!(
        "select id from accounts where id = $1 for update",
        account.0
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        r#"insert into touches (account_id, touch_key, rule, kind, category, template,
                                contact_id, staff_id, due_at, status, status_reason, notes,
                                created_at, updated_at)
           select $1, p.key, p.rule, p.kind, p.category, p.template, p.contact_id, p.staff_id,
                  p.due_at, p.status, p.reason,
                  case when p.notes = '' then '{}'::text[] else string_to_array(p.notes, E'\n') end,
                  $13, $13
           from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[],
                       $8::int8[], $9::timestamptz[], $10::text[], $11::text[], $12::text[])
                as p(key, rule, kind, category, template, contact_id, staff_id, due_at, status,
                     reason, notes)
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
        account.0,
        &keys,
        &rules,
        &kinds,
        &categories,
        &templates,
        &contact_ids as &[Option<i64>],
        &staff_ids as &[Option<i64>],
        &due,
        &statuses,
        &reasons as &[Option<String>],
        &notes,
        now,
        i32::try_from(grace_days).unwrap_or(i32::MAX),
    )
    .execute(&mut *tx)
    .await
    .context("storing the account's plan")?;
    let cancelled = sqlx::query!(
        r#"update touches set status = 'cancelled',
                  status_reason = 'no longer in the calendar (dates, contacts or settings changed)',
                  updated_at = $3
           where account_id = $1 and touch_key <> all($2::text[])
             -- A touch skipped ahead of time (no recipient yet) for a key the calendar has
             -- dropped (an old renewal date) goes too, or it would surface later as history.
             and (status = 'planned' or (status = 'skipped' and due_at > $3))"#,
        account.0,
        &keys,
        now
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(ReplanReport {
        planned: statuses.iter().filter(|s| s.as_str() == "planned").count(),
        skipped: statuses.iter().filter(|s| s.as_str() == "skipped").count(),
        cancelled: cancelled as usize,
        failed: 0,
    })
}
