//! The portfolio view: the team metrics, a row per CSM, and a row per account. Figures come
//! from `metrics`, which `/status` in chat and the weekly digest share; this file only lays
//! them out for a terminal.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::accounts::{AccountStatus, attention, health_cell, statuses, statuses_in_order};
use super::page::{AccountOrder, FIRST_PAGE, Listing, first_to_look_at};
use crate::cli::table;
use crate::metrics::{self, CsmMetrics, Params, Scope, TeamMetrics, text};
use crate::storage::staff::Staff;

/// Renewals listed by name under the metrics; the accounts table shows every date anyway.
const LISTED_RENEWALS: usize = 10;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Portfolio {
    pub at: DateTime<Utc>,
    /// The CSM whose accounts these are; `None` for the whole portfolio.
    pub csm: Option<String>,
    pub metrics: TeamMetrics,
    /// A row per CSM; empty in one CSM's view.
    pub by_csm: Vec<CsmMetrics>,
    /// The first page of the accounts that most need attention, in that order, or every
    /// account by name when all were asked for (`order` says which).
    pub accounts: Vec<AccountStatus>,
    pub order: AccountOrder,
    /// Every account in scope, listed or not; the rest are in `GET /api/v1/accounts`.
    pub total_accounts: usize,
}

/// The whole portfolio at `now`, with the default periods and ladder.
pub async fn portfolio(pool: &PgPool, now: DateTime<Utc>) -> anyhow::Result<Portfolio> {
    portfolio_of(pool, now, None, &Params::default()).await
}

/// The whole portfolio, or only `csm`'s accounts, with the first page of accounts.
pub async fn portfolio_of(
    pool: &PgPool,
    now: DateTime<Utc>,
    csm: Option<&Staff>,
    params: &Params,
) -> anyhow::Result<Portfolio> {
    portfolio_listing(pool, now, csm, params, Listing::First(FIRST_PAGE)).await
}

/// As `portfolio_of`, listing the accounts `listing` asks for.
pub async fn portfolio_listing(
    pool: &PgPool,
    now: DateTime<Utc>,
    csm: Option<&Staff>,
    params: &Params,
    listing: Listing,
) -> anyhow::Result<Portfolio> {
    let facts = metrics::load(pool, now, csm.map(|s| s.id), params).await?;
    let (scope, by_csm) = match csm {
        Some(s) => (Scope::Csm(s.id), Vec::new()),
        None => (Scope::Portfolio, metrics::by_csm(&facts, params)),
    };
    let (order, accounts) = match listing {
        Listing::All => (
            AccountOrder::Name,
            statuses(pool, now, None, csm.map(|s| s.id)).await?,
        ),
        Listing::First(n) => {
            let ids = first_to_look_at(&facts.accounts, n);
            (
                AccountOrder::Attention,
                statuses_in_order(pool, now, &ids).await?,
            )
        }
    };
    Ok(Portfolio {
        at: now,
        csm: csm.map(|s| s.name.clone()),
        metrics: metrics::compute(&facts, scope, params),
        by_csm,
        accounts,
        order,
        total_accounts: facts.accounts.len(),
    })
}

pub fn render_portfolio(p: &Portfolio) -> String {
    let m = &p.metrics;
    let whose = match &p.csm {
        Some(name) => format!("{name}'s portfolio"),
        None => "Portfolio".to_string(),
    };
    let mut out = format!(
        "{whose} on {}: {} ({} active)\n",
        p.at.format("%Y-%m-%d"),
        text::count(m.accounts, "accounts"),
        m.active
    );
    out.push_str(&text::block(m, LISTED_RENEWALS));
    if !p.by_csm.is_empty() {
        out.push_str("\nBy CSM:\n");
        out.push_str(&csm_table(&p.by_csm));
        out.push('\n');
    }
    if !p.accounts.is_empty() {
        out.push('\n');
        if p.order == AccountOrder::Attention {
            out.push_str("Accounts to look at first:\n");
        }
        out.push_str(&accounts_table(&p.accounts));
        out.push('\n');
    }
    let more = p.total_accounts.saturating_sub(p.accounts.len());
    if more > 0 {
        let all = match &p.csm {
            Some(name) => format!("touchbot status --csm \"{name}\" --all"),
            None => "touchbot status --all".to_string(),
        };
        out.push_str(&format!(
            "{}: {all}, or GET /api/v1/accounts\n",
            text::count(more, "more accounts")
        ));
    }
    out
}

fn csm_table(rows: &[CsmMetrics]) -> String {
    let ages = rows
        .first()
        .map(|c| {
            let labels: Vec<String> = c
                .metrics
                .escalations
                .buckets
                .iter()
                .map(|b| b.days())
                .collect();
            format!("escalations, days {}", labels.join("/"))
        })
        .unwrap_or_default();
    let renewals = rows
        .first()
        .map(|c| format!("renewals in {} days", c.metrics.renewal_days))
        .unwrap_or_default();
    let body = rows
        .iter()
        .map(|c| {
            let m = &c.metrics;
            let (nrr, grr) = text::retention_cells(m);
            vec![
                c.name.clone(),
                format!("{} ({} active)", m.accounts, m.active),
                text::nps_cell(m),
                text::health_cell(m),
                text::categories_cell(m),
                text::response_cell(m),
                text::escalations_cell(m),
                text::renewals_cell(&m.renewals),
                nrr,
                grr,
            ]
        })
        .collect();
    table(
        &[
            "CSM",
            "accounts",
            "NPS (answers)",
            "health (30 d)",
            "green/yellow/red",
            "replies",
            &ages,
            &renewals,
            "NRR",
            "GRR",
        ],
        body,
    )
}

fn accounts_table(accounts: &[AccountStatus]) -> String {
    let rows = accounts
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                a.segment.clone(),
                a.csm.clone().unwrap_or_else(|| "-".into()),
                health_cell(a.health.as_ref()),
                a.reply_rate()
                    .map(|r| format!("{:.0}% of {}", r * 100.0, a.touches_sent))
                    .unwrap_or_else(|| "-".into()),
                a.last_nps
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                match (a.renewal_date, a.days_to_renewal) {
                    (Some(d), Some(n)) if n >= 0 => format!("{d} (in {n} d)"),
                    (Some(d), _) => format!("{d} (passed)"),
                    _ => "-".into(),
                },
                attention(a),
            ]
        })
        .collect();
    table(
        &[
            "account",
            "segment",
            "CSM",
            "health",
            "replies",
            "last NPS",
            "renewal",
            "attention",
        ],
        rows,
    )
}
