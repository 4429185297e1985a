//! What time alone changes about open escalations: the ladder climbs (CS manager from day 8,
//! VP from day 15) and the first-response SLA runs out. Cheap enough to run every few minutes:
//! it reads only unresolved escalations.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::card;
use super::config::EscalationConfig;
use super::ladder::{Level, escalation_day, steps_due};
use super::lifecycle::Status;
use super::store::{self, EscalationRow, Filter};
use crate::domain::StaffRole;
use crate::domain::{EscalationId, StaffId};
use crate::staff_posts::{PostDelivery, PostKind, Recipient};
use crate::storage::staff::Staff;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Ladder steps posted.
    pub climbed: usize,
    pub sla_breaches: usize,
}

/// Who is brought in at `level` for an escalation owned by `owner`: the owner's own manager
/// (and that manager's manager for the VP step) when the reporting line is on record, else
/// everyone with the role.
pub fn people_for(level: Level, owner: Option<StaffId>, staff: &[Staff]) -> Vec<&Staff> {
    let by_id = |id: StaffId| staff.iter().find(|s| s.id == id);
    let with_role = |role: StaffRole| staff.iter().filter(|s| s.role == role).collect::<Vec<_>>();
    let manager = owner
        .and_then(by_id)
        .and_then(|o| o.manager_id)
        .and_then(by_id);
    match level {
        Level::Csm => owner.and_then(by_id).into_iter().collect(),
        Level::Manager => match manager {
            Some(m) => vec![m],
            None => with_role(StaffRole::CsManager),
        },
        Level::Vp => match manager.and_then(|m| m.manager_id).and_then(by_id) {
            Some(vp) => vec![vp],
            None => with_role(StaffRole::Vp),
        },
    }
}

pub async fn tick(
    pool: &PgPool,
    config: &EscalationConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<TickReport> {
    let mut report = TickReport::default();
    let mut conn = pool.acquire().await?;
    let staff = store::staff_directory(&mut conn).await?;
    let open = store::fetch(&mut conn, Filter::Unresolved(None), false).await?;
    drop(conn);
    for e in open {
        let due = steps_due(e.opened_at, now, e.level(), e.status(), &config.ladder);
        let breach = e.status() == Status::Open
            && e.first_response_at.is_none()
            && e.sla_due_at.is_some_and(|due| due <= now);
        if due.is_empty() && !breach {
            continue;
        }
        let mut tx = pool.begin().await?;
        // Re-read under a lock: another instance may have done this step already.
        let Some(e) = store::fetch(&mut tx, Filter::One(e.id), true).await?.pop() else {
            continue;
        };
        let steps = steps_due(e.opened_at, now, e.level(), e.status(), &config.ladder);
        for level in &steps {
            climb(&mut tx, &e, *level, &staff, now).await?;
            report.climbed += 1;
        }
        if let Some(last) = steps.last() {
            sqlx::query!(
                "update escalations set notified_level = $2, updated_at = $3 where id = $1",
                e.id.0,
                last.as_str(),
                now
            )
            .execute(&mut *tx)
            .await?;
        }
        if e.status() == Status::Open
            && e.first_response_at.is_none()
            && e.sla_due_at.is_some_and(|due| due <= now)
            && breached_first_time(&mut tx, e.id, now).await?
        {
            sla_posts(&mut tx, &e, &staff, now).await?;
            report.sla_breaches += 1;
        }
        tx.commit().await?;
    }
    Ok(report)
}

async fn climb(
    tx: &mut sqlx::PgConnection,
    e: &EscalationRow,
    level: Level,
    staff: &[Staff],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let people = people_for(level, e.owner_id, staff);
    let names: Vec<String> = people.iter().map(|p| p.name.clone()).collect();
    let day = escalation_day(e.opened_at, now);
    let text = card::ladder_step(&e.account_name, e.reason, e.id, level, day, &names);
    let key =
        |recipient: Recipient| format!("esc:{}:climb-{}:{}", e.id, level.as_str(), recipient.key());
    // The CSM step is the opening itself: its card and note already went out.
    if level != Level::Csm {
        let mut recipients = vec![Recipient::TeamChat];
        recipients.extend(people.iter().map(|p| Recipient::Staff(p.id)));
        for recipient in recipients {
            store::post(
                tx,
                key(recipient),
                PostKind::Ladder,
                e.id,
                e.account_id,
                recipient,
                PostDelivery::Now,
                text.clone(),
                now,
            )
            .await?;
        }
    }
    store::add_event(tx, e.id, now, "climbed", None, level.as_str()).await?;
    Ok(())
}

async fn breached_first_time(
    tx: &mut sqlx::PgConnection,
    id: EscalationId,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let marked = sqlx::query!(
        "update escalations set sla_breach_posted_at = $2
          where id = $1 and sla_breach_posted_at is null",
        id.0,
        now
    )
    .execute(tx)
    .await?
    .rows_affected();
    Ok(marked == 1)
}

async fn sla_posts(
    tx: &mut sqlx::PgConnection,
    e: &EscalationRow,
    staff: &[Staff],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let text = card::sla_breach(&e.account_name, e.reason, e.id, e.owner_name.as_deref());
    let mut recipients = vec![Recipient::TeamChat];
    recipients.extend(
        people_for(Level::Manager, e.owner_id, staff)
            .iter()
            .map(|p| Recipient::Staff(p.id)),
    );
    for recipient in recipients {
        store::post(
            tx,
            format!("esc:{}:sla:{}", e.id, recipient.key()),
            PostKind::SlaBreach,
            e.id,
            e.account_id,
            recipient,
            PostDelivery::Now,
            text.clone(),
            now,
        )
        .await?;
    }
    store::add_event(tx, e.id, now, "sla_breached", None, "").await?;
    Ok(())
}
