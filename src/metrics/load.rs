//! The only I/O of the metrics: the facts of a portfolio (or of one CSM's accounts), read in
//! one query per kind of fact whatever the number of accounts, as `health::store` does.

use std::collections::HashSet;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::facts::{AccountResponse, Facts, NpsReply, OpenEscalation, Payment, StaffFacts};
use super::{Params, ResponseRate};
use crate::domain::{AccountId, ContactId, StaffId};

mod accounts;

use accounts::few;

/// The facts at `now` of every account, or only of `csm`'s accounts. The reads are
/// independent, so they run at once, each on its own connection.
pub async fn load(
    pool: &PgPool,
    now: DateTime<Utc>,
    csm: Option<StaffId>,
    params: &Params,
) -> anyhow::Result<Facts> {
    let csm = csm.map(|s| s.0);
    let (staff, read, escalations, payments) = tokio::try_join!(
        staff(pool),
        accounts::read(pool, now, csm, params),
        apart(open_escalations(pool.clone(), now, csm)),
        payments(pool, now, csm),
    )?;
    let nps = match &read.nps_live {
        None => nps_answers(pool, now, csm, params, None).await?,
        Some(live) if live.is_empty() => Vec::new(),
        Some(live) => {
            let answers =
                nps_answers(pool, now, csm, params, few(live, read.accounts.len())).await?;
            let wanted: HashSet<i64> = live.iter().copied().collect();
            answers
                .into_iter()
                .filter(|n| wanted.contains(&n.account.0))
                .collect()
        }
    };
    Ok(Facts {
        now,
        staff,
        accounts: read.accounts,
        nps,
        nps_kept: read.nps_kept,
        responses: read.responses,
        escalations,
        payments,
    })
}

/// Runs one of the big reads on its own task: the rows of 100,000 accounts, their summary
/// rows and the open escalations are then decoded on several threads at once, not one after
/// the other on the task that joins them.
async fn apart<T: Send + 'static>(
    read: impl Future<Output = anyhow::Result<T>> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::spawn(read)
        .await
        .context("a read of the facts stopped")?
}

/// The team, by name. Someone removed from the team is left out, unless accounts (churned
/// ones) still name them: those stay under their name rather than moving to "(no CSM)".
async fn staff(pool: &PgPool) -> anyhow::Result<Vec<StaffFacts>> {
    sqlx::query!(
        "select id, name, role from staff s
          where s.removed_at is null or exists (select 1 from accounts a where a.csm_id = s.id)
          order by lower(name), id"
    )
    .fetch_all(pool)
    .await
    .context("reading the team")?
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
    .collect()
}

/// The NPS answers of the window, read live, of the accounts `among` (every one for `None`).
async fn nps_answers(
    pool: &PgPool,
    now: DateTime<Utc>,
    csm: Option<i64>,
    params: &Params,
    among: Option<&[i64]>,
) -> anyhow::Result<Vec<NpsReply>> {
    let rows = sqlx::query!(
        r#"select r.account_id, r.contact_id, r.score as "score!", r.received_at
           from replies r join accounts a on a.id = r.account_id
           where r.kind = 'nps' and r.score is not null
             and r.received_at > $3
             and r.received_at <= $1 and ($2::int8 is null or a.csm_id = $2)
             and ($4::int8[] is null or r.account_id = any($4))
           order by r.received_at, r.id"#,
        now,
        csm,
        now - params.nps_window,
        among
    )
    .fetch_all(pool)
    .await
    .context("reading the NPS answers")?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(NpsReply {
                account: AccountId(r.account_id),
                contact: ContactId(r.contact_id),
                score: u8::try_from(r.score).ok()?,
                at: r.received_at,
            })
        })
        .collect())
}

/// Open at `now`: opened by then and not resolved by then, so a past instant reads as it was.
async fn open_escalations(
    pool: PgPool,
    now: DateTime<Utc>,
    csm: Option<i64>,
) -> anyhow::Result<Vec<OpenEscalation>> {
    let rows = sqlx::query!(
        r#"select e.account_id, e.opened_at
           from escalations e join accounts a on a.id = e.account_id
           where e.opened_at <= $1 and (e.resolved_at is null or e.resolved_at > $1)
             and ($2::int8 is null or a.csm_id = $2)"#,
        now,
        csm
    )
    .fetch_all(&pool)
    .await
    .context("reading the open escalations")?;
    Ok(rows
        .into_iter()
        .map(|r| OpenEscalation {
            account: AccountId(r.account_id),
            opened_at: r.opened_at,
        })
        .collect())
}

async fn payments(
    pool: &PgPool,
    now: DateTime<Utc>,
    csm: Option<i64>,
) -> anyhow::Result<Vec<Payment>> {
    let rows = sqlx::query!(
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
    .context("reading the payments")?;
    Ok(rows
        .into_iter()
        .map(|r| Payment {
            account: AccountId(r.account_id),
            paid_at: r.occurred_at,
            // Amounts are stored in currency units; cents keep the sums exact.
            amount_cents: (r.value * 100.0).round() as i64,
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

/// Keeps, beside the scores just written at `now` for `among`, their NPS answers of the
/// figures' default window counted as `nps_of` counts them (`nps_counts`), so the portfolio's
/// NPS reads no replies. As the touch counts, written only where the latest score is the one
/// of `now`.
pub async fn keep_nps_counts(
    conn: &mut sqlx::PgConnection,
    now: DateTime<Utc>,
    among: &[i64],
) -> anyhow::Result<()> {
    sqlx::query(
        "update account_health s
            set nps_counted_at = $1, nps_answers = coalesce(c.answers, 0),
                promoters = coalesce(c.promoters, 0), passives = coalesce(c.passives, 0),
                detractors = coalesce(c.detractors, 0)
           from unnest($2::int8[]) a(id)
           left join nps_counts($1, $3, $2) c on c.account_id = a.id
          where s.account_id = a.id and s.computed_at = $1",
    )
    .bind(now)
    .bind(among)
    .bind(now - Params::default().nps_window)
    .execute(conn)
    .await
    .context("keeping the NPS counts beside the scores")?;
    Ok(())
}

fn seconds(d: chrono::TimeDelta) -> f64 {
    d.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6
}

fn small(n: impl TryInto<u32>) -> u32 {
    n.try_into().unwrap_or(u32::MAX)
}
