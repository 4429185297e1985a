//! Rows of `escalations` and `escalation_events`, and the posts that announce them. Small
//! functions over a transaction the caller owns, so one decision is stored whole or not at all.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::Magnitude;
use super::card::{self, CardFacts};
use super::dedup::{Delivery, ResolvedEscalation};
use crate::domain::{AccountId, EscalationId, StaffId};
use crate::staff_posts::{self, NewPost, PostDelivery, PostKind, Recipient};
use crate::storage::staff::Staff;

mod read;

pub use read::{EscalationRow, Filter, Search, fetch, fetch_unresolved_of};

/// Per account of `accounts`, the latest resolved escalation per reason within the quiet time,
/// for [`super::reconcile`].
pub async fn recently_resolved(
    conn: &mut PgConnection,
    accounts: &[i64],
    since: DateTime<Utc>,
) -> Result<HashMap<AccountId, Vec<ResolvedEscalation>>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select distinct on (account_id, reason) account_id, reason, severity, magnitude,
                  resolved_at as "resolved_at!"
             from escalations
            where account_id = any($1) and status = 'resolved' and resolved_at > $2
            order by account_id, reason, resolved_at desc"#,
        accounts,
        since
    )
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<AccountId, Vec<ResolvedEscalation>> = HashMap::new();
    for r in rows {
        let Ok(reason) = r.reason.parse() else {
            continue;
        };
        out.entry(AccountId(r.account_id))
            .or_default()
            .push(ResolvedEscalation {
                reason,
                severity: r.severity.parse().unwrap_or_default(),
                magnitude: Magnitude(r.magnitude),
                resolved_at: r.resolved_at,
            });
    }
    Ok(out)
}

/// One row of an escalation's history, about to be written.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub escalation: EscalationId,
    pub kind: &'static str,
    pub staff: Option<StaffId>,
    pub details: String,
}

/// Writes `events`, all at `at`, in one statement.
pub async fn add_events(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    events: &[NewEvent],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = events.iter().map(|e| e.escalation.0).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind).collect();
    let staff: Vec<Option<i64>> = events.iter().map(|e| e.staff.map(|s| s.0)).collect();
    let details: Vec<&str> = events.iter().map(|e| e.details.as_str()).collect();
    sqlx::query!(
        "insert into escalation_events (escalation_id, at, kind, staff_id, details)
         select u.id, $1, u.kind, u.staff, u.details
           from unnest($2::int8[], $3::text[], $4::int8[], $5::text[]) with ordinality
                as u(id, kind, staff, details, n)
          order by u.n",
        at,
        &ids,
        &kinds as &[&str],
        &staff as &[Option<i64>],
        &details as &[&str],
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn add_event(
    conn: &mut PgConnection,
    id: EscalationId,
    at: DateTime<Utc>,
    kind: &'static str,
    staff: Option<StaffId>,
    details: &str,
) -> Result<(), sqlx::Error> {
    let event = NewEvent {
        escalation: id,
        kind,
        staff,
        details: details.to_string(),
    };
    add_events(conn, at, std::slice::from_ref(&event)).await
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

/// The posts that announce an opening or a worse state: the card in the team chat and a note
/// to the owner, or one digest entry for the owner (the team, without one).
pub fn announcement(
    facts: &CardFacts<'_>,
    account: AccountId,
    owner: Option<StaffId>,
    delivery: Delivery,
    tag: &str,
    now: DateTime<Utc>,
) -> Vec<NewPost> {
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
            let note = owner.map(|owner| {
                post(
                    Recipient::Staff(owner),
                    PostDelivery::Now,
                    card::owner_note(facts),
                    Vec::new(),
                )
            });
            std::iter::once(card).chain(note).collect()
        }
        Delivery::Digest => {
            let recipient = owner.map_or(Recipient::TeamChat, Recipient::Staff);
            vec![post(
                recipient,
                PostDelivery::Digest,
                card::digest_entry(facts, worse),
                Vec::new(),
            )]
        }
    }
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
