//! The only I/O of the metrics: the facts of a portfolio (or of one CSM's accounts), read in
//! one query per kind of fact whatever the number of accounts, as `health::store` does.

use std::collections::HashMap;

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

    let (accounts, responses) = accounts(pool, now, csm, params).await?;

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

/// The accounts in scope (every one, or `csm`'s) by name, with their latest health and their
/// touches' counts.
async fn accounts(
    pool: &PgPool,
    now: DateTime<Utc>,
    csm: Option<i64>,
    params: &Params,
) -> anyhow::Result<(Vec<AccountFacts>, Vec<AccountResponse>)> {
    // The latest score, the one in force 30 days back and the touch counts come from
    // `account_health` where it holds what `now` would read; the history is read only for the
    // accounts it does not cover (scored after `now`, or never), by `health_from_history`.
    let rows = sqlx::query!(
        r#"select a.id, a.name, a.csm_id, a.lifecycle, a.renewal_date, a.time_zone,
                  s.account_id is not null as "summarized!",
                  s.score as "score?", s.category as "category?",
                  s.score_30d_ago as "score_30d_ago?",
                  case when s.counted_at = s.computed_at then s.asked end as "asked?",
                  case when s.counted_at = s.computed_at then s.answered end as "answered?",
                  case when s.counted_at = s.computed_at then s.waiting end as "waiting?",
                  p.first_payment_at as "first_payment_at?"
           from accounts a
           left join account_health_at($1) s on s.account_id = a.id
           left join (
               select account_id, min(occurred_at) as first_payment_at from signals
               where kind in ('payment_on_time', 'payment_late') and value is not null
                 and occurred_at <= $1
               group by account_id
           ) p on p.account_id = a.id
           where $2::int8 is null or a.csm_id = $2"#,
        now,
        csm
    )
    .fetch_all(pool)
    .await
    .context("reading the accounts with their latest health")?;
    let mut today = LocalToday::new(now);
    let unsummarized: Vec<i64> = rows
        .iter()
        .filter(|r| !r.summarized)
        .map(|r| r.id)
        .collect();
    let mut from_history = if unsummarized.is_empty() {
        HashMap::new()
    } else {
        health_from_history(pool, now, few(&unsummarized, rows.len())).await?
    };
    let kept_counts = params.counts_kept();
    let mut responses = Vec::new();
    let mut uncounted = Vec::new();
    let mut accounts = Vec::with_capacity(rows.len());
    for r in rows {
        match (r.asked, r.answered, r.waiting) {
            (Some(asked), Some(answered), Some(waiting)) if kept_counts => {
                if asked + waiting > 0 {
                    responses.push(AccountResponse {
                        account: AccountId(r.id),
                        rate: ResponseRate {
                            asked: small(asked),
                            answered: small(answered),
                            waiting: small(waiting),
                        },
                    });
                }
            }
            _ => uncounted.push(r.id),
        }
        let health = if r.summarized {
            Some(health_now(r.score, r.category.as_deref(), r.score_30d_ago))
        } else {
            from_history.remove(&AccountId(r.id))
        };
        accounts.push(AccountFacts {
            id: AccountId(r.id),
            lifecycle: r
                .lifecycle
                .parse()
                .map_err(|e: crate::domain::ParseError| {
                    anyhow::anyhow!("stored account state: {}", e.0)
                })?,
            name: r.name,
            csm: r.csm_id.map(StaffId),
            days_to_renewal: match r.renewal_date {
                Some(d) => Some((d - today.of(&r.time_zone)?).num_days()),
                None => None,
            },
            renewal_date: r.renewal_date,
            health,
            first_payment_at: r.first_payment_at,
        });
    }
    if !uncounted.is_empty() {
        let live = count_live(pool, now, params, few(&uncounted, accounts.len())).await?;
        let wanted: std::collections::HashSet<i64> = uncounted.into_iter().collect();
        responses.extend(live.into_iter().filter(|r| wanted.contains(&r.account.0)));
    }
    // By name, as the tables list them; sorted here rather than by the database, which
    // spilled 100,000 names to disk.
    accounts.sort_by_cached_key(|a| (a.name.to_lowercase(), a.id.0));
    Ok((accounts, responses))
}

/// Today's date at `now` in each account's time zone, each zone looked up once: the renewal
/// is counted in days from the account's own date.
struct LocalToday {
    now: DateTime<Utc>,
    zones: HashMap<String, chrono::NaiveDate>,
}

impl LocalToday {
    fn new(now: DateTime<Utc>) -> LocalToday {
        LocalToday {
            now,
            zones: HashMap::new(),
        }
    }

