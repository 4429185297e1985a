//! Rows of `escalations` and `escalation_events`, and the posts that announce them. Small
//! functions over a transaction the caller owns, so one decision is stored whole or not at all.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::Magnitude;
use super::card::{self, CardFacts};
use super::dedup::{Delivery, ResolvedEscalation};
use crate::domain::{AccountId, EscalationId, StaffId};
use crate::staff_posts::{self, NewPost, PostDelivery, PostKind, Recipient};
use crate::storage::staff::Staff;

mod read;

pub use read::{EscalationRow, Filter, Search, fetch};

/// The latest resolved escalation per reason within the quiet time, for [`super::reconcile`].
pub async fn recently_resolved(
    conn: &mut PgConnection,
    account: AccountId,
    since: DateTime<Utc>,
) -> Result<Vec<ResolvedEscalation>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select distinct on (reason) reason, severity, magnitude, resolved_at as "resolved_at!"
             from escalations
            where account_id = $1 and status = 'resolved' and resolved_at > $2
            order by reason, resolved_at desc"#,
        account.0,
        since
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(ResolvedEscalation {
                reason: r.reason.parse().ok()?,
                severity: r.severity.parse().unwrap_or_default(),
                magnitude: Magnitude(r.magnitude),
                resolved_at: r.resolved_at,
            })
        })
        .collect())
}

pub async fn add_event(
    conn: &mut PgConnection,
    id: EscalationId,
    at: DateTime<Utc>,
    kind: &str,
    staff: Option<StaffId>,
    details: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into escalation_events (escalation_id, at, kind, staff_id, details)
         values ($1, $2, $3, $4, $5)",
        id.0,
        at,
        kind,
        staff.map(|s| s.0),
        details
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One entry of an escalation's history.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Event {
    pub at: DateTime<Utc>,
    /// What happened: opened, updated, realerted, cleared, recovered, climbed (details: the
    /// level), sla_breached, acknowledged, contacted, snoozed or resolved.
    pub kind: String,
    /// The staff member's name, when a person did it.
    pub staff: Option<String>,
    pub details: String,
}

pub async fn events(conn: &mut PgConnection, id: EscalationId) -> Result<Vec<Event>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select ev.at, ev.kind, s.name as "staff?", ev.details
             from escalation_events ev left join staff s on s.id = ev.staff_id
            where ev.escalation_id = $1 order by ev.at, ev.id"#,
        id.0
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Event {
            at: r.at,
            kind: r.kind,
            staff: r.staff,
            details: r.details,
        })
        .collect())
}

/// The current staff, for the ladder: someone removed is never brought in.
pub async fn staff_directory(conn: &mut PgConnection) -> Result<Vec<Staff>, sqlx::Error> {
    let rows = sqlx::query!(
        "select id, name, role, telegram_user_id, locale, manager_id from staff
          where removed_at is null order by id"
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(Staff {
                id: StaffId(r.id),
                name: r.name,
                role: r.role.parse().ok()?,
                telegram_user_id: r.telegram_user_id,
                locale: r.locale,
                manager_id: r.manager_id.map(StaffId),
            })
        })
        .collect())
}

/// Queues the posts that announce an opening or a worse state: the card in the team chat and
/// a note to the owner, or one digest entry for the owner (the team, without one).
pub async fn announce(
    conn: &mut PgConnection,
    facts: &CardFacts<'_>,
    account: AccountId,
    owner: Option<StaffId>,
    delivery: Delivery,
    tag: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let worse = tag != "opened";
    let kind = if worse {
        PostKind::Realert
    } else {
        PostKind::Escalation
    };
    let post = |recipient: Recipient, delivery: PostDelivery, body: String, buttons| NewPost {
        idempotency_key: format!("esc:{}:{tag}:{}", facts.id, recipient.key()),
        kind,
        escalation_id: Some(facts.id),
        account_id: Some(account),
        recipient,
        delivery,
        body,
        buttons,
        due_at: now,
    };
    match delivery {
        Delivery::Immediate => {
            let card = post(
                Recipient::TeamChat,
                PostDelivery::Now,
                card::card(facts, worse),
                card::card_buttons(facts.id),
            );
            staff_posts::enqueue(&mut *conn, &card, now).await?;
            if let Some(owner) = owner {
                let note = post(
                    Recipient::Staff(owner),
                    PostDelivery::Now,
                    card::owner_note(facts),
                    Vec::new(),
                );
                staff_posts::enqueue(&mut *conn, &note, now).await?;
            }
        }
        Delivery::Digest => {
            let recipient = owner.map_or(Recipient::TeamChat, Recipient::Staff);
            let entry = post(
                recipient,
                PostDelivery::Digest,
                card::digest_entry(facts, worse),
                Vec::new(),
            );
            staff_posts::enqueue(&mut *conn, &entry, now).await?;
        }
    }
    Ok(())
}

/// Queues one plain post; returns whether it was new.
#[allow(clippy::too_many_arguments)]
pub async fn post(
    conn: &mut PgConnection,
    key: String,
    kind: PostKind,
    escalation: EscalationId,
    account: AccountId,
    recipient: Recipient,
    delivery: PostDelivery,
    body: String,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let new = NewPost {
        idempotency_key: key,
        kind,
        escalation_id: Some(escalation),
        account_id: Some(account),
        recipient,
        delivery,
        body,
        buttons: Vec::new(),
        due_at: now,
    };
    Ok(staff_posts::enqueue(conn, &new, now).await?.is_some())
}
