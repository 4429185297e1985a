//! The accounts in scope with what their summary row (`account_health`) holds for `now`: the
//! latest health, the touch counts and the NPS counts the reassessment kept beside it. What
//! the row does not hold is read from the history or counted live, for those accounts only.

use std::collections::{HashMap, HashSet};

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

use super::{apart, count_live, small};
use crate::domain::{AccountId, StaffId};
use crate::health::store::{ScoreNow, latest_from_history};
use crate::metrics::facts::{AccountFacts, AccountNps, AccountResponse, HealthNow};
use crate::metrics::{Nps, Params, ResponseRate};

/// What [`read`] found: the accounts by id, the counts kept for them, and whose NPS answers
/// are still to be read live.
pub(super) struct Read {
    pub accounts: Vec<AccountFacts>,
    pub responses: Vec<AccountResponse>,
    pub nps_kept: Vec<AccountNps>,
    /// The accounts whose answers the NPS figure reads live: `None` for every one (the window
    /// asked for is not the one kept).
    pub nps_live: Option<Vec<i64>>,
}

/// One account as stored.
struct Account {
    id: i64,
    name: String,
    csm_id: Option<i64>,
    lifecycle: String,
    renewal_date: Option<NaiveDate>,
    time_zone: String,
}

/// An account's summary row where it describes `now`, the counts only where they belong to
/// its latest score.
struct Summary {
    account_id: i64,
    score_id: i64,
    score: Option<i16>,
    category: Option<String>,
    score_30d_ago: Option<i16>,
    asked: Option<i32>,
    answered: Option<i32>,
    waiting: Option<i32>,
    nps_answers: Option<i32>,
    promoters: Option<i32>,
    passives: Option<i32>,
    detractors: Option<i32>,
}

/// The accounts in scope (every one, or `csm`'s) by id, with their latest health and the
/// counts of their touches and NPS answers.
pub(super) async fn read(
    pool: &PgPool,
    now: DateTime<Utc>,
    csm: Option<i64>,
    params: &Params,
) -> anyhow::Result<Read> {
    // Three reads at once, joined here by id: as one query, PostgreSQL's hash join of 100,000
    // accounts with their summary rows (spilling past `work_mem`) cost four times the two
    // scans it joined.
    let (mut accounts, summaries, first_payments) = tokio::try_join!(
        apart(accounts(pool.clone(), csm)),
        apart(summaries(pool.clone(), now, csm)),
        first_payments(pool, now, csm)
    )?;
    // Each account beside its summary row and first payment, walking the three by id: a map
    // of 100,000 summary rows cost more to build than the walk.
    accounts.sort_unstable_by_key(|a| a.id);
    let (mut summaries, mut first_payments) = (ById::new(summaries), ById::new(first_payments));
    let joined: Vec<(Account, Option<Summary>, Option<DateTime<Utc>>)> = accounts
        .into_iter()
        .map(|a| {
            let (s, p) = (summaries.take(a.id), first_payments.take(a.id));
            (a, s, p)
        })
        .collect();
    let unsummarized: Vec<i64> = joined
        .iter()
        .filter(|(_, s, _)| s.is_none())
        .map(|(a, _, _)| a.id)
        .collect();
    let mut from_history = if unsummarized.is_empty() {
        HashMap::new()
    } else {
        latest_from_history(pool, now, few(&unsummarized, joined.len())).await?
    };
    let mut counts = Counts::new(params);
    let mut today = LocalToday::new(now);
    let mut facts = Vec::with_capacity(joined.len());
    for (a, summary, first_payment_at) in joined {
        counts.add(a.id, summary.as_ref());
        let health = match summary {
            Some(s) => Some(ScoreNow::new(
                s.score_id,
                s.score,
                s.category.as_deref(),
                s.score_30d_ago,
            )),
            None => from_history.remove(&AccountId(a.id)),
        };
        facts.push(account_facts(a, health, first_payment_at, &mut today)?);
    }
    let Counts {
        mut responses,
        uncounted,
        nps_kept,
        nps_live,
        ..
    } = counts;
    if !uncounted.is_empty() {
        let live = count_live(pool, now, params, few(&uncounted, facts.len())).await?;
        let wanted: HashSet<i64> = uncounted.into_iter().collect();
        responses.extend(live.into_iter().filter(|r| wanted.contains(&r.account.0)));
    }
    Ok(Read {
        accounts: facts,
        responses,
        nps_kept,
        nps_live,
    })
}

async fn accounts(pool: PgPool, csm: Option<i64>) -> anyhow::Result<Vec<Account>> {
    sqlx::query_as!(
        Account,
        "select id, name, csm_id, lifecycle, renewal_date, time_zone from accounts
          where $1::int8 is null or csm_id = $1",
        csm
    )
    .fetch_all(&pool)
    .await
    .context("reading the accounts")
}