    fn of(&mut self, zone: &str) -> anyhow::Result<chrono::NaiveDate> {
        if let Some(d) = self.zones.get(zone) {
            return Ok(*d);
        }
        let tz: chrono_tz::Tz = zone
            .parse()
            .map_err(|_| anyhow::anyhow!("stored account time zone {zone:?} is unknown"))?;
        let d = self.now.with_timezone(&tz).date_naive();
        self.zones.insert(zone.to_string(), d);
        Ok(d)
    }
}

/// `ids` when they are few among `of` accounts; `None` (every account) when most are asked
/// for, as one pass over a table beats a probe per account then.
fn few(ids: &[i64], of: usize) -> Option<&[i64]> {
    (ids.len() * 2 <= of).then_some(ids)
}

fn health_now(score: Option<i16>, category: Option<&str>, score_30d_ago: Option<i16>) -> HealthNow {
    HealthNow {
        score: score.and_then(|s| u8::try_from(s).ok()),
        category: category.and_then(Category::from_stored),
        change_30d: match (score, score_30d_ago) {
            (Some(now), Some(then)) => Some(i32::from(now) - i32::from(then)),
            _ => None,
        },
    }
}

/// The latest score at `now` and the one in force 30 days before, read from the history, of
/// the accounts `among` (every one for `None`) that have been scored by then.
async fn health_from_history(
    pool: &PgPool,
    now: DateTime<Utc>,
    among: Option<&[i64]>,
) -> anyhow::Result<HashMap<AccountId, HealthNow>> {
    let rows = sqlx::query!(
        r#"select a.id, h.score as "score?", h.category as "category?",
                  b.score as "score_30d_ago?"
           from accounts a
           cross join lateral (
               select score, category from health_scores
               where account_id = a.id and computed_at <= $1
               order by computed_at desc, id desc limit 1
           ) h
           left join lateral (
               select score from health_scores
               where account_id = a.id and score is not null
                 and computed_at <= $1::timestamptz - interval '30 days'
               order by computed_at desc, id desc limit 1
           ) b on true
           where $2::int8[] is null or a.id = any($2)"#,
        now,
        among
    )
    .fetch_all(pool)
    .await
    .context("reading the latest health from the history")?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let h = health_now(r.score, r.category.as_deref(), r.score_30d_ago);
            (AccountId(r.id), h)
        })
        .collect())
}

/// The touches that asked something in the response window, counted per account from the
/// touches themselves (every account when `among` is `None`). Only touches that ask something
/// can go unanswered; a welcome or a renewal notice is read, not answered. As
/// `response_rate`: answered when a reply came by `now` and within the reply window of the
/// send (the first reply is the earliest, so some reply by then is the same test); waiting
/// while unanswered inside that window.
async fn count_live(
    pool: &PgPool,
    now: DateTime<Utc>,
    params: &Params,
    among: Option<&[i64]>,
) -> anyhow::Result<Vec<AccountResponse>> {
    let rows = sqlx::query!(
        r#"select account_id as "account_id!", asked as "asked!", answered as "answered!",
                  waiting as "waiting!"
           from asked_touch_counts($1, $2, make_interval(secs => $3::float8), $4)"#,
        now,
        now - params.response_window,
        seconds(params.reply_window),
        among
    )
    .fetch_all(pool)
    .await
    .context("counting the answered touches")?;
    Ok(rows
        .into_iter()
        .map(|r| AccountResponse {
            account: AccountId(r.account_id),
            rate: ResponseRate {
                asked: small(r.asked),
                answered: small(r.answered),
                waiting: small(r.waiting),
            },
        })
        .collect())
}

/// Keeps, beside the scores just written at `now` for `among`, their touches' counts with the
/// figures' default windows: the portfolio's figures then read one row per account rather
/// than every touch of 90 days (`account_health`). Accounts whose latest score is not the one
/// of `now` are left as they were.
pub async fn keep_response_counts(
    conn: &mut sqlx::PgConnection,
    now: DateTime<Utc>,
    among: &[i64],
) -> anyhow::Result<()> {
    let params = Params::default();
    sqlx::query(
        "update account_health s
            set counted_at = $1, asked = coalesce(c.asked, 0),
                answered = coalesce(c.answered, 0), waiting = coalesce(c.waiting, 0)
           from unnest($2::int8[]) a(id)
           left join asked_touch_counts($1, $3, make_interval(secs => $4::float8), $2) c
                  on c.account_id = a.id
          where s.account_id = a.id and s.computed_at = $1",
    )
    .bind(now)
    .bind(among)
    .bind(now - params.response_window)
    .bind(seconds(params.reply_window))
    .execute(conn)
    .await
    .context("keeping the touch counts beside the scores")?;
    Ok(())
}

fn seconds(d: chrono::TimeDelta) -> f64 {
    d.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6
}

fn small(n: impl TryInto<u32>) -> u32 {
    n.try_into().unwrap_or(u32::MAX)
}
