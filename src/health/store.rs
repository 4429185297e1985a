//! The edge of the health core: gathers the facts for many accounts at once, scores them with
//! the pure core, and keeps every result. The only I/O in `health`.
//!
//! Facts are read set-based (one query per kind of fact, covering every account, grouped in
//! Rust), so the nightly run costs the same handful of queries for ten accounts or ten
//! thousand. A fact with no rows behind it stays `None`, so it shows as missing, never as 0.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

use super::{Category, HealthConfig, HealthInput, HealthScore, NpsAnswer, score as score_input};
use crate::domain::AccountId;

mod history;

pub use history::{StoredScore, history, scores_between};

/// The latest stored score of one account, for tables and cards.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct LatestHealth {
    /// 0-100; none when the computation found too little data to score.
    pub score: Option<u8>,
    pub category: Option<Category>,
    pub computed_at: DateTime<Utc>,
    /// Points gained (negative: lost) against the score in force 30 days before `now`.
    pub change_30d: Option<i32>,
    pub missing: Vec<String>,
    pub summary: String,
    /// The components as stored, with their explanations.
    pub components: Vec<super::ComponentScore>,
}

fn small(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// The facts for every account that is not churned (or only those `among`), at `now`.
pub async fn build_inputs(
    pool: &PgPool,
    config: &HealthConfig,
    now: DateTime<Utc>,
    among: Option<&[AccountId]>,
) -> anyhow::Result<BTreeMap<AccountId, HealthInput>> {
    let among: Option<Vec<i64>> = among.map(|ids| ids.iter().map(|a| a.0).collect());
    let only = among.as_deref();
    let mut inputs: BTreeMap<AccountId, HealthInput> = BTreeMap::new();

    let accounts = sqlx::query!(
        r#"select id, coalesce(go_live, contract_start) as "day_zero!" from accounts
           where lifecycle <> 'churned' and ($1::int8[] is null or id = any($1)) order by id"#,
        only
    )
    .fetch_all(pool)
    .await?;
    for a in accounts {
        let mut input = HealthInput::empty(now);
        input.days_since_day_zero = Some((now.date_naive() - a.day_zero).num_days());
        // Contacts are always known: an account with none has none, which is a fact.
        input.engagement.unreachable_contacts = Some(0);
        input.engagement.opted_out_contacts = Some(0);
        input.relationship.active_contacts = Some(0);
        input.relationship.champion = Some(false);
        inputs.insert(AccountId(a.id), input);
    }
    if inputs.is_empty() {
        return Ok(inputs);
    }

    // A touch still inside its reply window is not yet unanswered: it counts once answered
    // or once the window has passed, so a check-in sent this morning costs nothing. One the
    // contact read and left for `read_unanswered_days` is counted apart (see `components`).
    let answer_due = now - crate::inbound::REPLY_WINDOW;
    let read_by = now - TimeDelta::days(i64::from(config.engagement.read_unanswered_days));
    let touches = sqlx::query!(
        r#"select t.account_id,
                  count(*) filter (where t.sent_at <= $3 or a.answered) as "sent!",
                  count(*) filter (where a.answered) as "answered!",
                  count(*) filter (where t.sent_at > $3 and not a.answered
                                     and t.read_at <= $4) as "read_unanswered!"
           from touches t
           cross join lateral (select exists (select 1 from replies r
                                              where r.touch_id = t.id and r.received_at <= $1)
                               as answered) a
           -- Only touches that ask something can go unanswered; a welcome or a renewal
           -- notice is read, not answered.
           where t.status = 'sent' and t.contact_id is not null
             and t.kind in ('nps', 'csat', 'checkin', 'qbr')
             and t.sent_at > $1::timestamptz - interval '90 days' and t.sent_at <= $1
             and ($2::int8[] is null or t.account_id = any($2))
           group by t.account_id"#,
        now,
        only,
        answer_due,
        read_by
    )
    .fetch_all(pool)
    .await?;
    for t in touches {
        if let Some(input) = inputs.get_mut(&AccountId(t.account_id)) {
            // Touches all still inside their window are no answer rate yet.
            if t.sent > 0 {
                input.engagement.touches_sent_90d = Some(small(t.sent));
                input.engagement.touches_answered_90d = Some(small(t.answered));
            }
            input.engagement.read_unanswered_early = Some(small(t.read_unanswered));
        }
    }

    let checkins = sqlx::query!(
        r#"select account_id as "account_id!", answered as "answered!" from (
               select t.account_id,
                      exists (select 1 from replies r
                              where r.touch_id = t.id and r.received_at <= $1) as answered,
                      row_number() over (partition by t.account_id
                                         order by t.sent_at desc, t.id desc) as rn
               from touches t
               where t.status = 'sent' and t.contact_id is not null and t.kind = 'checkin'
                 and t.sent_at <= $1 and ($2::int8[] is null or t.account_id = any($2))
                 and (t.sent_at <= $4 or exists (select 1 from replies r
                                                where r.touch_id = t.id and r.received_at <= $1))
           ) x
           where rn <= $3
           order by account_id, rn"#,
        now,
        only,
        i64::from(config.engagement.checkins_considered),
        answer_due
    )
    .fetch_all(pool)
    .await?;
    for c in checkins {
        if let Some(input) = inputs.get_mut(&AccountId(c.account_id)) {
            input.engagement.recent_checkins_answered.push(c.answered);
        }
    }

    let nps = sqlx::query!(
        r#"select account_id,
                  count(*) filter (where received_at > $1::timestamptz - interval '90 days') as "answers!",
                  (array_agg(score order by received_at desc, id desc))[1] as "last_score!",
                  max(received_at) as "last_at!"
           from replies
           where kind = 'nps' and score is not null and received_at <= $1
             and ($2::int8[] is null or account_id = any($2))
           group by account_id"#,
        now,
        only
    )
    .fetch_all(pool)
    .await?;
    for n in nps {
        if let Some(input) = inputs.get_mut(&AccountId(n.account_id)) {
            input.engagement.nps_answers_90d = Some(small(n.answers));
            input.relationship.last_nps = u8::try_from(n.last_score).ok().map(|score| NpsAnswer {
                score,
                at: n.last_at,
            });
        }
    }
    // No NPS answer counts as zero only for an account we have been talking to; with no
    // touch sent in 90 days the count stays unknown.
    for input in inputs.values_mut() {
        if input.engagement.nps_answers_90d.is_none() && input.engagement.touches_sent_90d.is_some()
        {
            input.engagement.nps_answers_90d = Some(0);
        }
    }

    let contacts = sqlx::query!(
        r#"select c.account_id,
                  count(*) filter (where c.unreachable_at <= $1) as "unreachable!",
                  count(*) filter (where o.opted) as "opted_out!",
                  count(*) filter (where (c.unreachable_at is null or c.unreachable_at > $1)
                                   and not o.opted) as "active!",
                  bool_or(c.role = 'champion') as "champion!"
           from contacts c
           cross join lateral (select exists (select 1 from contact_consents k
                                              where k.contact_id = c.id and k.opted_out
                                                and k.changed_at <= $1) as opted) o
           where (c.removed_at is null or c.removed_at > $1)
             and ($2::int8[] is null or c.account_id = any($2))
           group by c.account_id"#,
        now,
        only
    )
    .fetch_all(pool)
    .await?;
    for c in contacts {
        if let Some(input) = inputs.get_mut(&AccountId(c.account_id)) {
            input.engagement.unreachable_contacts = Some(small(c.unreachable));
            input.engagement.opted_out_contacts = Some(small(c.opted_out));
            input.relationship.active_contacts = Some(small(c.active));
            input.relationship.champion = Some(c.champion);
        }
    }

    let usage = sqlx::query!(
        r#"select distinct on (account_id, kind) account_id as "account_id!", kind, value as "value!"
           from (select account_id, kind, value, occurred_at, id from signals
                 where kind in ('active_users', 'licences', 'login_days_30', 'feature_adoption')
                   and value is not null and occurred_at <= $1
                   and ($2::int8[] is null or account_id = any($2))
                 union all
                 -- the active users as they were 30 days ago, for the trend
                 select account_id, 'active_users_30d_ago', value, occurred_at, id from signals
                 where kind = 'active_users' and value is not null
                   and occurred_at <= $1::timestamptz - interval '30 days'
                   and ($2::int8[] is null or account_id = any($2))) s
           order by account_id, kind, occurred_at desc, id desc"#,
        now,
        only
    )
    .fetch_all(pool)
    .await?;
    for u in usage {
        let Some(input) = inputs.get_mut(&AccountId(u.account_id)) else {
            continue;
        };
        let count = || Some(u.value.max(0.0).round() as u32);
        let facts = &mut input.usage;
        match u.kind.as_deref().unwrap_or_default() {
            "active_users" => facts.active_users = count(),
            "licences" => facts.licences = count(),
            "login_days_30" => facts.login_days_last_30 = count(),
            "feature_adoption" => facts.feature_adoption = Some(u.value.clamp(0.0, 1.0)),
            "active_users_30d_ago" => facts.active_users_30_days_ago = count(),
            _ => {}
        }
    }

    let signals = sqlx::query!(
        r#"select account_id,
                  bool_or(kind in ('ticket_opened', 'ticket_closed')) as "has_tickets!",
                  count(*) filter (where kind = 'ticket_opened'
                                   and occurred_at > $1::timestamptz - interval '30 days') as "tickets_30!",
                  count(*) filter (where kind = 'ticket_opened'
                                   and occurred_at <= $1::timestamptz - interval '30 days'
                                   and occurred_at > $1::timestamptz - interval '60 days') as "tickets_prior!",
                  count(*) filter (where kind = 'payment_on_time'
                                   and occurred_at > $1::timestamptz - interval '6 months') as "on_time!",
                  count(*) filter (where kind = 'payment_late'
                                   and occurred_at > $1::timestamptz - interval '6 months') as "late!",
                  count(*) filter (where kind = 'goal_set') as "goals_set!",
                  count(*) filter (where kind = 'goal_met') as "goals_met!",
                  (array_agg(kind order by occurred_at desc, id desc)
                     filter (where kind in ('sponsor_present', 'sponsor_left')))[1] as sponsor
           from signals
           where occurred_at <= $1 and ($2::int8[] is null or account_id = any($2))
           group by account_id"#,
        now,
        only
    )
    .fetch_all(pool)
    .await?;
    for s in signals {
        let Some(input) = inputs.get_mut(&AccountId(s.account_id)) else {
            continue;
        };
        if s.has_tickets {
            input.support.tickets_last_30d = Some(small(s.tickets_30));
            input.support.tickets_prior_30d = Some(small(s.tickets_prior));
            input.support.critical_open_since = Some(Vec::new());
        }
        if s.on_time + s.late > 0 {
            input.payments.on_time_6m = Some(small(s.on_time));
            input.payments.late_6m = Some(small(s.late));
        }
        if s.goals_set + s.goals_met > 0 {
            input.outcomes.goals_set = Some(small(s.goals_set.max(s.goals_met)));
            input.outcomes.goals_met = Some(small(s.goals_met));
        }
        input.relationship.executive_sponsor = s.sponsor.map(|k| k == "sponsor_present");
    }

    let criticals = sqlx::query!(
        r#"select o.account_id, o.occurred_at from signals o
           where o.kind = 'ticket_opened' and o.details->>'severity' = 'critical'
             and o.occurred_at <= $1 and ($2::int8[] is null or o.account_id = any($2))
             and not exists (select 1 from signals c
                             where c.account_id = o.account_id and c.kind = 'ticket_closed'
                               and c.details->>'ticket' = o.details->>'ticket'
                               and c.occurred_at <= $1)"#,
        now,
        only
    )
    .fetch_all(pool)
    .await?;
    for c in criticals {
        if let Some(input) = inputs.get_mut(&AccountId(c.account_id)) {
            input
                .support
                .critical_open_since
                .get_or_insert_with(Vec::new)
                .push(c.occurred_at);
        }
    }

    let csat = sqlx::query!(
        r#"select account_id as "account_id!", avg(score)::float8 as "avg!" from (
               select account_id, score::float8 as score from replies
               where kind = 'csat' and score is not null
                 and received_at > $1::timestamptz - interval '90 days' and received_at <= $1
                 and ($2::int8[] is null or account_id = any($2))
               union all
               select account_id, (details->>'csat')::float8 from signals
               where kind = 'ticket_closed' and details ? 'csat'
                 and occurred_at > $1::timestamptz - interval '90 days' and occurred_at <= $1
                 and ($2::int8[] is null or account_id = any($2))
           ) x group by account_id"#,
        now,
        only
    )
    .fetch_all(pool)
    .await?;
    for c in csat {
        if let Some(input) = inputs.get_mut(&AccountId(c.account_id)) {
            input.support.csat_avg_90d = Some(c.avg);
        }
    }

    Ok(inputs)
}

