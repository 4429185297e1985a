//! The portfolio answers: `/status`, `/mine`, `/atrisk`, `/renewals`, `/nps`. The figures are
//! `metrics`' (the same as `touchbot status` and the weekly digest); this file only reads them
//! and lays them out as short chat lines.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

use crate::config::Settings;
use crate::domain::{AccountId, StaffId};
use crate::escalation::card::reason_title;
use crate::escalation::store::{self, EscalationRow, Filter};
use crate::escalation::{Severity, escalation_day};
use crate::health::Category;
use crate::metrics::{self, AccountFacts, Facts, Params, Scope, TeamMetrics, text};
use crate::storage::staff::Staff;

/// Renewals listed by name under `/status`; `/renewals` lists them all.
const LISTED_RENEWALS: usize = 10;
/// Detractors listed under `/nps`, newest first.
const LISTED_DETRACTORS: i64 = 15;

pub(super) async fn status(
    pool: &PgPool,
    settings: &Settings,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let params = Params::from_settings(settings);
    let facts = metrics::load(pool, now, None, &params).await?;
    let m = metrics::compute(&facts, Scope::Portfolio, &params);
    let mut out = headline("Portfolio", &m);
    out.push_str(&figures(&m));
    let by_csm = metrics::by_csm(&facts, &params);
    if !by_csm.is_empty() {
        out.push_str("\nBy CSM:\n");
        for c in &by_csm {
            out.push_str(&csm_line(&c.name, &c.metrics));
            out.push('\n');
        }
    }
    out.push_str("\n/atrisk lists the accounts to look at first; /status ACCOUNT shows one.");
    Ok(out)
}

pub(super) async fn mine(
    pool: &PgPool,
    settings: &Settings,
    staff: &Staff,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let params = Params::from_settings(settings);
    let facts = metrics::load(pool, now, Some(staff.id), &params).await?;
    if facts.accounts.is_empty() {
        return Ok(format!(
            "{}, no accounts are assigned to you. /status shows the whole portfolio.",
            staff.name
        ));
    }
    let m = metrics::compute(&facts, Scope::Csm(staff.id), &params);
    let mut out = headline(&format!("{}'s portfolio", staff.name), &m);
    out.push_str(&figures(&m));
    out.push_str("\nYour accounts, weakest first:\n");
    let open = open_per_account(&facts);
    let mut accounts: Vec<&AccountFacts> = facts.accounts.iter().collect();
    accounts.sort_by_cached_key(|a| (health_rank(a), a.name.to_lowercase(), a.id.0));
    for a in accounts {
        out.push_str(&format!(
            "• {}\n",
            account_line(a, open.get(&a.id).copied())
        ));
    }
    Ok(out)
}

pub(super) async fn at_risk(
    pool: &PgPool,
    settings: &Settings,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let params = Params::from_settings(settings);
    let facts = metrics::load(pool, now, None, &params).await?;
    let mut conn = pool.acquire().await?;
    let open = store::fetch(&mut conn, Filter::Unresolved(None), false).await?;
    drop(conn);
    let mut by_account: HashMap<AccountId, Vec<&EscalationRow>> = HashMap::new();
    for e in &open {
        by_account.entry(e.account_id).or_default().push(e);
    }
    let names = staff_names(&facts);
    let mut risky: Vec<&AccountFacts> = facts
        .accounts
        .iter()
        .filter(|a| a.is_served())
        .filter(|a| {
            let red = a.health.and_then(|h| h.category) == Some(Category::Red);
            let critical = by_account
                .get(&a.id)
                .is_some_and(|es| es.iter().any(|e| e.severity == Severity::Critical));
            red || critical
        })
        .collect();
    if risky.is_empty() {
        return Ok("No account is at risk: none is red and no critical escalation is open.".into());
    }
    risky.sort_by_cached_key(|a| (health_rank(a), a.name.to_lowercase(), a.id.0));
    let mut out = format!(
        "At risk: {} (red, or with a critical escalation open), weakest first\n",
        text::count(risky.len(), "accounts")
    );
    for a in risky {
        let csm = a
            .csm
            .and_then(|id| names.get(&id).cloned())
            .unwrap_or_else(|| "no CSM".into());
        out.push_str(&format!(
            "\n🔴 {} — {}; CSM {csm}; {}\n",
            a.name,
            health_words(a),
            renewal_words(a)
        ));
        for e in by_account.get(&a.id).into_iter().flatten() {
            out.push_str(&format!("   {}\n", escalation_words(e, now)));
        }
    }
    Ok(out)
}

