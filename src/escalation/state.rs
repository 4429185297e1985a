//! The edge that feeds the rules: reads what the escalation rules look at for many accounts at
//! once (one query per kind of fact, grouped in Rust) and builds each [`AccountState`].

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use sqlx::PgPool;

use super::Reason;
use super::config::EscalationConfig;
use super::input::{
    AccountState, ContactRef, HelpKind, HelpRequest, NpsAnswer, OpenTicket, RelationshipEvent,
    RelationshipKind, RenewalState, UsageChange,
};
use crate::domain::{AccountId, Accounts, AccountsParams, ContactId, StaffId};

mod read;

pub use read::Known;

/// How far back the silence rule looks for touches. Longer than any sensible silence setting.
pub const TOUCH_LOOKBACK_DAYS: i64 = 180;
/// Progress on a renewal counts from the renewal kick-off, 90 days before the date.
pub const RENEWAL_PROGRESS_SINCE_DAYS: i64 = 90;
/// Usage is compared with the figure in force this many days earlier.
const USAGE_COMPARE_DAYS: i64 = 30;

/// What a post about an account needs besides the rules' state.
#[derive(Debug, Clone)]
pub struct AccountContext {
    pub id: AccountId,
    pub name: String,
    pub csm_id: Option<StaffId>,
    pub time_zone: Tz,
    pub renewal_date: Option<chrono::NaiveDate>,
}

#[derive(Debug, Default)]
pub struct Loaded {
    pub accounts: BTreeMap<AccountId, AccountContext>,
    pub states: BTreeMap<AccountId, AccountState>,
}

impl Loaded {
    /// The time of the newest event behind a reason's trigger, so the escalation can remember
    /// it has covered that event.
    pub fn latest_event(&self, account: AccountId, reason: Reason) -> Option<DateTime<Utc>> {
        let state = self.states.get(&account)?;
        latest_event(state, reason)
    }
}

/// The newest event of `reason` in `state`; `None` for measured (non-event) reasons.
pub fn latest_event(state: &AccountState, reason: Reason) -> Option<DateTime<Utc>> {
    let relationship = |kind: RelationshipKind| {
        state
            .relationship
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.at)
            .max()
    };
    match reason {
        Reason::Detractor => state.last_nps.as_ref().map(|n| n.answered_at),
        Reason::HelpRequested => state.help_requests.iter().map(|h| h.at).max(),
        Reason::SponsorLeft => relationship(RelationshipKind::SponsorLeft),
        Reason::ChampionChanged => relationship(RelationshipKind::ChampionChanged),
        Reason::Competitor => relationship(RelationshipKind::CompetitorMentioned),
        _ => None,
    }
}

/// The state of the accounts that are not churned among `accounts`, at `now`.
pub async fn load(
    pool: &PgPool,
    config: &EscalationConfig,
    now: DateTime<Utc>,
    accounts: Accounts<'_>,
) -> anyhow::Result<Loaded> {
    load_knowing(pool, config, now, accounts, None).await
}

