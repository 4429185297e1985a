//! What the calendar needs to know about a chunk of accounts at `now`: one query per kind of
//! input for the whole chunk (accounts, contacts, reachability, closed tickets, sent history,
//! the stored plan's record), never one per account. Each also bounds the chunk's ids by their
//! lowest and highest (`id_bounds`), so that it reads one index range whatever the statistics.

use std::collections::{HashMap, HashSet};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::domain::{AccountId, ContactId, TouchKind, id_bounds};
use crate::outbound::calendar::{AccountInput, CalendarConfig, ContactInput, SentTouch};
use crate::storage::{accounts, contacts};

/// One account's inputs, and what its stored plan was computed from.
pub struct Loaded {
    pub account: accounts::Account,
    pub input: AccountInput,
    pub history: Vec<SentTouch>,
    /// The hash of every input above, the configuration and the binary's version.
    pub inputs: String,
    /// The record of the plan stored last, if any.
    pub stored: Option<StoredPlan>,
    /// The plan holds no longer than this whatever the calendar says: a ticket signal dated
    /// after `now` joins the inputs then.
    pub inputs_until: Option<DateTime<Utc>>,
    /// The notes of changed inputs (`plan_input_changes`) read before the inputs: the plan
    /// made from these inputs answers them.
    pub changes: Vec<i64>,
}

pub struct StoredPlan {
    pub inputs: String,
    pub planned_at: DateTime<Utc>,
    pub holds_until: DateTime<Utc>,
}

impl Loaded {
    /// The stored plan is what planning again at `now` would give: same inputs, and `now`
    /// within the time it holds (the instant it was made always counts).
    pub fn plan_still_holds(&self, now: DateTime<Utc>) -> bool {
        self.stored.as_ref().is_some_and(|s| {
            s.inputs == self.inputs
                && s.planned_at <= now
                && (now == s.planned_at || now < s.holds_until)
        })
    }
}

/// A fingerprint of the calendar configuration and the code that reads it: a change to
/// either re-plans every account.
pub fn config_fingerprint(config: &CalendarConfig) -> anyhow::Result<String> {
    let text = serde_json::to_string(config).context("serialising the calendar config")?;
    Ok(format!("{}:{text}", env!("CARGO_PKG_VERSION")))
}

/// What `account_plans.config` records of a fingerprint: its hash.
pub fn config_hash(config_fp: &str) -> String {
    hex::encode(Sha256::digest(config_fp.as_bytes()))
}

fn fingerprint(
    config: &str,
    account: &accounts::Account,
    input: &AccountInput,
    history: &[SentTouch],
) -> String {
    let mut hash = Sha256::new();
    hash.update(config.as_bytes());
    hash.update(format!("{:?}|{input:?}|{history:?}", account.lifecycle).as_bytes());
    hex::encode(hash.finalize())
}