pub(super) async fn renewals(
    pool: &PgPool,
    settings: &Settings,
    days: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let params = Params {
        renewal_days: days,
        ..Params::from_settings(settings)
    };
    let facts = metrics::load(pool, now, None, &params).await?;
    let m = metrics::compute(&facts, Scope::Portfolio, &params);
    if m.renewals.is_empty() {
        return Ok(format!(
            "No active account renews in the next {}.",
            text::count(days as usize, "days")
        ));
    }
    let names = staff_names(&facts);
    let csm_of: HashMap<AccountId, Option<StaffId>> =
        facts.accounts.iter().map(|a| (a.id, a.csm)).collect();
    let mut out = format!(
        "Renewals in the next {}: {}\n",
        text::count(days as usize, "days"),
        text::renewals_cell(&m.renewals)
    );
    for r in &m.renewals {
        let csm = csm_of
            .get(&r.account)
            .copied()
            .flatten()
            .and_then(|id| names.get(&id).cloned())
            .unwrap_or_else(|| "no CSM".into());
        out.push_str(&format!("• {} — CSM {csm}\n", text::renewal_words(r)));
    }
    Ok(out)
}

pub(super) async fn nps(
    pool: &PgPool,
    settings: &Settings,
    days: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let params = Params {
        nps_window: TimeDelta::days(days),
        ..Params::from_settings(settings)
    };
    let facts = metrics::load(pool, now, None, &params).await?;
    let m = metrics::compute(&facts, Scope::Portfolio, &params);
    let mut out = text::nps_line(&m);
    out.push('\n');
    let by_csm = metrics::by_csm(&facts, &params);
    if m.nps.answers > 0 && !by_csm.is_empty() {
        out.push_str("\nBy CSM:\n");
        for c in &by_csm {
            out.push_str(&format!("{}: {}\n", c.name, text::nps_cell(&c.metrics)));
        }
    }
    let detractors = detractors(pool, now, days).await?;
    if !detractors.is_empty() {
        out.push_str("\nDetractors, newest first:\n");
        for d in detractors {
            out.push_str(&format!("• {d}\n"));
        }
    }
    Ok(out)
}

/// Each contact's latest answer in the window when it was 0-6, as "Northwind, Dana: 3 —
/// "reports time out" (2 Mar)".
async fn detractors(pool: &PgPool, now: DateTime<Utc>, days: i64) -> anyhow::Result<Vec<String>> {
    let rows = sqlx::query!(
        r#"select account_name as "account_name!", contact_name as "contact_name!",
                  score as "score!", comment, received_at as "received_at!"
             from (select distinct on (r.contact_id) a.name as account_name,
                          c.name as contact_name, r.score, r.comment, r.received_at
                     from replies r
                     join accounts a on a.id = r.account_id
                     join contacts c on c.id = r.contact_id
                    where r.kind = 'nps' and r.score is not null
                      and r.received_at > $1 and r.received_at <= $2
                    order by r.contact_id, r.received_at desc, r.id desc) latest
            where score <= 6
            order by received_at desc
            limit $3"#,
        now - TimeDelta::days(days),
        now,
        LISTED_DETRACTORS
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let comment = match r.comment.as_deref().map(str::trim) {
                Some(c) if !c.is_empty() => format!(" — \"{c}\""),
                _ => String::new(),
            };
            format!(
                "{}, {}: {}{comment} ({})",
                r.account_name,
                r.contact_name,
                r.score,
                r.received_at.format("%-d %b")
            )
        })
        .collect())
}

