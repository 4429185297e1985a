//! Where a red signal becomes an escalation: reads the accounts' state, runs the pure rules and
//! the dedup, stores what they decided and queues the posts. Run after every health
//! recomputation (a reply, a signal, the nightly job); [`super::tick`] climbs the ladder and
//! watches the SLA in between.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use super::card::CardFacts;
use super::config::EscalationConfig;
use super::dedup::{Decision, reconcile};
use super::input::AccountState;
use super::lifecycle::nps_recovered;
use super::rules::evaluate;
use super::sla::sla_deadline;
use super::state::{self, AccountContext, latest_event};
use super::store::{self, EscalationRow, Filter};
use super::{Reason, Trigger, card};
use crate::domain::{AccountId, EscalationId};
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

/// Evaluates every account that is not churned (or only `only`) at `now` and stores the
/// outcome. Safe to run twice or concurrently: decisions for one account are serialised by a
/// row lock, and every post has an idempotency key.
pub async fn run(
    pool: &PgPool,
    config: &EscalationConfig,
    now: DateTime<Utc>,
    only: Option<&[AccountId]>,
) -> anyhow::Result<RunReport> {
    let loaded = state::load(pool, config, now, only).await?;
    let with_open = accounts_with_open(pool, only).await?;
    let mut report = RunReport::default();
    for (id, state) in &loaded.states {
        let triggers = evaluate(state, config, now);
        if triggers.is_empty() && !with_open.contains(id) {
            continue;
        }
        let account = &loaded.accounts[id];
        // One broken account must not keep every later one from being judged.
        if let Err(e) = apply(pool, config, account, state, &triggers, now, &mut report).await {
            tracing::error!(account_id = id.0, error = %format!("{e:#}"), "could not store an account's escalations; going on with the others");
            report.failed += 1;
        }
    }
    report.recovered = mark_recovered(pool, config, now, only).await?;
    Ok(report)
}

async fn accounts_with_open(
    pool: &PgPool,
    only: Option<&[AccountId]>,
) -> anyhow::Result<BTreeSet<AccountId>> {
    let only: Option<Vec<i64>> = only.map(|ids| ids.iter().map(|a| a.0).collect());
    let rows = sqlx::query_scalar!(
        r#"select distinct account_id from escalations
            where status <> 'resolved' and ($1::bigint[] is null or account_id = any($1))"#,
        only.as_deref()
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(AccountId).collect())
}

