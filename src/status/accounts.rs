//! One row per account: the touches, the last NPS, the contacts and the latest health, read
//! for every account in one query. The figures over many accounts are `metrics`'.

use std::collections::HashMap;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::domain::{AccountId, StaffId};
use crate::health::store::{LatestHealth, latest_scores_among};
use crate::metrics::Nps;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountStatus {
    pub id: i64,
    pub name: String,
    pub segment: String,
    pub csm: Option<String>,
    pub lifecycle: String,
    pub renewal_date: Option<NaiveDate>,
    pub days_to_renewal: Option<i64>,
    /// Client-facing touches delivered that ask for an answer (surveys, check-ins, QBRs).
    pub touches_sent: i64,
    /// Of those, how many got an answer.
    pub touches_answered: i64,
    pub touches_skipped: i64,
    pub touches_failed: i64,
    pub touches_unknown: i64,
    pub next_touch: Option<String>,
    pub next_touch_at: Option<DateTime<Utc>>,
    pub last_nps: Option<i16>,
    pub last_nps_comment: Option<String>,
    pub contacts: i64,
    pub unreachable_contacts: i64,
    pub opted_out_contacts: i64,
    /// The latest health score; `None` until the account has been scored once.
    pub health: Option<LatestHealth>,
}

impl AccountStatus {
    pub fn reply_rate(&self) -> Option<f64> {
        (self.touches_sent > 0).then(|| self.touches_answered as f64 / self.touches_sent as f64)
    }
}

/// Every account's status, or only `only`'s.
pub async fn account_statuses(
    pool: &PgPool,
    now: DateTime<Utc>,
    only: Option<i64>,
) -> anyhow::Result<Vec<AccountStatus>> {
    statuses(pool, now, only, None).await
}

/// The status of every account, or only `only`, or only those `csm` owns, by name.
pub(super) async fn statuses(
    pool: &PgPool,
    now: DateTime<Utc>,
    only: Option<i64>,
    csm: Option<StaffId>,
) -> anyhow::Result<Vec<AccountStatus>> {
    read(pool, now, only, csm, None).await
}

