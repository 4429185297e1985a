//! Stores what the rules decided for a group of accounts in one transaction, with one
//! statement per kind of write (escalations opened, evidence refreshed, re-alerts, posts,
//! history), so the nightly run over a portfolio costs a few round trips per group rather than
//! ten per account. [`super::engine::run`] hands it groups; a group that fails is tried again
//! one account at a time, so one broken account still cannot hold the others back.

use std::collections::{HashMap, HashSet};

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use sqlx::{PgConnection, PgPool};

use super::card::{self, CardFacts};
use super::config::EscalationConfig;
use super::dedup::{Decision, Delivery, reconcile};
use super::engine::RunReport;
use super::input::AccountState;
use super::sla::sla_deadline;
use super::state::{AccountContext, latest_event};
use super::store::{self, EscalationRow, NewEvent};
use super::{Reason, Trigger};
use crate::domain::{AccountId, EscalationId};
use crate::staff_posts::{self, NewPost, PostDelivery, PostKind, Recipient};

mod writes;

use writes::{insert_opened, realert, refresh_evidence};

/// An account the rules have something to say about: triggers, or escalations still open.
#[derive(Debug)]
pub struct Due<'a> {
    pub account: &'a AccountContext,
    pub state: &'a AccountState,
    pub triggers: Vec<Trigger>,
}

/// What one decision writes, in the order the rules decided, so posts queue in that order.
enum Step {
    Open {
        due: usize,
        trigger: Trigger,
        delivery: Delivery,
    },
    /// Fresh evidence on an open escalation, posted nowhere.
    Refresh {
        row: EscalationRow,
        trigger: Trigger,
        covered: Option<DateTime<Utc>>,
    },
    Realert {
        due: usize,
        row: EscalationRow,
        trigger: Trigger,
        delivery: Delivery,
        was: String,
    },
    Cleared {
        due: usize,
        row: EscalationRow,
        reason: Reason,
        delivery: Delivery,
    },
}

/// Decides and stores the escalations of `due` at `now`; returns what it did once committed.
pub async fn apply(
    pool: &PgPool,
    config: &EscalationConfig,
    due: &[Due<'_>],
    now: DateTime<Utc>,
) -> anyhow::Result<RunReport> {
    let ids: Vec<i64> = due.iter().map(|d| d.account.id.0).collect();
    let mut tx = pool.begin().await?;
    // One decision at a time per account: the unique open (account, reason) index would catch
    // a race, but as an error; the locks make a second run see the first one's rows. Taken in
    // id order, so two runs over overlapping groups cannot deadlock.
    sqlx::query!(
        "select id from accounts where id = any($1) order by id for no key update",
        &ids
    )
    .fetch_all(&mut *tx)
    .await
    .context("locking the accounts")?;
    let mut open: HashMap<AccountId, Vec<EscalationRow>> = HashMap::new();
    for row in store::fetch_unresolved_of(&mut tx, &ids).await? {
        open.entry(row.account_id).or_default().push(row);
    }
    let quiet_since = now - Duration::days(i64::from(config.quiet_after_resolve_days));
    let mut resolved = store::recently_resolved(&mut tx, &ids, quiet_since).await?;

    let mut report = RunReport::default();
    let mut steps = Vec::new();
    for (i, d) in due.iter().enumerate() {
        let rows = open.remove(&d.account.id).unwrap_or_default();
        let resolved = resolved.remove(&d.account.id).unwrap_or_default();
        let open_view: Vec<_> = rows.iter().map(EscalationRow::as_open).collect();
        // The newest open escalation per reason, as the dedup compares it.
        let by_reason: HashMap<Reason, &EscalationRow> =
            rows.iter().map(|e| (e.reason, e)).collect();
        for decision in reconcile(&d.triggers, &open_view, &resolved, config, now) {
            plan(i, d, decision, &by_reason, now, &mut steps, &mut report);
        }
    }
    store_steps(&mut tx, config, due, steps, now, &mut report).await?;
    tx.commit()
        .await
        .context("committing a group's escalations")?;
    Ok(report)
}

fn plan(
    i: usize,
    d: &Due<'_>,
    decision: Decision,
    by_reason: &HashMap<Reason, &EscalationRow>,
    now: DateTime<Utc>,
    steps: &mut Vec<Step>,
    report: &mut RunReport,
) {
    match decision {
        Decision::Open { trigger, delivery } => steps.push(Step::Open {
            due: i,
            trigger,
            delivery,
        }),
        Decision::Update { trigger } => {
            steps.extend(refresh(by_reason[&trigger.reason], trigger, d.state));
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
                steps.extend(refresh(row, trigger, d.state));
                report.updated += 1;
                return;
            }
            let was = format!(
                "{} → {}, {} → {}",
                was_severity, trigger.severity, was_magnitude.0, trigger.magnitude.0
            );
            steps.push(Step::Realert {
                due: i,
                row: row.clone(),
                trigger,
                delivery,
                was,
            });
        }
        Decision::Hold { .. } => report.held += 1,
        Decision::ConditionCleared {
            reason, delivery, ..
        } => {
            let row = by_reason[&reason];
            if !row.snoozed_at(now) {
                steps.push(Step::Cleared {
                    due: i,
                    row: row.clone(),
                    reason,
                    delivery,
                });
            }
        }
    }
}

/// A repeated trigger: the card's evidence follows the latest state without a new post;
/// nothing to write when neither the evidence nor the events it covers changed.
fn refresh(row: &EscalationRow, trigger: Trigger, state: &AccountState) -> Option<Step> {
    let covered = latest_event(state, trigger.reason);
    (row.evidence != trigger.evidence || covered.is_some()).then(|| Step::Refresh {
        row: row.clone(),
        trigger,
        covered,
    })
}