/// Stores the decisions for one account in one transaction.
async fn apply(
    pool: &PgPool,
    config: &EscalationConfig,
    account: &AccountContext,
    state: &AccountState,
    triggers: &[Trigger],
    now: DateTime<Utc>,
    report: &mut RunReport,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    // One decision at a time per account: the unique open (account, reason) index would catch
    // a race, but as an error; the lock makes the second run see the first one's rows.
    sqlx::query!(
        "select id from accounts where id = $1 for no key update",
        account.id.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    let open = store::fetch(&mut tx, Filter::Unresolved(Some(account.id)), true).await?;
    let quiet_since = now - Duration::days(i64::from(config.quiet_after_resolve_days));
    let resolved = store::recently_resolved(&mut tx, account.id, quiet_since).await?;
    let open_view: Vec<_> = open.iter().map(EscalationRow::as_open).collect();
    let by_reason: HashMap<Reason, &EscalationRow> = open.iter().map(|e| (e.reason, e)).collect();
    let owner_name = match account.csm_id {
        Some(csm) => {
            sqlx::query_scalar!("select name from staff where id = $1", csm.0)
                .fetch_optional(&mut *tx)
                .await?
        }
        None => None,
    };
    let owner = owner_name.as_deref();

    for decision in reconcile(triggers, &open_view, &resolved, config, now) {
        match decision {
            Decision::Open { trigger, delivery } => {
                let sla_due = sla_deadline(now, config.sla.time_zone, &config.sla);
                let nps = match trigger.reason {
                    Reason::Detractor => state.last_nps.as_ref().map(|n| i16::from(n.score)),
                    _ => None,
                };
                let id = sqlx::query_scalar!(
                    r#"insert into escalations (account_id, reason, severity, magnitude, evidence,
                           owner_id, notified_level, opened_at, last_alerted_at, updated_at,
                           events_until, sla_due_at, nps_score)
                       values ($1, $2, $3, $4, $5, $6, 'csm', $7, $7, $7, $8, $9, $10)
                       returning id"#,
                    account.id.0,
                    trigger.reason.as_str(),
                    trigger.severity.as_str(),
                    trigger.magnitude.0,
                    trigger.evidence,
                    account.csm_id.map(|s| s.0),
                    now,
                    latest_event(state, trigger.reason),
                    sla_due,
                    nps,
                )
                .fetch_one(&mut *tx)
                .await?;
                let id = EscalationId(id);
                store::add_event(&mut tx, id, now, "opened", None, trigger.severity.as_str())
                    .await?;
                let f = card_facts(account, state, owner, config, id, &trigger, Some(sla_due));
                store::announce(
                    &mut tx,
                    &f,
                    account.id,
                    account.csm_id,
                    delivery,
                    "opened",
                    now,
                )
                .await?;
                tracing::info!(escalation = id.0, account = account.id.0, reason = %trigger.reason, "escalation opened");
                report.opened += 1;
            }
            Decision::Update { trigger } => {
                let row = by_reason[&trigger.reason];
                update_evidence(&mut tx, row, &trigger, state, now).await?;
                report.updated += 1;
            }
            Decision::Realert {
                trigger,
                delivery,
                was_severity,
                was_magnitude,
            } => {
                let row = by_reason[&trigger.reason];
                if row.snoozed_at(now) {
                    // Snoozed: keep the last posted state, so the worse one is posted once the
                    // snooze ends.
                    update_evidence(&mut tx, row, &trigger, state, now).await?;
                    report.updated += 1;
                    continue;
                }
                sqlx::query!(
                    "update escalations set severity = $2, magnitude = $3, evidence = $4,
                            last_alerted_at = $5, updated_at = $5,
                            events_until = greatest(events_until, $6)
                      where id = $1",
                    row.id.0,
                    trigger.severity.as_str(),
                    trigger.magnitude.0,
                    trigger.evidence,
                    now,
                    latest_event(state, trigger.reason),
                )
                .execute(&mut *tx)
                .await?;
                let n = sqlx::query_scalar!(
                    r#"select count(*) as "n!" from escalation_events
                        where escalation_id = $1 and kind = 'realerted'"#,
                    row.id.0
                )
                .fetch_one(&mut *tx)
                .await?;
                let details = format!(
                    "{} → {}, {} → {}",
                    was_severity, trigger.severity, was_magnitude.0, trigger.magnitude.0
                );
                store::add_event(&mut tx, row.id, now, "realerted", None, &details).await?;
                let f = card_facts(account, state, owner, config, row.id, &trigger, None);
                let tag = format!("realert-{}", n + 1);
                store::announce(&mut tx, &f, account.id, row.owner_id, delivery, &tag, now).await?;
                report.realerted += 1;
            }
            Decision::Hold { .. } => report.held += 1,
            Decision::ConditionCleared {
                reason, delivery, ..
            } => {
                let row = by_reason[&reason];
                if row.snoozed_at(now) {
                    continue;
                }
                // Once per alert: the key carries the time of the last post.
                let episode = row.last_alerted_at.unwrap_or(row.opened_at).timestamp();
                let (recipient, post_delivery) = match delivery {
                    super::Delivery::Immediate => (Recipient::TeamChat, PostDelivery::Now),
                    super::Delivery::Digest => (
                        row.owner_id.map_or(Recipient::TeamChat, Recipient::Staff),
                        PostDelivery::Digest,
                    ),
                };
                let new = store::post(
                    &mut tx,
                    format!("esc:{}:cleared-{episode}:{}", row.id, recipient.key()),
                    PostKind::Cleared,
                    row.id,
                    account.id,
                    recipient,
                    post_delivery,
                    card::cleared(&account.name, reason, row.id),
                    now,
                )
                .await?;
                if new {
                    store::add_event(&mut tx, row.id, now, "cleared", None, "").await?;
                    report.cleared += 1;
                }
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

fn card_facts<'a>(
    account: &'a AccountContext,
    state: &'a AccountState,
    owner: Option<&'a str>,
    config: &EscalationConfig,
    id: EscalationId,
    trigger: &'a Trigger,
    sla_due: Option<DateTime<Utc>>,
) -> CardFacts<'a> {
    CardFacts {
        id,
        account: &account.name,
        reason: trigger.reason,
        severity: trigger.severity,
        evidence: &trigger.evidence,
        health: &state.health,
        renewal: account.renewal_date,
        owner,
        sla_due,
        tz: config.sla.time_zone,
    }
}

/// A repeated trigger: the card's evidence follows the latest state without a new post.
async fn update_evidence(
    tx: &mut sqlx::PgConnection,
    row: &EscalationRow,
    trigger: &Trigger,
    state: &AccountState,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let covered = latest_event(state, trigger.reason);
    if row.evidence == trigger.evidence && covered.is_none() {
        return Ok(());
    }
    let changed = sqlx::query!(
        "update escalations set evidence = $2, updated_at = $3,
                events_until = greatest(events_until, $4)
          where id = $1 and (evidence <> $2 or events_until is distinct from
                             greatest(events_until, $4))",
        row.id.0,
        trigger.evidence,
        now,
        covered,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed > 0 && row.evidence != trigger.evidence {
        store::add_event(tx, row.id, now, "updated", None, &trigger.evidence).await?;
    }
    Ok(())
}

/// Detractor escalations whose client later answered NPS above the detractor band and higher
/// than before: marked recovered, and the team is told. Open ones stay open for a person to
/// resolve (the dedup suggests it); the mark is kept for the team metrics either way.
async fn mark_recovered(
    pool: &PgPool,
    config: &EscalationConfig,
    now: DateTime<Utc>,
    only: Option<&[AccountId]>,
) -> anyhow::Result<usize> {
    let only: Option<Vec<i64>> = only.map(|ids| ids.iter().map(|a| a.0).collect());
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
              and ($1::bigint[] is null or e.account_id = any($1))"#,
        only.as_deref(),
        now
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
