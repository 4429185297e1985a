//! The only I/O of the metrics: the facts of a portfolio (or of one CSM's accounts), read in
//! one query per kind of fact whatever the number of accounts, as `health::store` does.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::facts::{
    AccountFacts, AccountResponse, Facts, HealthNow, NpsReply, OpenEscalation, Payment, StaffFacts,
};
use super::{Params, ResponseRate};
use crate::domain::{AccountId, ContactId, StaffId};
use crate::health::Category;

/// The facts at `now` of every account, or only of `csm`'s accounts.
pub async fn load(
    pool: &PgPool,
    now: DateTime<Utc>,
    csm: Option<StaffId>,
    params: &Params,
) -> anyhow::Result<Facts> {
    let csm = csm.map(|s| s.0);

    // Someone removed from the team is left out, unless accounts (churned ones) still name
    // them: those stay under their name rather than moving to "(no CSM)".
    let staff = sqlx::query!(
        "select id, name, role from staff s
          where s.removed_at is null or exists (select 1 from accounts a where a.csm_id = s.id)
          order by lower(name), id"
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| {
        Ok(StaffFacts {
            id: StaffId(r.id),
            name: r.name,
            role: r.role.parse().map_err(|e: crate::domain::ParseError| {
                anyhow::anyhow!("stored staff role: {}", e.0)
            })?,
        })
    })
    .collect::<anyhow::Result<Vec<_>>>()?;

    let accounts = sqlx::query!(
        r#"select a.id, a.name, a.csm_id, a.lifecycle, a.renewal_date,
                  (a.renewal_date - ($1::timestamptz at time zone a.time_zone)::date)::int8
                      as days_to_renewal,
                  h.scored as "scored?", h.score as "score?", h.category as "category?",
                  b.score as "score_30d_ago?",
                  (select min(s.occurred_at) from signals s
                   where s.account_id = a.id and s.kind in ('payment_on_time', 'payment_late')
                     and s.value is not null and s.occurred_at <= $1) as first_payment_at
           from accounts a
           left join lateral (
               select true as scored, score, category from health_scores
               where account_id = a.id and computed_at <= $1
               order by computed_at desc, id desc limit 1
           ) h on true
           left join lateral (
               select score from health_scores
               where account_id = a.id and score is not null
                 and computed_at <= $1::timestamptz - interval '30 days'
               order by computed_at desc, id desc limit 1
           ) b on true
           where $2::int8 is null or a.csm_id = $2
           order by lower(a.name)"#,
        now,
        csm
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| {
        let health = r.scored.map(|_| HealthNow {
            score: r.score.and_then(|s| u8::try_from(s).ok()),
            category: r.category.as_deref().and_then(Category::from_stored),
            change_30d: match (r.score, r.score_30d_ago) {
                (Some(now), Some(then)) => Some(i32::from(now) - i32::from(then)),
                _ => None,
            },
        });
        Ok(AccountFacts {
            id: AccountId(r.id),
            lifecycle: r
                .lifecycle
                .parse()
                .map_err(|e: crate::domain::ParseError| {
                    anyhow::anyhow!("stored account state: {}", e.0)
                })?,
            name: r.name,
            csm: r.csm_id.map(StaffId),
            renewal_date: r.renewal_date,
            days_to_renewal: r.days_to_renewal,
            health,
            first_payment_at: r.first_payment_at,
        })
    })
    .collect::<anyhow::Result<Vec<_>>>()?;

    let nps = sqlx::query!(
        r#"select r.account_id, r.contact_id, r.score as "score!", r.received_at
           from replies r join accounts a on a.id = r.account_id
           where r.kind = 'nps' and r.score is not null
             and r.received_at > $3
             and r.received_at <= $1 and ($2::int8 is null or a.csm_id = $2)
           order by r.received_at, r.id"#,
        now,
        csm,
        now - params.nps_window
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .filter_map(|r| {
        Some(NpsReply {
            account: AccountId(r.account_id),
            contact: ContactId(r.contact_id),
            score: u8::try_from(r.score).ok()?,
            at: r.received_at,
        })
    })
    .collect();

    // Only touches that ask something can go unanswered; a welcome or a renewal notice is
    // read, not answered. Counted per account here rather than read touch by touch: the
    // window holds a dozen touches per account. As `response_rate`: answered when a reply
    // came by `now` and within the reply window of the send (the first reply is the earliest,
    // so some reply by then is the same test); waiting while unanswered inside that window.
    let reply_window_secs = params.reply_window.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6;
    let responses = sqlx::query!(
        // Materialized so that each touch's reply is looked up once, not once per count.
        r#"with w as (select make_interval(secs => $4::float8) as reply),
           asked as materialized (
               select t.account_id, t.sent_at,
                      exists (select 1 from replies r
                              where r.touch_id = t.id
                                and r.received_at <= least($1, t.sent_at + w.reply)) as answered
               from w, touches t
               join accounts a on a.id = t.account_id
               where t.status = 'sent' and t.contact_id is not null
                 and t.kind in ('nps', 'csat', 'checkin', 'qbr')
                 and t.sent_at > $3 and t.sent_at <= $1
                 and ($2::int8 is null or a.csm_id = $2)
           )
           select account_id as "account_id!",
                  count(*) filter (where answered) as "answered!",
                  count(*) filter (where not answered and $1 - sent_at < w.reply) as "waiting!",
                  count(*) filter (where answered or $1 - sent_at >= w.reply) as "asked!"
           from asked, w
           group by account_id"#,
        now,
        csm,
        now - params.response_window,
        reply_window_secs
    )
    .fetch_all(pool)
    .await
    .context("counting the answered touches")?
    .into_iter()
    .map(|r| AccountResponse {
        account: AccountId(r.account_id),
        rate: ResponseRate {
            asked: u32::try_from(r.asked).unwrap_or(u32::MAX),
            answered: u32::try_from(r.answered).unwrap_or(u32::MAX),
            waiting: u32::try_from(r.waiting).unwrap_or(u32::MAX),
        },
    })
    .collect();

    // Open at `now`: opened by then and not resolved by then, so a past instant reads as it was.
    let escalations = sqlx::query!(
        r#"select e.account_id, e.opened_at
           from escalations e join accounts a on a.id = e.account_id
           where e.opened_at <= $1 and (e.resolved_at is null or e.resolved_at > $1)
             and ($2::int8 is null or a.csm_id = $2)"#,
        now,
        csm
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| OpenEscalation {
        account: AccountId(r.account_id),
        opened_at: r.opened_at,
    })
    .collect();

    let payments = sqlx::query!(
        r#"select s.account_id, s.occurred_at, s.value as "value!"
           from signals s join accounts a on a.id = s.account_id
           where s.kind in ('payment_on_time', 'payment_late') and s.value is not null
             and s.occurred_at > $1::timestamptz - interval '24 months' and s.occurred_at <= $1
             and ($2::int8 is null or a.csm_id = $2)"#,
        now,
        csm
    )
    .fetch_all(pool)
    .await
    .context("reading the payments")?
    .into_iter()
    .map(|r| Payment {
        account: AccountId(r.account_id),
        paid_at: r.occurred_at,
        // Amounts are stored in currency units; cents keep the sums exact.
        amount_cents: (r.value * 100.0).round() as i64,
    })
    .collect();

    Ok(Facts {
        now,
        staff,
        accounts,
        nps,
        responses,
        escalations,
        payments,
    })
}
