//! Where a red signal becomes an escalation: reads the accounts' state, runs the pure rules and
//! the dedup, stores what they decided and queues the posts (in groups: `batch`). Run after every health
//! recomputation (a reply, a signal, the nightly job); [`super::tick`] climbs the ladder and
//! watches the SLA in between.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::batch::{self, Due};
use super::config::EscalationConfig;
use super::lifecycle::nps_recovered;
use super::rules::evaluate;
use super::state;
use super::{card, store};
use crate::domain::{AccountId, Accounts, AccountsParams, EscalationId};
use crate::staff_posts::{PostDelivery, PostKind, Recipient};

/// What one run did, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunReport {
    pub opened: usize,
    pub updated: usize,
    pub realerted: usize,
    pub held: usize,
    pub cleared: usize,
    pub recovered: usize,
    /// Accounts whose decisions could not be stored (each is logged; the run goes on).
    pub failed: usize,
}

impl RunReport {
    /// Adds the counts of another run (a group of accounts, a chunk of the portfolio).
    pub fn add(&mut self, other: RunReport) {
        self.opened += other.opened;
        self.updated += other.updated;
        self.realerted += other.realerted;
        self.held += other.held;
        self.cleared += other.cleared;
        self.recovered += other.recovered;
        self.failed += other.failed;
    }
}

/// Accounts whose decisions are stored together, in one transaction.
const GROUP: usize = 500;

/// Evaluates every account that is not churned (or only `only`) at `now` and stores the
/// outcome. Safe to run twice or concurrently: decisions for one account are serialised by a
/// row lock, and every post has an idempotency key.
pub async fn run(
    pool: &PgPool,
    config: &EscalationConfig,
    now: DateTime<Utc>,
    only: Option<&[AccountId]>,
) -> anyhow::Result<RunReport> {
    run_accounts(pool, config, now, only.into()).await
}

/// As [`run`], for `accounts`: the nightly run goes through the portfolio a range of ids at
/// a time.
pub async fn run_accounts(
    pool: &PgPool,
    config: &EscalationConfig,
    now: DateTime<Utc>,
    accounts: Accounts<'_>,
) -> anyhow::Result<RunReport> {
    run_knowing(pool, config, now, accounts, None).await
}

/// As [`run_accounts`], right after a reassessment of `accounts` that hands over what it
/// computed and read (`known`: the new scores, the touches), so the rules read neither again.
pub async fn run_knowing(
    pool: &PgPool,
    config: &EscalationConfig,
    now: DateTime<Utc>,
    accounts: Accounts<'_>,
    known: Option<state::Known>,
) -> anyhow::Result<RunReport> {
    let params = accounts.params();
    let loaded = state::load_knowing(pool, config, now, accounts, known).await?;
    let with_open = accounts_with_open(pool, &params).await?;
    let due: Vec<Due<'_>> = loaded
        .states
        .iter()
        .filter_map(|(id, state)| {
            let triggers = evaluate(state, config, now);
            (!triggers.is_empty() || with_open.contains(id)).then(|| Due {
                account: &loaded.accounts[id],
                state,
                triggers,
            })
        })
        .collect();
    let mut report = RunReport::default();
    for group in due.chunks(GROUP) {
        match batch::apply(pool, config, group, now).await {
            Ok(done) => report.add(done),
            Err(e) if group.len() == 1 => failed(&group[0], &e, &mut report),
            Err(e) => {
                // One broken account must not keep every other one from being judged.
                tracing::warn!(error = %format!("{e:#}"), accounts = group.len(), "could not store a group's escalations; storing them one by one");
                for one in group.chunks(1) {
                    match batch::apply(pool, config, one, now).await {
                        Ok(done) => report.add(done),
                        Err(e) => failed(&one[0], &e, &mut report),
                    }
                }
            }
        }
    }
    report.recovered = mark_recovered(pool, config, now, &params).await?;
    if report != RunReport::default() {
        tracing::info!(
            accounts = loaded.states.len(),
            opened = report.opened,
            updated = report.updated,
            realerted = report.realerted,
            held = report.held,
            cleared = report.cleared,
            recovered = report.recovered,
            failed = report.failed,
            "escalation rules applied"
        );
    }
    Ok(report)
}

fn failed(due: &Due<'_>, e: &anyhow::Error, report: &mut RunReport) {
    tracing::error!(account_id = due.account.id.0, error = %format!("{e:#}"), "could not store an account's escalations; going on with the others");
    report.failed += 1;
}

async fn accounts_with_open(
    pool: &PgPool,
    params: &AccountsParams,
) -> anyhow::Result<BTreeSet<AccountId>> {
    let rows = sqlx::query_scalar!(
        r#"select distinct account_id from escalations
            where status <> 'resolved' and ($2::int8 is null or account_id between $2 and $3::int8)
              and ($1::bigint[] is null or account_id = any($1))"#,
        params.ids.as_deref(),
        params.lo,
        params.hi
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(AccountId).collect())
}

/// Detractor escalations whose client later answered NPS above the detractor band and higher
/// than before: marked recovered, and the team is told. Open ones stay open for a person to
/// resolve (the dedup suggests it); the mark is kept for the team metrics either way.
async fn mark_recovered(
    pool: &PgPool,
    config: &EscalationConfig,
    now: DateTime<Utc>,
    params: &AccountsParams,
) -> anyhow::Result<usize> {
    let candidates = sqlx::query!(
        r#"select e.id, e.account_id, a.name as account_name, e.nps_score as "nps_score!",
                  later.score as "later!"
             from escalations e
             join accounts a on a.id = e.account_id
             cross join lateral (select r.score from replies r
                                  where r.account_id = e.account_id and r.kind = 'nps'
                                    and r.score is not null and r.received_at > e.events_until
                                    and r.received_at <= $2
                                  order by r.score desc limit 1) later
            where e.reason = 'detractor' and e.recovered_at is null and e.nps_score is not null
              and e.events_until is not null
              and ($1::bigint[] is null or e.account_id = any($1))
              -- A range of the nightly run judges the accounts it reassessed: not churned ones.
              and ($3::int8 is null
                   or (e.account_id between $3 and $4::int8 and a.lifecycle <> 'churned'))"#,
        params.ids.as_deref(),
        now,
        params.lo,
        params.hi
    )
    .fetch_all(pool)
    .await?;
    let mut marked = 0;
    for c in candidates {
        let (Ok(before), Ok(later)) = (u8::try_from(c.nps_score), u8::try_from(c.later)) else {
            continue;
        };
        if !nps_recovered(before, later, config.detractor.max_score) {
            continue;
        }
        let mut tx = pool.begin().await?;
        let done = sqlx::query!(
            "update escalations set recovered_at = $2, recovered_score = $3, updated_at = $2
              where id = $1 and recovered_at is null",
            c.id,
            now,
            i16::from(later)
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 1 {
            let id = EscalationId(c.id);
            store::add_event(&mut tx, id, now, "recovered", None, &format!("NPS {later}")).await?;
            store::post(
                &mut tx,
                format!("esc:{id}:recovered:team"),
                PostKind::Recovered,
                id,
                AccountId(c.account_id),
                Recipient::TeamChat,
                PostDelivery::Now,
                card::recovered(&c.account_name, id, before, later),
                now,
            )
            .await?;
            marked += 1;
        }
        tx.commit().await?;
    }
    Ok(marked)
}