/// The inputs of the accounts among `ids` that exist, in id order.
pub async fn load_many(
    pool: &PgPool,
    config: &CalendarConfig,
    config_fp: &str,
    ids: &[i64],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Loaded>> {
    // First: a change noted after this read is answered by the next run, not this one.
    let mut stored = stored_plans(pool, ids, now).await?;
    let (lo, hi) = id_bounds(ids);
    let found = accounts::get_many(pool, ids)
        .await
        .context("reading the accounts")?;
    let mut people: HashMap<i64, Vec<contacts::Contact>> = HashMap::new();
    for c in contacts::list_many(pool, ids)
        .await
        .context("reading the contacts")?
    {
        people.entry(c.account_id.0).or_default().push(c);
    }
    let reachable: HashSet<i64> = sqlx::query_scalar!(
        // A Telegram contact who has not joined yet has no chat to send to either.
        "select id from contacts
          where account_id = any($1) and account_id between $2 and $3
            and unreachable_at is null and address is not null",
        ids,
        lo,
        hi
    )
    .fetch_all(pool)
    .await
    .context("reading which contacts are reachable")?
    .into_iter()
    .collect();
    let mut tickets = super::tickets::closed_tickets(pool, config, ids, now).await?;
    let mut history = history(pool, ids).await?;
    let mut out = Vec::with_capacity(found.len());
    for account in found {
        let id = account.id.0;
        let input = AccountInput {
            id: account.id,
            segment: account.segment,
            day_zero: account.day_zero(),
            renewal_date: account.renewal_date,
            time_zone: account.time_zone,
            csm: account.csm_id,
            contacts: people
                .remove(&id)
                .unwrap_or_default()
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
            closed_tickets: tickets.remove(&id).unwrap_or_default(),
        };
        let history = history.remove(&id).unwrap_or_default();
        let (stored, inputs_until, changes) = stored.remove(&id).unwrap_or_default();
        out.push(Loaded {
            inputs: fingerprint(config_fp, &account, &input, &history),
            account,
            input,
            history,
            stored,
            inputs_until,
            changes,
        });
    }
    Ok(out)
}

/// The touches already handed to the dispatcher, by account.
async fn history(pool: &PgPool, ids: &[i64]) -> anyhow::Result<HashMap<i64, Vec<SentTouch>>> {
    let (lo, hi) = id_bounds(ids);
    let rows = sqlx::query!(
        r#"select account_id, touch_key, kind, contact_id,
                  coalesce(sent_at, due_at) as "sent_at!"
           from touches
           where account_id = any($1) and account_id between $2 and $3
             and status in ('claimed', 'sending', 'sent', 'unknown')
           order by account_id, id"#,
        ids,
        lo,
        hi
    )
    .fetch_all(pool)
    .await
    .context("reading the touches already sent")?;
    let mut out: HashMap<i64, Vec<SentTouch>> = HashMap::new();
    for r in rows {
        let kind = r
            .kind
            .parse::<TouchKind>()
            .map_err(|e| anyhow::anyhow!(e.0))?;
        out.entry(r.account_id).or_default().push(SentTouch {
            touch_key: r.touch_key,
            kind,
            contact_id: r.contact_id.map(ContactId),
            sent_at: r.sent_at,
        });
    }
    Ok(out)
}

type Stored = (Option<StoredPlan>, Option<DateTime<Utc>>, Vec<i64>);

/// Each account's stored plan record, its earliest ticket signal dated after `now`, and the
/// notes of its changed inputs.
async fn stored_plans(
    pool: &PgPool,
    ids: &[i64],
    now: DateTime<Utc>,
) -> anyhow::Result<HashMap<i64, Stored>> {
    let (lo, hi) = id_bounds(ids);
    let rows = sqlx::query!(
        r#"select a.id as "id!", p.inputs as "inputs?", p.planned_at as "planned_at?",
                  p.holds_until as "holds_until?",
                  (select min(s.occurred_at) from signals s
                    where s.account_id = a.id and s.kind in ('ticket_opened', 'ticket_closed')
                      and s.occurred_at > $2) as next_ticket_signal,
                  array(select c.id from plan_input_changes c where c.account_id = a.id)
                      as "changes!"
           from unnest($1::int8[]) as a(id)
           left join account_plans p on p.account_id = a.id and p.account_id between $3 and $4"#,
        ids,
        now,
        lo,
        hi
    )
    .fetch_all(pool)
    .await
    .context("reading what the stored plans were computed from")?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let stored = match (r.inputs, r.planned_at, r.holds_until) {
                (Some(inputs), Some(planned_at), Some(holds_until)) => Some(StoredPlan {
                    inputs,
                    planned_at,
                    holds_until,
                }),
                _ => None,
            };
            (r.id, (stored, r.next_ticket_signal, r.changes))
        })
        .collect())
}

/// One account's inputs (the preview and single re-plans); `None` if it does not exist.
pub async fn load_one(
    pool: &PgPool,
    config: &CalendarConfig,
    id: AccountId,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Loaded>> {
    let config_fp = config_fingerprint(config)?;
    Ok(load_many(pool, config, &config_fp, &[id.0], now)
        .await?
        .pop())
}