/// Scores every account that is not churned (or only `only`) at `now` and stores each result
/// as a new row of the history, all in one insert. `cause` says what asked for it ("nightly",
/// "signal", "reply").
pub async fn recompute(
    pool: &PgPool,
    config: &HealthConfig,
    now: DateTime<Utc>,
    cause: &str,
    only: Option<AccountId>,
) -> anyhow::Result<Vec<(AccountId, HealthScore)>> {
    recompute_among(
        pool,
        config,
        now,
        cause,
        only.as_ref().map(std::slice::from_ref),
    )
    .await
}

/// As [`recompute`], for the accounts `among` (every one for `None`): the nightly run goes
/// through the portfolio a group at a time.
pub async fn recompute_among(
    pool: &PgPool,
    config: &HealthConfig,
    now: DateTime<Utc>,
    cause: &str,
    among: Option<&[AccountId]>,
) -> anyhow::Result<Vec<(AccountId, HealthScore)>> {
    let inputs = build_inputs(pool, config, now, among)
        .await
        .context("reading the health facts")?;
    if inputs.is_empty() {
        return Ok(Vec::new());
    }
    // Scoring a chunk of the portfolio is pure work for a core: kept off the async workers,
    // so the other chunk's queries and the server's other tasks go on meanwhile. One
    // account (a reply, a signal) is scored in place, cheaper than the hand-over.
    let (scored, rows) = if inputs.len() > 1 {
        let config = config.clone();
        tokio::task::spawn_blocking(move || score_rows(&inputs, &config))
            .await
            .context("scoring the accounts")??
    } else {
        score_rows(&inputs, config)?
    };
    // The scores and the touch counts the portfolio's figures read beside them
    // (`account_health`, kept by a trigger) are written together or not at all.
    let mut tx = pool.begin().await.context("storing the health scores")?;
    sqlx::query(
        "insert into health_scores
             (account_id, computed_at, score, category, model, components, missing, summary, cause)
         select u.account_id, $2, u.score, u.category, u.model, u.components,
                array(select jsonb_array_elements_text(u.missing)), u.summary, $3
         from unnest($1::bigint[], $4::smallint[], $5::text[], $6::text[], $7::jsonb[],
                     $8::jsonb[], $9::text[])
              as u(account_id, score, category, model, components, missing, summary)",
    )
    .bind(&rows.ids)
    .bind(now)
    .bind(cause)
    .bind(&rows.scores)
    .bind(&rows.categories)
    .bind(&rows.models)
    .bind(&rows.components)
    .bind(&rows.missing)
    .bind(&rows.summaries)
    .execute(&mut *tx)
    .await
    .context("storing the health scores")?;
    crate::metrics::keep_response_counts(&mut tx, now, &rows.ids).await?;
    tx.commit().await.context("storing the health scores")?;
    Ok(scored)
}

