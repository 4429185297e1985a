//! The nightly re-plan against a real PostgreSQL: a plain binary that prints its figures.
//!
//! Runs `replan_all` over `BENCH_ACCOUNTS` (default 500) active accounts of three contacts
//! each: first into an empty outbox, then again with nothing changed, then three months on.
//!
//! Run with `cargo bench --bench planning`.

mod support;

use std::time::Instant;

use chrono::{TimeZone, Utc};
use sqlx::PgPool;
use support::seed::seed_accounts;
use support::{Scratch, env_usize, peak_rss_mib, rate};
use touchbot::outbound::calendar::CalendarConfig;
use touchbot::outbound::planner::replan_all;

async fn bench_replan(pool: &PgPool, m: usize) -> anyhow::Result<()> {
    seed_accounts(pool, m).await?;
    let config = CalendarConfig::default();
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();

    let start = Instant::now();
    let first = replan_all(pool, &config, now).await?;
    rate(
        "replan_all (empty outbox)",
        m,
        "accounts",
        "account",
        start.elapsed(),
    );
    println!("  report: {first:?}");

    let start = Instant::now();
    let again = replan_all(pool, &config, now).await?;
    rate(
        "replan_all (nothing changed)",
        m,
        "accounts",
        "account",
        start.elapsed(),
    );
    println!("  report: {again:?}");

    let later = Utc.with_ymd_and_hms(2026, 4, 1, 8, 0, 0).unwrap();
    let start = Instant::now();
    let moved = replan_all(pool, &config, later).await?;
    rate(
        "replan_all (three months on)",
        m,
        "accounts",
        "account",
        start.elapsed(),
    );
    println!("  report: {moved:?}");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let m = env_usize("BENCH_ACCOUNTS", 500);
    println!("planning bench: {m} accounts (BENCH_ACCOUNTS)");
    let (scratch, pool) = Scratch::create("planning").await?;
    let outcome = bench_replan(&pool, m).await;
    if let Some(mib) = peak_rss_mib() {
        println!("peak RSS (VmHWM): {mib:.1} MiB");
    }
    scratch.drop_now(pool).await?;
    outcome
}