/// As [`load`], taking the health and the touches from `known` (what the reassessment that
/// runs the rules has just computed and read) instead of reading them.
pub async fn load_knowing(
    pool: &PgPool,
    config: &EscalationConfig,
    now: DateTime<Utc>,
    accounts: Accounts<'_>,
    known: Option<Known>,
) -> anyhow::Result<Loaded> {
    let among = accounts;
    let params = accounts.params();
    let (only, lo, hi) = (params.ids.as_deref(), params.lo, params.hi);
    let mut loaded = Loaded::default();

    let accounts = sqlx::query!(
        r#"select id, name, csm_id, time_zone, renewal_date from accounts
           where lifecycle <> 'churned' and ($2::int8 is null or id between $2 and $3::int8)
             and ($1::bigint[] is null or id = any($1))
           order by id"#,
        only,
        lo,
        hi
    )
    .fetch_all(pool)
    .await?;
    for a in accounts {
        let id = AccountId(a.id);
        loaded.accounts.insert(
            id,
            AccountContext {
                id,
                name: a.name,
                csm_id: a.csm_id.map(StaffId),
                time_zone: a.time_zone.parse().unwrap_or(Tz::UTC),
                renewal_date: a.renewal_date,
            },
        );
        loaded.states.insert(id, AccountState::default());
    }
    if loaded.accounts.is_empty() {
        return Ok(loaded);
    }
    let escalated = escalated_until(pool, &params).await?;
    let covered = |account: i64, reason: Reason, at: DateTime<Utc>| {
        escalated
            .get(&(account, reason.as_str().to_string()))
            .is_some_and(|until| *until >= at)
    };

    match known {
        Some(known) => known.fill(&mut loaded),
        None => {
            read::health(pool, config, now, &params, &mut loaded).await?;
            read::touches(pool, now, among, &mut loaded).await?;
        }
    }

    let nps = sqlx::query!(
        r#"select distinct on (r.account_id) r.account_id, r.score as "score!", r.comment,
                  r.received_at, c.id as contact_id, c.name as contact_name
             from replies r join contacts c on c.id = r.contact_id
            where r.kind = 'nps' and r.score is not null and r.received_at <= $2
              and ($3::int8 is null or r.account_id between $3 and $4::int8)
             and ($1::bigint[] is null or r.account_id = any($1))
            order by r.account_id, r.received_at desc, r.id desc"#,
        only,
        now,
        lo,
        hi
    )
    .fetch_all(pool)
    .await?;
    for r in nps {
        if let Some(state) = loaded.states.get_mut(&AccountId(r.account_id)) {
            state.last_nps = Some(NpsAnswer {
                score: u8::try_from(r.score).unwrap_or(0),
                comment: r.comment,
                answered_at: r.received_at,
                contact: ContactRef {
                    id: ContactId(r.contact_id),
                    name: r.contact_name,
                },
                already_escalated: covered(r.account_id, Reason::Detractor, r.received_at),
            });
        }
    }

    // The figure in force now and the one in force a month ago: the latest at or before each.
    let usage = sqlx::query!(
        r#"select a.id as account_id,
                  (select s.value from signals s where s.account_id = a.id
                      and s.kind = 'active_users' and s.occurred_at <= $2
                    order by s.occurred_at desc, s.id desc limit 1) as now_value,
                  (select s.value from signals s where s.account_id = a.id
                      and s.kind = 'active_users' and s.occurred_at <= $3
                    order by s.occurred_at desc, s.id desc limit 1) as then_value
             from accounts a
            where a.lifecycle <> 'churned' and ($4::int8 is null or a.id between $4 and $5::int8)
             and ($1::bigint[] is null or a.id = any($1))"#,
        only,
        now,
        now - Duration::days(USAGE_COMPARE_DAYS),
        lo,
        hi
    )
    .fetch_all(pool)
    .await?;
    for u in usage {
        if let (Some(now_value), Some(then_value), Some(state)) = (
            u.now_value,
            u.then_value,
            loaded.states.get_mut(&AccountId(u.account_id)),
        ) {
            state.usage = Some(UsageChange {
                now: now_value,
                thirty_days_ago: then_value,
            });
        }
    }

    let tickets = sqlx::query!(
        r#"select o.account_id, o.details->>'ticket' as "ticket!", o.occurred_at
             from signals o
            where o.kind = 'ticket_opened' and o.details->>'severity' = 'critical'
              and o.occurred_at <= $2 and ($3::int8 is null or o.account_id between $3 and $4::int8)
             and ($1::bigint[] is null or o.account_id = any($1))
              and not exists (select 1 from signals c
                               where c.account_id = o.account_id and c.kind = 'ticket_closed'
                                 and c.details->>'ticket' = o.details->>'ticket'
                                 and c.occurred_at >= o.occurred_at and c.occurred_at <= $2)"#,
        only,
        now,
        lo,
        hi
    )
    .fetch_all(pool)
    .await?;
    for t in tickets {
        if let Some(state) = loaded.states.get_mut(&AccountId(t.account_id)) {
            state.critical_tickets.push(OpenTicket {
                reference: t.ticket,
                opened_at: t.occurred_at,
            });
        }
    }

    let progress = sqlx::query!(
        r#"select a.id as account_id from accounts a
            where a.renewal_date is not null and ($4::int8 is null or a.id between $4 and $5::int8)
             and ($1::bigint[] is null or a.id = any($1))
              and exists (select 1 from signals s
                           where s.account_id = a.id and s.kind = 'renewal_progress'
                             and s.occurred_at <= $2
                             and s.occurred_at::date >= a.renewal_date - $3::int)"#,
        only,
        now,
        RENEWAL_PROGRESS_SINCE_DAYS as i32,
        lo,
        hi
    )
    .fetch_all(pool)
    .await?;
    let progressed: std::collections::HashSet<i64> =
        progress.into_iter().map(|p| p.account_id).collect();
    for (id, account) in &loaded.accounts {
        if let (Some(date), Some(state)) = (account.renewal_date, loaded.states.get_mut(id)) {
            let today = now.with_timezone(&account.time_zone).date_naive();
            state.renewal = Some(RenewalState {
                date,
                days_left: (date - today).num_days(),
                progress_recorded: progressed.contains(&id.0),
            });
        }
    }

    let relationship = sqlx::query!(
        r#"select s.account_id, s.kind, s.occurred_at,
                  coalesce(s.details->>'competitor', c.name) as detail
             from signals s left join contacts c on c.id = s.contact_id
            where s.kind in ('sponsor_left', 'champion_changed', 'competitor_mentioned')
              and s.occurred_at <= $2 and s.occurred_at > $3
              and ($4::int8 is null or s.account_id between $4 and $5::int8)
             and ($1::bigint[] is null or s.account_id = any($1))"#,
        only,
        now,
        now - Duration::days(i64::from(config.relationship.max_age_days)),
        lo,
        hi
    )
    .fetch_all(pool)
    .await?;
    for r in relationship {
        let (kind, reason) = match r.kind.as_str() {
            "sponsor_left" => (RelationshipKind::SponsorLeft, Reason::SponsorLeft),
            "champion_changed" => (RelationshipKind::ChampionChanged, Reason::ChampionChanged),
            _ => (RelationshipKind::CompetitorMentioned, Reason::Competitor),
        };
        if let Some(state) = loaded.states.get_mut(&AccountId(r.account_id)) {
            state.relationship.push(RelationshipEvent {
                kind,
                detail: r.detail,
                at: r.occurred_at,
                already_escalated: covered(r.account_id, reason, r.occurred_at),
            });
        }
    }

    let help = sqlx::query!(
        r#"select r.account_id, r.choice as "choice!", r.body, r.received_at,
                  c.id as contact_id, c.name as contact_name
             from replies r join contacts c on c.id = r.contact_id
            where r.choice in ('help', 'manager') and r.received_at <= $2 and r.received_at > $3
              and ($4::int8 is null or r.account_id between $4 and $5::int8)
             and ($1::bigint[] is null or r.account_id = any($1))"#,
        only,
        now,
        now - Duration::days(i64::from(config.help_request.max_age_days)),
        lo,
        hi
    )
    .fetch_all(pool)
    .await?;
    for h in help {
        // A button tap's body is its callback data, not the client's words.
        let text = if crate::inbound::callback::parse_callback(&h.body).is_ok() {
            None
        } else {
            Some(h.body)
        };
        if let Some(state) = loaded.states.get_mut(&AccountId(h.account_id)) {
            state.help_requests.push(HelpRequest {
                contact: ContactRef {
                    id: ContactId(h.contact_id),
                    name: h.contact_name,
                },
                kind: if h.choice == "manager" {
                    HelpKind::Manager
                } else {
                    HelpKind::Help
                },
                text,
                at: h.received_at,
                already_escalated: covered(h.account_id, Reason::HelpRequested, h.received_at),
            });
        }
    }
    Ok(loaded)
}

/// Per (account, reason), the newest event any escalation of that reason has covered.
async fn escalated_until(
    pool: &PgPool,
    params: &AccountsParams,
) -> anyhow::Result<HashMap<(i64, String), DateTime<Utc>>> {
    let (only, lo, hi) = (params.ids.as_deref(), params.lo, params.hi);
    let rows = sqlx::query!(
        r#"select account_id, reason, max(events_until) as "until!" from escalations
            where events_until is not null and ($2::int8 is null or account_id between $2 and $3::int8)
             and ($1::bigint[] is null or account_id = any($1))
            group by account_id, reason"#,
        only,
        lo,
        hi
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ((r.account_id, r.reason), r.until))
        .collect())
}
