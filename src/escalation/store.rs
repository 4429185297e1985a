//! Rows of `escalations` and `escalation_events`, and the posts that announce them. Small
//! functions over a transaction the caller owns, so one decision is stored whole or not at all.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::card::{self, CardFacts};
use super::dedup::{Delivery, OpenEscalation, ResolvedEscalation};
use super::ladder::Level;
use super::lifecycle::Status;
use super::{Magnitude, Reason, Severity};
use crate::domain::{AccountId, EscalationId, StaffId};
use crate::staff_posts::{self, NewPost, PostDelivery, PostKind, Recipient};
use crate::storage::staff::Staff;

/// One escalation as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EscalationRow {
    pub id: EscalationId,
    pub account_id: AccountId,
    pub account_name: String,
    pub reason: Reason,
    pub severity: Severity,
    pub magnitude: f64,
    pub status: String,
    pub evidence: String,
    pub owner_id: Option<StaffId>,
    pub owner_name: Option<String>,
    pub notified_level: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub last_alerted_at: Option<DateTime<Utc>>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub sla_due_at: Option<DateTime<Utc>>,
    pub snoozed_until: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub nps_score: Option<i16>,
    pub recovered_at: Option<DateTime<Utc>>,
}

impl EscalationRow {
    pub fn status(&self) -> Status {
        self.status.parse().unwrap_or(Status::Open)
    }

    pub fn level(&self) -> Option<Level> {
        self.notified_level.as_deref().and_then(|l| l.parse().ok())
    }

    pub fn snoozed_at(&self, now: DateTime<Utc>) -> bool {
        self.snoozed_until.is_some_and(|until| until > now)
    }

    pub fn as_open(&self) -> OpenEscalation {
        OpenEscalation {
            reason: self.reason,
            severity: self.severity,
            magnitude: Magnitude(self.magnitude),
            opened_at: self.opened_at,
        }
    }
}

/// Which escalations to read.
#[derive(Debug, Clone, Copy)]
pub enum Filter {
    /// Open and acknowledged ones, optionally of one account.
    Unresolved(Option<AccountId>),
    /// Every one, optionally of one account.
    All(Option<AccountId>),
    One(EscalationId),
}

/// Escalations with their account and owner names, oldest first. `lock` takes row locks for a
/// decision about to be written.
pub async fn fetch(
    conn: &mut PgConnection,
    filter: Filter,
    lock: bool,
) -> Result<Vec<EscalationRow>, sqlx::Error> {
    let (account, one, unresolved_only) = match filter {
        Filter::Unresolved(account) => (account.map(|a| a.0), None, true),
        Filter::All(account) => (account.map(|a| a.0), None, false),
        Filter::One(id) => (None, Some(id.0), false),
    };
    // The lock lives in a separate statement text so both stay compile-checked.
    let rows = if lock {
        sqlx::query_as!(
            Raw,
            r#"select e.id, e.account_id, a.name as account_name, e.reason, e.severity,
                      e.magnitude, e.status, e.evidence, e.owner_id, s.name as "owner_name?",
                      e.notified_level, e.opened_at, e.last_alerted_at, e.first_response_at,
                      e.sla_due_at, e.snoozed_until, e.resolved_at, e.outcome, e.nps_score,
                      e.recovered_at
                 from escalations e
                 join accounts a on a.id = e.account_id
                 left join staff s on s.id = e.owner_id
                where ($1::bigint is null or e.account_id = $1)
                  and ($2::bigint is null or e.id = $2)
                  and (not $3 or e.status <> 'resolved')
                order by e.opened_at, e.id
                for update of e"#,
            account,
            one,
            unresolved_only
        )
        .fetch_all(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            Raw,
            r#"select e.id, e.account_id, a.name as account_name, e.reason, e.severity,
                      e.magnitude, e.status, e.evidence, e.owner_id, s.name as "owner_name?",
                      e.notified_level, e.opened_at, e.last_alerted_at, e.first_response_at,
                      e.sla_due_at, e.snoozed_until, e.resolved_at, e.outcome, e.nps_score,
                      e.recovered_at
                 from escalations e
                 join accounts a on a.id = e.account_id
                 left join staff s on s.id = e.owner_id
                where ($1::bigint is null or e.account_id = $1)
                  and ($2::bigint is null or e.id = $2)
                  and (not $3 or e.status <> 'resolved')
                order by e.opened_at, e.id"#,
            account,
            one,
            unresolved_only
        )
        .fetch_all(&mut *conn)
        .await?
    };
    Ok(rows.into_iter().filter_map(Raw::into_row).collect())
}

struct Raw {
    id: i64,
    account_id: i64,
    account_name: String,
    reason: String,
    severity: String,
    magnitude: f64,
    status: String,
    evidence: String,
    owner_id: Option<i64>,
    owner_name: Option<String>,
    notified_level: Option<String>,
    opened_at: DateTime<Utc>,
    last_alerted_at: Option<DateTime<Utc>>,
    first_response_at: Option<DateTime<Utc>>,
    sla_due_at: Option<DateTime<Utc>>,
    snoozed_until: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
    nps_score: Option<i16>,
    recovered_at: Option<DateTime<Utc>>,
}

impl Raw {
    /// A row whose reason this version does not know is left out rather than misread.
    fn into_row(self) -> Option<EscalationRow> {
        Some(EscalationRow {
            id: EscalationId(self.id),
            account_id: AccountId(self.account_id),
            account_name: self.account_name,
            reason: self.reason.parse().ok()?,
            severity: self.severity.parse().unwrap_or_default(),
            magnitude: self.magnitude,
            status: self.status,
            evidence: self.evidence,
            owner_id: self.owner_id.map(StaffId),
            owner_name: self.owner_name,
            notified_level: self.notified_level,
            opened_at: self.opened_at,
            last_alerted_at: self.last_alerted_at,
            first_response_at: self.first_response_at,
            sla_due_at: self.sla_due_at,
            snoozed_until: self.snoozed_until,
            resolved_at: self.resolved_at,
            outcome: self.outcome,
            nps_score: self.nps_score,
            recovered_at: self.recovered_at,
        })
    }
}

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
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub kind: String,
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