/// The columns of the scores' insert, one entry per account.
struct ScoreRows {
    ids: Vec<i64>,
    scores: Vec<Option<i16>>,
    categories: Vec<Option<String>>,
    models: Vec<String>,
    components: Vec<serde_json::Value>,
    missing: Vec<serde_json::Value>,
    summaries: Vec<String>,
}

fn score_rows(
    inputs: &BTreeMap<AccountId, HealthInput>,
    config: &HealthConfig,
) -> anyhow::Result<(Vec<(AccountId, HealthScore)>, ScoreRows)> {
    let scored: Vec<(AccountId, HealthScore)> = inputs
        .iter()
        .map(|(account, input)| (*account, score_input(input, config)))
        .collect();
    let n = scored.len();
    let mut rows = ScoreRows {
        ids: Vec::with_capacity(n),
        scores: Vec::with_capacity(n),
        categories: Vec::with_capacity(n),
        models: Vec::with_capacity(n),
        components: Vec::with_capacity(n),
        missing: Vec::with_capacity(n),
        summaries: Vec::with_capacity(n),
    };
    for (account, s) in &scored {
        rows.ids.push(account.0);
        rows.scores.push(s.score.map(i16::from));
        rows.categories
            .push(s.category.map(|c| c.as_str().to_string()));
        rows.models.push(s.model.clone());
        rows.components.push(serde_json::to_value(&s.components)?);
        // text[] per row cannot travel in a ragged 2-D array, so each list goes as JSON.
        rows.missing.push(serde_json::to_value(&s.missing)?);
        rows.summaries.push(s.summary());
    }
    Ok((scored, rows))
}

