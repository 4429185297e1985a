//! The set-wise writes behind a group's decisions: each kind of change to `escalations` in
//! one statement over arrays, whatever the number of accounts.

use std::collections::{HashMap, HashSet};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Due, Step};
use crate::domain::{AccountId, EscalationId};
use crate::escalation::Reason;
use crate::escalation::state::latest_event;

/// Inserts the escalations the group opens; returns each one's id by account and reason (at
/// most one open per pair, which the unique index guards).
pub(super) async fn insert_opened(
    tx: &mut PgConnection,
    due: &[Due<'_>],
    steps: &[Step],
    sla_due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<HashMap<(AccountId, Reason), EscalationId>> {
    let (mut accounts, mut reasons, mut severities, mut magnitudes) =
        (vec![], vec![], vec![], vec![]);
    let (mut evidence, mut owners, mut until, mut nps) = (vec![], vec![], vec![], vec![]);
    for step in steps {
        let Step::Open {
            due: i, trigger, ..
        } = step
        else {
            continue;
        };
        let d = &due[*i];
        accounts.push(d.account.id.0);
        reasons.push(trigger.reason.as_str());
        severities.push(trigger.severity.as_str());
        magnitudes.push(trigger.magnitude.0);
        evidence.push(trigger.evidence.as_str());
        owners.push(d.account.csm_id.map(|s| s.0));
        until.push(latest_event(d.state, trigger.reason));
        nps.push(match trigger.reason {
            Reason::Detractor => d.state.last_nps.as_ref().map(|n| i16::from(n.score)),
            _ => None,
        });
    }
    if accounts.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query!(
        r#"insert into escalations (account_id, reason, severity, magnitude, evidence, owner_id,
                                    notified_level, opened_at, last_alerted_at, updated_at,
                                    events_until, sla_due_at, nps_score)
           select u.account_id, u.reason, u.severity, u.magnitude, u.evidence, u.owner_id,
                  'csm', $1, $1, $1, u.events_until, $2, u.nps_score
             from unnest($3::int8[], $4::text[], $5::text[], $6::float8[], $7::text[],
                         $8::int8[], $9::timestamptz[], $10::int2[]) with ordinality
                  as u(account_id, reason, severity, magnitude, evidence, owner_id,
                       events_until, nps_score, n)
            order by u.n
           returning id, account_id, reason"#,
        now,
        sla_due,
        &accounts,
        &reasons as &[&str],
        &severities as &[&str],
        &magnitudes,
        &evidence as &[&str],
        &owners as &[Option<i64>],
        &until as &[Option<DateTime<Utc>>],
        &nps as &[Option<i16>],
    )
    .fetch_all(&mut *tx)
    .await
    .context("opening the escalations")?;
    rows.into_iter()
        .map(|r| {
            let reason = r.reason.parse().context("a reason just written")?;
            Ok(((AccountId(r.account_id), reason), EscalationId(r.id)))
        })
        .collect()
}

/// Writes the refreshed evidence; returns the escalations that actually changed.
pub(super) async fn refresh_evidence(
    tx: &mut PgConnection,
    steps: &[Step],
    now: DateTime<Utc>,
) -> anyhow::Result<HashSet<EscalationId>> {
    let (mut ids, mut evidence, mut covered) = (vec![], vec![], vec![]);
    for step in steps {
        if let Step::Refresh {
            row,
            trigger,
            covered: c,
        } = step
        {
            ids.push(row.id.0);
            evidence.push(trigger.evidence.as_str());
            covered.push(*c);
        }
    }
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let changed = sqlx::query_scalar!(
        "update escalations e
            set evidence = u.evidence, updated_at = $1,
                events_until = greatest(e.events_until, u.covered)
           from unnest($2::int8[], $3::text[], $4::timestamptz[]) as u(id, evidence, covered)
          where e.id = u.id
            and (e.evidence <> u.evidence
                 or e.events_until is distinct from greatest(e.events_until, u.covered))
          returning e.id",
        now,
        &ids,
        &evidence as &[&str],
        &covered as &[Option<DateTime<Utc>>],
    )
    .fetch_all(&mut *tx)
    .await
    .context("refreshing the escalations' evidence")?;
    Ok(changed.into_iter().map(EscalationId).collect())
}

/// Records the worse state of the re-alerted escalations; returns how many re-alerts each
/// had before, which names the new posts.
pub(super) async fn realert(
    tx: &mut PgConnection,
    due: &[Due<'_>],
    steps: &[Step],
    now: DateTime<Utc>,
) -> anyhow::Result<HashMap<EscalationId, i64>> {
    let (mut ids, mut severities, mut magnitudes) = (vec![], vec![], vec![]);
    let (mut evidence, mut covered) = (vec![], vec![]);
    for step in steps {
        let Step::Realert {
            due: i,
            row,
            trigger,
            ..
        } = step
        else {
            continue;
        };
        ids.push(row.id.0);
        severities.push(trigger.severity.as_str());
        magnitudes.push(trigger.magnitude.0);
        evidence.push(trigger.evidence.as_str());
        covered.push(latest_event(due[*i].state, trigger.reason));
    }
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    sqlx::query!(
        "update escalations e
            set severity = u.severity, magnitude = u.magnitude, evidence = u.evidence,
                last_alerted_at = $1, updated_at = $1,
                events_until = greatest(e.events_until, u.covered)
           from unnest($2::int8[], $3::text[], $4::float8[], $5::text[], $6::timestamptz[])
                as u(id, severity, magnitude, evidence, covered)
          where e.id = u.id",
        now,
        &ids,
        &severities as &[&str],
        &magnitudes,
        &evidence as &[&str],
        &covered as &[Option<DateTime<Utc>>],
    )
    .execute(&mut *tx)
    .await
    .context("re-alerting the escalations")?;
    let counts = sqlx::query!(
        r#"select escalation_id, count(*) as "n!" from escalation_events
            where escalation_id = any($1) and kind = 'realerted'
            group by escalation_id"#,
        &ids
    )
    .fetch_all(&mut *tx)
    .await
    .context("counting earlier re-alerts")?;
    Ok(counts
        .into_iter()
        .map(|c| (EscalationId(c.escalation_id), c.n))
        .collect())
}