/// The status of the accounts `ids`, in the order of `ids`: a page reads its own accounts only.
pub(super) async fn statuses_in_order(
    pool: &PgPool,
    now: DateTime<Utc>,
    ids: &[i64],
) -> anyhow::Result<Vec<AccountStatus>> {
    let mut found: HashMap<i64, AccountStatus> = read(pool, now, None, None, Some(ids))
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

async fn read(
    pool: &PgPool,
    now: DateTime<Utc>,
    only: Option<i64>,
    csm: Option<StaffId>,
    ids: Option<&[i64]>,
) -> anyhow::Result<Vec<AccountStatus>> {
    let rows = sqlx::query!(
        r#"select a.id, a.name, a.segment, a.lifecycle, a.renewal_date, s.name as "csm?",
                  (a.renewal_date - ($1::timestamptz at time zone a.time_zone)::date)::int8 as days_to_renewal,
                  t.sent as "sent!", t.answered as "answered!", t.skipped as "skipped!",
                  t.failed as "failed!", t.unknown as "unknown!",
                  nxt.template as "next_touch?", nxt.due_at as "next_touch_at?",
                  nps.score as "last_nps?", nps.comment as "last_nps_comment?",
                  c.total as "contacts!", c.unreachable as "unreachable!", c.opted_out as "opted_out!"
           from accounts a
           left join staff s on s.id = a.csm_id
           cross join lateral (
               -- The reply rate counts the touches that ask something (a welcome or a renewal
               -- notice is read, not answered).
               select count(*) filter (where status = 'sent' and contact_id is not null
                                       and kind in ('nps', 'csat', 'checkin', 'qbr')) as sent,
                      count(*) filter (where status = 'sent' and contact_id is not null
                                       and kind in ('nps', 'csat', 'checkin', 'qbr')
                                       and exists (select 1 from replies r where r.touch_id = touches.id)) as answered,
                      count(*) filter (where status = 'skipped') as skipped,
                      count(*) filter (where status = 'failed') as failed,
                      count(*) filter (where status = 'unknown') as unknown
               from touches where account_id = a.id and due_at <= $1
           ) t
           left join lateral (
               select template, due_at from touches
               where account_id = a.id and status = 'planned' and due_at > $1
               order by due_at limit 1
           ) nxt on true
           left join lateral (
               select score, comment from replies
               where account_id = a.id and kind = 'nps' and score is not null and received_at <= $1
               order by received_at desc limit 1
           ) nps on true
           cross join lateral (
               select count(*) as total,
                      count(*) filter (where unreachable_at is not null) as unreachable,
                      count(*) filter (where exists (select 1 from contact_consents cc
                                                     where cc.contact_id = contacts.id and cc.opted_out)) as opted_out
               from contacts where account_id = a.id and removed_at is null
           ) c
           where ($2::int8 is null or a.id = $2) and ($3::int8 is null or a.csm_id = $3)
             and ($4::int8[] is null or a.id = any($4))
           order by lower(a.name)"#,
        now,
        only,
        csm.map(|s| s.0),
        ids
    )
    .fetch_all(pool)
    .await
    .context("reading the accounts' status")?;
    // The scores of the accounts read, not of the whole portfolio, unless all were read.
    let among: Option<Vec<AccountId>> = match (only, ids) {
        (Some(id), _) => Some(vec![AccountId(id)]),
        (None, Some(ids)) => Some(ids.iter().copied().map(AccountId).collect()),
        (None, None) => None,
    };
    let mut health = latest_scores_among(pool, now, among.as_deref()).await?;
    Ok(rows
        .into_iter()
        .map(|r| AccountStatus {
            health: health.remove(&AccountId(r.id)),
            id: r.id,
            name: r.name,
            segment: r.segment,
            csm: r.csm,
            lifecycle: r.lifecycle,
            renewal_date: r.renewal_date,
            days_to_renewal: r.days_to_renewal,
            touches_sent: r.sent,
            touches_answered: r.answered,
            touches_skipped: r.skipped,
            touches_failed: r.failed,
            touches_unknown: r.unknown,
            next_touch: r.next_touch,
            next_touch_at: r.next_touch_at,
            last_nps: r.last_nps,
            last_nps_comment: r.last_nps_comment,
            contacts: r.contacts,
            unreachable_contacts: r.unreachable,
            opted_out_contacts: r.opted_out,
        })
        .collect())
}

/// NPS over `(from, to]`, one answer per contact (their latest), over every account.
pub async fn nps_between(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<Nps> {
    let r = sqlx::query!(
        r#"select count(*) as "answers!",
                  count(*) filter (where score >= 9) as "promoters!",
                  count(*) filter (where score between 7 and 8) as "passives!",
                  count(*) filter (where score <= 6) as "detractors!"
           from (select distinct on (contact_id) score from replies
                 where kind = 'nps' and score is not null and received_at > $1 and received_at <= $2
                 order by contact_id, received_at desc) latest"#,
        from,
        to
    )
    .fetch_one(pool)
    .await?;
    Ok(Nps {
        answers: r.answers,
        promoters: r.promoters,
        passives: r.passives,
        detractors: r.detractors,
    })
}

/// "72 yellow ↓8": the score, its category and its move over 30 days.
pub(super) fn health_cell(h: Option<&LatestHealth>) -> String {
    let Some(h) = h else {
        return "-".into();
    };
    match (h.score, h.category) {
        (Some(s), Some(c)) => {
            let arrow = match h.change_30d {
                Some(d) if d > 0 => format!(" ↑{d}"),
                Some(d) if d < 0 => format!(" ↓{}", -d),
                _ => String::new(),
            };
            format!("{s} {c}{arrow}")
        }
        _ => "no data".into(),
    }
}

/// The things a manager should look at, in a few words.
pub(super) fn attention(a: &AccountStatus) -> String {
    let mut notes = Vec::new();
    if let Some(s) = a.last_nps
        && s <= 6
    {
        notes.push(format!("detractor ({s})"));
    }
    if a.touches_sent >= 3 && a.reply_rate().is_some_and(|r| r < 0.34) {
        notes.push("rarely answers".to_string());
    }
    if a.unreachable_contacts > 0 {
        notes.push(format!("{} unreachable", a.unreachable_contacts));
    }
    if a.touches_unknown > 0 {
        notes.push(format!("{} sends to check", a.touches_unknown));
    }
    if a.contacts < 2 && a.lifecycle == "active" {
        notes.push("single-threaded".to_string());
    }
    notes.join(", ")
}