/// The latest score of every account at `now` (or only `only`'s), with its change over 30 days.
pub async fn latest_scores(
    pool: &PgPool,
    now: DateTime<Utc>,
    only: Option<AccountId>,
) -> anyhow::Result<HashMap<AccountId, LatestHealth>> {
    latest_scores_among(pool, now, only.as_ref().map(std::slice::from_ref)).await
}

/// As `latest_scores`, for the accounts in `among` only (all of them for `None`): a page of
/// a list reads the scores of its own accounts, not the portfolio's.
pub async fn latest_scores_among(
    pool: &PgPool,
    now: DateTime<Utc>,
    among: Option<&[AccountId]>,
) -> anyhow::Result<HashMap<AccountId, LatestHealth>> {
    let among: Option<Vec<i64>> = among.map(|ids| ids.iter().map(|a| a.0).collect());
    // The summary row where it holds what `now` would read (one probe by primary key for the
    // components); otherwise a probe of the index per account, newest first. Either way the
    // cost follows the accounts, not the history, which grows by a row per account a night.
    let latest = sqlx::query!(
        r#"select a.id as account_id, h.computed_at as "computed_at!", h.score as "score?",
                  h.category as "category?", h.missing as "missing!", h.summary as "summary!",
                  h.components as "components!",
                  case when s.account_id is not null then s.score_30d_ago else b.score end
                      as "score_30d_ago?"
           from accounts a
           left join account_health_at($1) s on s.account_id = a.id
           cross join lateral (select computed_at, score, category, missing, summary, components
                                 from health_scores
                                where id = s.score_id
                               union all
                               (select computed_at, score, category, missing, summary, components
                                  from health_scores
                                 where account_id = a.id and computed_at <= $1
                                   and s.account_id is null
                                 order by computed_at desc, id desc limit 1)) h
           left join lateral (select score from health_scores
                               where account_id = a.id and computed_at <= $3
                                 and score is not null and s.account_id is null
                               order by computed_at desc, id desc limit 1) b on true
           where $2::int8[] is null or a.id = any($2)"#,
        now,
        among.as_deref(),
        now - TimeDelta::days(30)
    )
    .fetch_all(pool)
    .await?;
    let mut out = HashMap::with_capacity(latest.len());
    for r in latest {
        let category = r.category.as_deref().and_then(Category::from_stored);
        let change_30d = match (r.score, r.score_30d_ago) {
            (Some(now), Some(then)) => Some(i32::from(now) - i32::from(then)),
            _ => None,
        };
        out.insert(
            AccountId(r.account_id),
            LatestHealth {
                score: r.score.and_then(|s| u8::try_from(s).ok()),
                category,
                computed_at: r.computed_at,
                change_30d,
                missing: r.missing,
                summary: r.summary,
                components: serde_json::from_value(r.components)
                    .context("a stored health score has unreadable components")?,
            },
        );
    }
    Ok(out)
}