fn headline(whose: &str, m: &TeamMetrics) -> String {
    format!(
        "{whose} on {}: {} ({} active)\n",
        m.at.format("%-d %b %Y"),
        text::count(m.accounts, "accounts"),
        m.active
    )
}

/// Categories, NPS, renewals and open escalations first, as a manager asks for them.
fn figures(m: &TeamMetrics) -> String {
    let mut out = String::new();
    out.push_str(&text::health_line(m));
    out.push('\n');
    out.push_str(&text::nps_line(m));
    out.push('\n');
    out.push_str(&text::renewals_lines(m, LISTED_RENEWALS));
    out.push_str(&text::escalations_line(m));
    out.push('\n');
    out.push_str(&text::response_line(m));
    out.push('\n');
    out.push_str(&text::retention_line(m));
    out.push('\n');
    out
}

fn csm_line(name: &str, m: &TeamMetrics) -> String {
    format!(
        "{name}: {}, green/yellow/red {}, health {}, NPS {}, {} open, {} renewing in {} days",
        text::count(m.accounts, "accounts"),
        text::categories_cell(m),
        text::health_cell(m),
        text::nps_cell(m),
        text::count(m.escalations.open as usize, "escalations"),
        m.renewals.len(),
        m.renewal_days
    )
}

fn staff_names(facts: &Facts) -> HashMap<StaffId, String> {
    facts.staff.iter().map(|s| (s.id, s.name.clone())).collect()
}

fn open_per_account(facts: &Facts) -> HashMap<AccountId, usize> {
    let mut open = HashMap::new();
    for e in &facts.escalations {
        *open.entry(e.account).or_default() += 1;
    }
    open
}

/// Sorts the weakest first: scored accounts by score, then those without one.
fn health_rank(a: &AccountFacts) -> (u8, u8) {
    match a.health.and_then(|h| h.score) {
        Some(score) => (0, score),
        None => (1, 0),
    }
}

/// "42 red, down 18 over 30 days", or what is known.
fn health_words(a: &AccountFacts) -> String {
    let Some(h) = a.health else {
        return "not scored yet".into();
    };
    let (Some(score), Some(category)) = (h.score, h.category) else {
        return "too little data to score".into();
    };
    let change = match h.change_30d {
        Some(d) if d > 0 => format!(", up {d} over 30 days"),
        Some(d) if d < 0 => format!(", down {} over 30 days", -d),
        _ => String::new(),
    };
    format!("health {score} {category}{change}")
}

fn renewal_words(a: &AccountFacts) -> String {
    match (a.renewal_date, a.days_to_renewal) {
        (Some(date), Some(days)) if days >= 0 => format!("renews {date} (in {days} days)"),
        (Some(date), _) => format!("renewal {date} has passed"),
        _ => "no renewal date".into(),
    }
}

fn account_line(a: &AccountFacts, open: Option<usize>) -> String {
    let mut line = format!("{} — {}; {}", a.name, health_words(a), renewal_words(a));
    if let Some(n) = open {
        line.push_str(&format!("; {} open", text::count(n, "escalations")));
    }
    if !a.is_served() {
        line.push_str(" (churned)");
    }
    line
}

/// "Detractor NPS, critical, day 3, owner Alice #esc7".
pub(super) fn escalation_words(e: &EscalationRow, now: DateTime<Utc>) -> String {
    let mut words = format!(
        "{}, {}, day {}, owner {}",
        reason_title(e.reason),
        e.severity,
        escalation_day(e.opened_at, now),
        e.owner_name.as_deref().unwrap_or("nobody yet")
    );
    if e.snoozed_at(now) {
        words.push_str(", snoozed");
    }
    words.push_str(&format!(" #esc{}", e.id));
    words
}
