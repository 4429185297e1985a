//! The nightly reassessment against a real PostgreSQL: a plain binary that prints its figures.
//!
//! Over `BENCH_ACCOUNTS` (default 500) accounts of three contacts each, with red signals on a
//! share of them: every health score, then every escalation rule, then the escalation tick
//! over what it opened.
//!
//! Run with `cargo bench --bench portfolio`.

mod support;

use std::time::Instant;

use chrono::{TimeZone, Utc};
use sqlx::PgPool;
use support::seed::seed_accounts;
use support::{Scratch, env_usize, peak_rss_mib, rate};
use touchbot::outbound::calendar::CalendarConfig;
use touchbot::outbound::planner::replan_all;

/// The nightly reassessment over the re-planned accounts: every health score, then every
/// escalation rule, with red signals on a share of the accounts (a critical ticket overdue on
/// one in ten, a departed sponsor on one in twenty, usage halved on one in eight).
async fn bench_nightly(pool: &PgPool, m: usize) -> anyhow::Result<()> {
    let now = Utc.with_ymd_and_hms(2026, 4, 1, 8, 0, 0).unwrap();
    sqlx::query(
        "insert into signals (account_id, kind, value, details, occurred_at, source, idempotency_key)
         select a.id, 'ticket_opened', null::float8, '{\"ticket\": \"T\", \"severity\": \"critical\"}'::jsonb,
                $1 - interval '9 days', 'bench', 'bt-' || a.id
           from accounts a where a.name like 'plan-%' and a.id % 10 = 0
         union all
         select a.id, 'sponsor_left', null::float8, '{}'::jsonb, $1 - interval '1 day', 'bench', 'bs-' || a.id
           from accounts a where a.name like 'plan-%' and a.id % 20 = 1
         union all
         select a.id, 'active_users', v.value, '{}'::jsonb, v.at, 'bench', 'bu-' || a.id || '-' || v.n
           from accounts a,
                (values (1, 100.0::float8, $1 - interval '40 days'), (2, 50.0::float8, $1 - interval '1 day'))
                  as v(n, value, at)
          where a.name like 'plan-%' and a.id % 8 = 3",
    )
    .bind(now)
    .execute(pool)
    .await?;
    let settings = touchbot::config::Settings::default();
    let judge = touchbot::inbound::Judge::from(&settings);

    let start = Instant::now();
    let first = touchbot::inbound::reassess(pool, judge, now, "bench", None).await?;
    rate(
        "nightly reassess (first)",
        m,
        "accounts",
        "account",
        start.elapsed(),
    );
    println!("  escalations: {:?}", first.escalations);

    let later = now + chrono::Duration::hours(24);
    let start = Instant::now();
    let again = touchbot::inbound::reassess(pool, judge, later, "bench", None).await?;
    rate(
        "nightly reassess (next day)",
        m,
        "accounts",
        "account",
        start.elapsed(),
    );
    println!("  escalations: {:?}", again.escalations);

    let start = Instant::now();
    let tick = touchbot::escalation::tick::tick(pool, &settings.escalation, later).await?;
    let open: i64 =
        sqlx::query_scalar("select count(*) from escalations where status <> 'resolved'")
            .fetch_one(pool)
            .await?;
    rate(
        "escalation tick (ladder, SLA)",
        open as usize,
        "escalations",
        "escalation",
        start.elapsed(),
    );
    println!("  tick: {tick:?}");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let m = env_usize("BENCH_ACCOUNTS", 500);
    println!("portfolio bench: {m} accounts (BENCH_ACCOUNTS)");
    let (scratch, pool) = Scratch::create("portfolio").await?;
    let outcome = async {
        seed_accounts(&pool, m).await?;
        // The calendar as the nightly run leaves it, so silence and surveys have touches to read.
        let plan_now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        replan_all(&pool, &CalendarConfig::default(), plan_now).await?;
        bench_nightly(&pool, m).await
    }
    .await;
    if let Some(mib) = peak_rss_mib() {
        println!("peak RSS (VmHWM): {mib:.1} MiB");
    }
    scratch.drop_now(pool).await?;
    outcome
}
