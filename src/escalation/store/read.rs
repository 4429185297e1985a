//! Reading escalations: one row per escalation with its account and owner names, for the
//! engine, the ladder, the chat, the command line and the API alike.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::{AccountId, EscalationId, StaffId};
use crate::escalation::dedup::OpenEscalation;
use crate::escalation::ladder::Level;
use crate::escalation::lifecycle::Status;
use crate::escalation::{Magnitude, Reason, Severity};

/// One escalation as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct EscalationRow {
    pub id: EscalationId,
    pub account_id: AccountId,
    pub account_name: String,
    pub reason: Reason,
    pub severity: Severity,
    /// How bad, in the reason's own unit (points of health lost, percent of usage lost, …).
    pub magnitude: f64,
    #[schema(value_type = Status)]
    pub status: String,
    /// What the CSM reads on the card, in plain words.
    pub evidence: String,
    pub owner_id: Option<StaffId>,
    pub owner_name: Option<String>,
    /// The highest rung of the ladder told so far.
    #[schema(value_type = Option<Level>)]
    pub notified_level: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub last_alerted_at: Option<DateTime<Utc>>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub sla_due_at: Option<DateTime<Utc>>,
    pub snoozed_until: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Recorded on resolve: saved, recovered, no_action, other:TEXT or churned:REASON.
    pub outcome: Option<String>,
    /// The detractor's NPS score, for a detractor escalation.
    pub nps_score: Option<i16>,
    /// When a later, better NPS answer marked the detractor recovered.
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
    /// A page of those matching, in id order (see [`Search`]).
    Search(Search),
}

/// What the API filters escalations by; every part is optional. Pages follow the id, so a
/// page boundary never moves when escalations open or change meanwhile.
#[derive(Debug, Clone, Copy, Default)]
pub struct Search {
    pub status: Option<Status>,
    /// The highest rung of the ladder told so far.
    pub level: Option<Level>,
    pub account: Option<AccountId>,
    /// The escalation's owner (the account's CSM when it opened, or who took it).
    pub owner: Option<StaffId>,
    /// Opened at or after this instant.
    pub opened_after: Option<DateTime<Utc>>,
    /// Opened before this instant.
    pub opened_before: Option<DateTime<Utc>>,
    /// Only ids above this one: where the previous page ended.
    pub after: Option<EscalationId>,
    /// At most this many.
    pub limit: Option<i64>,
}

/// Escalations with their account and owner names, oldest first (a search: in id order).
/// `lock` takes row locks for a decision about to be written.
pub async fn fetch(
    conn: &mut PgConnection,
    filter: Filter,
    lock: bool,
) -> Result<Vec<EscalationRow>, sqlx::Error> {
    let (account, one, unresolved_only) = match filter {
        Filter::Unresolved(account) => (account.map(|a| a.0), None, true),
        Filter::All(account) => (account.map(|a| a.0), None, false),
        Filter::One(id) => (None, Some(id.0), false),
        Filter::Search(s) => (s.account.map(|a| a.0), None, false),
    };
    let accounts = account.map(|a| vec![a]);
    read(
        conn,
        filter,
        accounts.as_deref(),
        one,
        unresolved_only,
        lock,
    )
    .await
}

/// The open and acknowledged escalations of `accounts`, oldest first, locked for a decision.
pub async fn fetch_unresolved_of(
    conn: &mut PgConnection,
    accounts: &[i64],
) -> Result<Vec<EscalationRow>, sqlx::Error> {
    read(
        conn,
        Filter::Unresolved(None),
        Some(accounts),
        None,
        true,
        true,
    )
    .await
}

async fn read(
    conn: &mut PgConnection,
    filter: Filter,
    account: Option<&[i64]>,
    one: Option<i64>,
    unresolved_only: bool,
    lock: bool,
) -> Result<Vec<EscalationRow>, sqlx::Error> {
    let (search, by_id) = match filter {
        Filter::Search(s) => (s, true),
        _ => (Search::default(), false),
    };
    let status = search.status.map(Status::as_str);
    let level = search.level.map(Level::as_str);
    let (owner, after) = (search.owner.map(|s| s.0), search.after.map(|e| e.0));
    // The lock lives in a separate statement text so both stay compile-checked. A search
    // orders by id alone (the first key), so that its pages can follow the id.
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
                where ($1::int8[] is null or e.account_id = any($1))
                  and ($2::bigint is null or e.id = $2)
                  and (not $3 or e.status <> 'resolved')
                  and ($4::text is null or e.status = $4)
                  and ($5::text is null or e.notified_level = $5)
                  and ($6::bigint is null or e.owner_id = $6)
                  and ($7::timestamptz is null or e.opened_at >= $7)
                  and ($8::timestamptz is null or e.opened_at < $8)
                  and ($9::bigint is null or e.id > $9)
                order by case when $10 then e.id end, e.opened_at, e.id
                limit $11
                for update of e"#,
            account,
            one,
            unresolved_only,
            status,
            level,
            owner,
            search.opened_after,
            search.opened_before,
            after,
            by_id,
            search.limit
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
                where ($1::int8[] is null or e.account_id = any($1))
                  and ($2::bigint is null or e.id = $2)
                  and (not $3 or e.status <> 'resolved')
                  and ($4::text is null or e.status = $4)
                  and ($5::text is null or e.notified_level = $5)
                  and ($6::bigint is null or e.owner_id = $6)
                  and ($7::timestamptz is null or e.opened_at >= $7)
                  and ($8::timestamptz is null or e.opened_at < $8)
                  and ($9::bigint is null or e.id > $9)
                order by case when $10 then e.id end, e.opened_at, e.id
                limit $11"#,
            account,
            one,
            unresolved_only,
            status,
            level,
            owner,
            search.opened_after,
            search.opened_before,
            after,
            by_id,
            search.limit
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