/// The summary rows that hold what a read at `now` would find (`account_health_at`); an
/// account without one reads the history.
async fn summaries(
    pool: PgPool,
    now: DateTime<Utc>,
    csm: Option<i64>,
) -> anyhow::Result<Vec<(i64, Summary)>> {
    let rows = sqlx::query_as!(
        Summary,
        r#"select s.account_id as "account_id!", s.score_id as "score_id!", s.score,
                  s.category, s.score_30d_ago,
                  case when s.counted_at = s.computed_at then s.asked end as "asked?",
                  case when s.counted_at = s.computed_at then s.answered end as "answered?",
                  case when s.counted_at = s.computed_at then s.waiting end as "waiting?",
                  case when s.nps_counted_at = s.computed_at then s.nps_answers end
                      as "nps_answers?",
                  case when s.nps_counted_at = s.computed_at then s.promoters end as "promoters?",
                  case when s.nps_counted_at = s.computed_at then s.passives end as "passives?",
                  case when s.nps_counted_at = s.computed_at then s.detractors end
                      as "detractors?"
           from account_health_at($1) s
           where $2::int8 is null
              or s.account_id in (select id from accounts where csm_id = $2)"#,
        now,
        csm
    )
    .fetch_all(&pool)
    .await
    .context("reading the accounts' summary rows")?;
    Ok(rows.into_iter().map(|s| (s.account_id, s)).collect())
}

/// Each account's first payment with an amount by `now`: how far back its payment history
/// reaches.
async fn first_payments(
    pool: &PgPool,
    now: DateTime<Utc>,
    csm: Option<i64>,
) -> anyhow::Result<Vec<(i64, DateTime<Utc>)>> {
    let rows = sqlx::query!(
        r#"select s.account_id, min(s.occurred_at) as "first_payment_at!" from signals s
           where s.kind in ('payment_on_time', 'payment_late') and s.value is not null
             and s.occurred_at <= $1
             and ($2::int8 is null
                  or s.account_id in (select id from accounts where csm_id = $2))
           group by s.account_id"#,
        now,
        csm
    )
    .fetch_all(pool)
    .await
    .context("reading the first payments")?;
    Ok(rows
        .into_iter()
        .map(|r| (r.account_id, r.first_payment_at))
        .collect())
}

/// Rows keyed by account id, taken by a walk over the accounts in ascending id.
struct ById<T> {
    rows: std::iter::Peekable<std::vec::IntoIter<(i64, T)>>,
}

impl<T> ById<T> {
    fn new(mut rows: Vec<(i64, T)>) -> ById<T> {
        rows.sort_unstable_by_key(|r| r.0);
        ById {
            rows: rows.into_iter().peekable(),
        }
    }

    /// The row of `id`, which is above every id asked for before.
    fn take(&mut self, id: i64) -> Option<T> {
        while self.rows.next_if(|(k, _)| *k < id).is_some() {}
        self.rows.next_if(|(k, _)| *k == id).map(|(_, row)| row)
    }
}

/// The counts the summary rows kept, gathered account by account, and the accounts whose
/// touches or NPS answers are to be counted live.
struct Counts {
    responses: Vec<AccountResponse>,
    uncounted: Vec<i64>,
    nps_kept: Vec<AccountNps>,
    /// `None`: every account's answers are read live (the window is not the kept one).
    nps_live: Option<Vec<i64>>,
    responses_kept: bool,
}

impl Counts {
    fn new(params: &Params) -> Counts {
        Counts {
            responses: Vec::new(),
            uncounted: Vec::new(),
            nps_kept: Vec::new(),
            nps_live: params.nps_kept().then(Vec::new),
            responses_kept: params.counts_kept(),
        }
    }

    fn add(&mut self, id: i64, s: Option<&Summary>) {
        let touches = s
            .filter(|_| self.responses_kept)
            .and_then(|s| Some((s.asked?, s.answered?, s.waiting?)));
        match touches {
            Some((asked, answered, waiting)) if asked + waiting > 0 => {
                self.responses.push(AccountResponse {
                    account: AccountId(id),
                    rate: ResponseRate {
                        asked: small(asked),
                        answered: small(answered),
                        waiting: small(waiting),
                    },
                });
            }
            Some(_) => {}
            None => self.uncounted.push(id),
        }
        let Some(live) = &mut self.nps_live else {
            return;
        };
        let nps = s.and_then(|s| Some((s.nps_answers?, s.promoters?, s.passives?, s.detractors?)));
        match nps {
            Some((answers, promoters, passives, detractors)) if answers > 0 => {
                self.nps_kept.push(AccountNps {
                    account: AccountId(id),
                    nps: Nps {
                        answers: answers.into(),
                        promoters: promoters.into(),
                        passives: passives.into(),
                        detractors: detractors.into(),
                    },
                });
            }
            Some(_) => {}
            None => live.push(id),
        }
    }
}

fn account_facts(
    r: Account,
    health: Option<ScoreNow>,
    first_payment_at: Option<DateTime<Utc>>,
    today: &mut LocalToday,
) -> anyhow::Result<AccountFacts> {
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
        days_to_renewal: match r.renewal_date {
            Some(d) => Some((d - today.of(&r.time_zone)?).num_days()),
            None => None,
        },
        renewal_date: r.renewal_date,
        health: health.map(|h| HealthNow {
            score: h.score,
            category: h.category,
            change_30d: h.change_30d(),
        }),
        first_payment_at,
    })
}

/// Today's date at `now` in each account's time zone, each zone looked up once: the renewal
/// is counted in days from the account's own date.
struct LocalToday {
    now: DateTime<Utc>,
    zones: HashMap<String, NaiveDate>,
}

impl LocalToday {
    fn new(now: DateTime<Utc>) -> LocalToday {
        LocalToday {
            now,
            zones: HashMap::new(),
        }
    }

    fn of(&mut self, zone: &str) -> anyhow::Result<NaiveDate> {
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
pub(super) fn few(ids: &[i64], of: usize) -> Option<&[i64]> {
    (ids.len() * 2 <= of).then_some(ids)
}