async fn store_steps(
    tx: &mut PgConnection,
    config: &EscalationConfig,
    due: &[Due<'_>],
    steps: Vec<Step>,
    now: DateTime<Utc>,
    report: &mut RunReport,
) -> anyhow::Result<()> {
    let sla_due = sla_deadline(now, config.sla.time_zone, &config.sla);
    let opened = insert_opened(tx, due, &steps, sla_due, now).await?;
    let refreshed = refresh_evidence(tx, &steps, now).await?;
    let realerts = realert(tx, due, &steps, now).await?;
    let owners = owner_names(tx, due).await?;

    let mut events = Vec::new();
    let mut posts = Vec::new();
    let mut cleared = Vec::new();
    for step in &steps {
        match step {
            Step::Open {
                due: i,
                trigger,
                delivery,
            } => {
                let d = &due[*i];
                let id = opened[&(d.account.id, trigger.reason)];
                events.push(event(id, "opened", trigger.severity.as_str()));
                let owner = d
                    .account
                    .csm_id
                    .and_then(|s| owners.get(&s.0))
                    .map(String::as_str);
                let f = card_facts(d, owner, config, id, trigger, Some(sla_due));
                posts.extend(store::announcement(
                    &f,
                    d.account.id,
                    d.account.csm_id,
                    *delivery,
                    "opened",
                    now,
                ));
                // One line per escalation only when asked for: the first night of a large
                // portfolio opens tens of thousands; `engine::run_accounts` sums them up.
                tracing::debug!(escalation = id.0, account = d.account.id.0, reason = %trigger.reason, "escalation opened");
                report.opened += 1;
            }
            Step::Refresh { row, trigger, .. } => {
                if refreshed.contains(&row.id) && row.evidence != trigger.evidence {
                    events.push(event(row.id, "updated", &trigger.evidence));
                }
            }
            Step::Realert {
                due: i,
                row,
                trigger,
                delivery,
                was,
            } => {
                let d = &due[*i];
                events.push(event(row.id, "realerted", was));
                let owner = d
                    .account
                    .csm_id
                    .and_then(|s| owners.get(&s.0))
                    .map(String::as_str);
                let f = card_facts(d, owner, config, row.id, trigger, None);
                let tag = format!(
                    "realert-{}",
                    realerts.get(&row.id).copied().unwrap_or(0) + 1
                );
                posts.extend(store::announcement(
                    &f,
                    d.account.id,
                    row.owner_id,
                    *delivery,
                    &tag,
                    now,
                ));
                report.realerted += 1;
            }
            Step::Cleared {
                due: i,
                row,
                reason,
                delivery,
            } => {
                let post = cleared_post(&due[*i], row, *reason, *delivery, now);
                cleared.push((row.id, post.idempotency_key.clone()));
                posts.push(post);
            }
        }
    }
    let new: HashSet<String> = staff_posts::enqueue_many(&mut *tx, &posts, now)
        .await
        .context("queueing the escalation posts")?
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    // A suggestion to resolve is made once per alert: only a new post is news.
    for (id, key) in cleared {
        if new.contains(&key) {
            events.push(event(id, "cleared", ""));
            report.cleared += 1;
        }
    }
    store::add_events(tx, now, &events)
        .await
        .context("writing the escalations' history")?;
    Ok(())
}

fn event(id: EscalationId, kind: &'static str, details: &str) -> NewEvent {
    NewEvent {
        escalation: id,
        kind,
        staff: None,
        details: details.to_string(),
    }
}

/// Once per alert: the key carries the time of the last post.
fn cleared_post(
    d: &Due<'_>,
    row: &EscalationRow,
    reason: Reason,
    delivery: Delivery,
    now: DateTime<Utc>,
) -> NewPost {
    let episode = row.last_alerted_at.unwrap_or(row.opened_at).timestamp();
    let (recipient, post_delivery) = match delivery {
        Delivery::Immediate => (Recipient::TeamChat, PostDelivery::Now),
        Delivery::Digest => (
            row.owner_id.map_or(Recipient::TeamChat, Recipient::Staff),
            PostDelivery::Digest,
        ),
    };
    NewPost {
        idempotency_key: format!("esc:{}:cleared-{episode}:{}", row.id, recipient.key()),
        kind: PostKind::Cleared,
        escalation_id: Some(row.id),
        account_id: Some(d.account.id),
        recipient,
        delivery: post_delivery,
        body: card::cleared(&d.account.name, reason, row.id),
        buttons: Vec::new(),
        due_at: now,
    }
}

fn card_facts<'a>(
    d: &'a Due<'a>,
    owner: Option<&'a str>,
    config: &EscalationConfig,
    id: EscalationId,
    trigger: &'a Trigger,
    sla_due: Option<DateTime<Utc>>,
) -> CardFacts<'a> {
    CardFacts {
        id,
        account: &d.account.name,
        reason: trigger.reason,
        severity: trigger.severity,
        evidence: &trigger.evidence,
        health: &d.state.health,
        renewal: d.account.renewal_date,
        owner,
        sla_due,
        tz: config.sla.time_zone,
    }
}

/// The names of the accounts' CSMs, for the cards.
async fn owner_names(
    tx: &mut PgConnection,
    due: &[Due<'_>],
) -> anyhow::Result<HashMap<i64, String>> {
    let ids: Vec<i64> = due
        .iter()
        .filter_map(|d| d.account.csm_id.map(|s| s.0))
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query!("select id, name from staff where id = any($1)", &ids)
        .fetch_all(&mut *tx)
        .await
        .context("reading the owners' names")?;
    Ok(rows.into_iter().map(|r| (r.id, r.name)).collect())
}
