//! The facts behind the health scores, read set-based: one query per kind of fact covering
//! every account asked for, grouped in Rust, so the nightly run costs the same handful of
//! queries for ten accounts or a range of two thousand. A fact with no rows behind it stays
//! `None`, so it shows as missing, never as 0.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

use super::asked::{self, AskedTouches};
use crate::domain::{AccountId, Accounts};
use crate::health::{HealthConfig, HealthInput, NpsAnswer};

fn small(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// The facts of the accounts `among` that are not churned, at `now`.
pub async fn build_inputs(
    pool: &PgPool,
    config: &HealthConfig,
    now: DateTime<Utc>,
    among: Accounts<'_>,
) -> anyhow::Result<BTreeMap<AccountId, HealthInput>> {
    let asked = asked::read(pool, now, among).await?;
    inputs_with(pool, config, now, among, &asked).await
}

/// As [`build_inputs`], with the asked touches already read (a reassessment shares them with
/// the escalation rules and the figures' counts).
pub(super) async fn inputs_with(
    pool: &PgPool,
    config: &HealthConfig,
    now: DateTime<Utc>,
    among: Accounts<'_>,
    asked: &AskedTouches,
) -> anyhow::Result<BTreeMap<AccountId, HealthInput>> {
    let params = among.params();
    let (only, lo, hi) = (params.ids.as_deref(), params.lo, params.hi);
    let mut inputs: BTreeMap<AccountId, HealthInput> = BTreeMap::new();

    let accounts = sqlx::query!(
        r#"select id, coalesce(go_live, contract_start) as "day_zero!" from accounts
           where lifecycle <> 'churned' and ($2::int8 is null or id between $2 and $3::int8)
             and ($1::int8[] is null or id = any($1)) order by id"#,
        only,
        lo,
        hi
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

    count_answers(&mut inputs, config, now, asked);

    let nps = sqlx::query!(
        r#"select account_id,
                  count(*) filter (where received_at > $1::timestamptz - interval '90 days') as "answers!",
                  (array_agg(score order by received_at desc, id desc))[1] as "last_score!",
                  max(received_at) as "last_at!"
           from replies
           where kind = 'nps' and score is not null and received_at <= $1
             and ($3::int8 is null or account_id between $3 and $4::int8)
             and ($2::int8[] is null or account_id = any($2))
           group by account_id"#,
        now,
        only,
        lo,
        hi
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
             and ($3::int8 is null or c.account_id between $3 and $4::int8)
             and ($2::int8[] is null or c.account_id = any($2))
           group by c.account_id"#,
        now,
        only,
        lo,
        hi
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
                   and ($3::int8 is null or account_id between $3 and $4::int8)
             and ($2::int8[] is null or account_id = any($2))
                 union all
                 -- the active users as they were 30 days ago, for the trend
                 select account_id, 'active_users_30d_ago', value, occurred_at, id from signals
                 where kind = 'active_users' and value is not null
                   and occurred_at <= $1::timestamptz - interval '30 days'
                   and ($3::int8 is null or account_id between $3 and $4::int8)
             and ($2::int8[] is null or account_id = any($2))) s
           order by account_id, kind, occurred_at desc, id desc"#,
        now,
        only,
        lo,
        hi
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
           where occurred_at <= $1 and ($3::int8 is null or account_id between $3 and $4::int8)
             and ($2::int8[] is null or account_id = any($2))
           group by account_id"#,
        now,
        only,
        lo,
        hi
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
             and o.occurred_at <= $1 and ($3::int8 is null or o.account_id between $3 and $4::int8)
             and ($2::int8[] is null or o.account_id = any($2))
             and not exists (select 1 from signals c
                             where c.account_id = o.account_id and c.kind = 'ticket_closed'
                               and c.details->>'ticket' = o.details->>'ticket'
                               and c.occurred_at <= $1)"#,
        now,
        only,
        lo,
        hi
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
                 and ($3::int8 is null or account_id between $3 and $4::int8)
             and ($2::int8[] is null or account_id = any($2))
               union all
               select account_id, (details->>'csat')::float8 from signals
               where kind = 'ticket_closed' and details ? 'csat'
                 and occurred_at > $1::timestamptz - interval '90 days' and occurred_at <= $1
                 and ($3::int8 is null or account_id between $3 and $4::int8)
             and ($2::int8[] is null or account_id = any($2))
           ) x group by account_id"#,
        now,
        only,
        lo,
        hi
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

/// The engagement facts the asked touches give: the answer rate of 90 days and the latest
/// check-ins. A touch still inside its reply window is not yet unanswered: it counts once
/// answered or once the window has passed, so a check-in sent this morning costs nothing. One
/// the contact read and left for `read_unanswered_days` is counted apart (see `components`).
fn count_answers(
    inputs: &mut BTreeMap<AccountId, HealthInput>,
    config: &HealthConfig,
    now: DateTime<Utc>,
    asked: &AskedTouches,
) {
    let answer_due = now - crate::inbound::REPLY_WINDOW;
    let read_by = now - TimeDelta::days(i64::from(config.engagement.read_unanswered_days));
    let recent_since = now - TimeDelta::days(90);
    let considered = config.engagement.checkins_considered as usize;
    for (account, touches) in asked {
        let Some(input) = inputs.get_mut(account) else {
            continue;
        };
        let mut counts = AnswerCounts::default();
        let mut any_recent = false;
        // Newest first, so the check-ins kept are the latest ones.
        for t in touches {
            let answered = t.answered();
            let due = t.sent_at <= answer_due || answered;
            let checkins = &mut input.engagement.recent_checkins_answered;
            if t.checkin && due && checkins.len() < considered {
                checkins.push(answered);
            }
            if t.sent_at > recent_since {
                any_recent = true;
                counts.sent += u32::from(due);
                counts.answered += u32::from(answered);
                counts.read_unanswered +=
                    u32::from(!due && t.read_at.is_some_and(|read| read <= read_by));
            }
        }
        if any_recent {
            counts.store(input);
        }
    }
}

/// One account's asked touches of 90 days, as the answer rate counts them.
#[derive(Debug, Default)]
struct AnswerCounts {
    sent: u32,
    answered: u32,
    read_unanswered: u32,
}

impl AnswerCounts {
    fn store(self, input: &mut HealthInput) {
        // Touches all still inside their window are no answer rate yet.
        if self.sent > 0 {
            input.engagement.touches_sent_90d = Some(self.sent);
            input.engagement.touches_answered_90d = Some(self.answered);
        }
        input.engagement.read_unanswered_early = Some(self.read_unanswered);
    }
}
