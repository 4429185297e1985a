//! The nightly re-plan against a real PostgreSQL: a plain binary that prints its figures.
//!
//! Runs `replan_all` over `BENCH_ACCOUNTS` (default 1000) active accounts of three contacts
//! each: first into an empty outbox (the full plan), then again with nothing changed, then
//! with two accounts edited, then three months on. Beside the full plan it prints the
//! bare-SQL floor of writing the same rows (`benches/pgbench/plan_write.sql`, run by
//! `pgbench`): the very touches stored, inserted set-wise into an empty copy of the outbox in
//! the same chunks on two connections.
//!
//! Run with `cargo bench --bench planning`; `BENCH_ACCOUNTS=100000` for the size.

mod support;

use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::PgPool;
use support::seed::seed_accounts;
use support::{Scratch, beside, env_usize, peak_rss_mib, pgbench, rate};
use touchbot::outbound::calendar::CalendarConfig;
use touchbot::outbound::planner::{ReplanReport, replan_all};

/// The accounts `replan_all` stores in one transaction (`planner::CHUNK`).
const CHUNK: usize = 1000;

async fn timed(
    pool: &PgPool,
    label: &str,
    m: usize,
    now: DateTime<Utc>,
) -> anyhow::Result<(ReplanReport, f64)> {
    let start = Instant::now();
    let report = replan_all(pool, &CalendarConfig::default(), now).await?;
    let elapsed = start.elapsed();
    rate(label, m, "accounts", "account", elapsed);
    println!("  report: {report:?}");
    anyhow::ensure!(report.failed == 0, "{label}: accounts failed");
    Ok((report, m as f64 / elapsed.as_secs_f64()))
}

async fn count(pool: &PgPool, sql: &'static str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(pool).await?)
}

async fn bench_replan(scratch: &Scratch, pool: &PgPool, m: usize) -> anyhow::Result<()> {
    seed_accounts(pool, m).await?;
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();

    let (first, ours) = timed(pool, "replan_all (empty outbox)", m, now).await?;
    let rows = count(pool, "select count(*) from touches").await?;
    println!(
        "  {rows} touch rows, {:.1} per account",
        rows as f64 / m as f64
    );
    anyhow::ensure!(
        first.planned > 0 && first.unchanged == 0,
        "nothing was planned"
    );
    let recorded = count(pool, "select count(*) from account_plans").await?;
    anyhow::ensure!(recorded == m as i64, "{recorded} of {m} plans recorded");
    beside(
        "full plan, accounts",
        ours,
        write_reference(scratch, pool, m).await?,
    );

    let (again, _) = timed(pool, "replan_all (nothing changed)", m, now).await?;
    anyhow::ensure!(
        again.unchanged == m,
        "re-planned unchanged accounts: {again:?}"
    );

    // An edited renewal date and a new contact re-plan those two accounts, and only them.
    sqlx::query("update accounts set renewal_date = renewal_date + 7 where id = (select min(id) from accounts)")
        .execute(pool)
        .await?;
    sqlx::query(
        "insert into contacts (account_id, name, role, channel, address, created_at)
         select max(id), 'late', 'user', 'simulated', 'late', timestamptz '2026-01-01 00:00Z'
         from accounts",
    )
    .execute(pool)
    .await?;
    let (edited, _) = timed(pool, "replan_all (two accounts edited)", m, now).await?;
    anyhow::ensure!(
        edited.unchanged == m.saturating_sub(2),
        "expected two re-plans: {edited:?}"
    );

    let later = Utc.with_ymd_and_hms(2026, 4, 1, 8, 0, 0).unwrap();
    let (moved, _) = timed(pool, "replan_all (three months on)", m, later).await?;
    anyhow::ensure!(
        moved.unchanged < m,
        "three months on, every plan still held"
    );
    Ok(())
}

/// Accounts per second of the bare-SQL write of the same rows, or `None` without pgbench.
async fn write_reference(
    scratch: &Scratch,
    pool: &PgPool,
    m: usize,
) -> anyhow::Result<Option<f64>> {
    sqlx::raw_sql(
        "create table touches_copy (like touches including defaults including constraints
                                    including indexes);
         create sequence plan_chunks;",
    )
    .execute(pool)
    .await?;
    let chunks = m.div_ceil(CHUNK);
    let clients = chunks.min(2);
    let per_client = chunks.div_ceil(clients);
    let start = Instant::now();
    let tps = pgbench(
        scratch,
        "plan_write.sql",
        clients,
        per_client,
        &[("size", CHUNK.to_string())],
    );
    let elapsed = start.elapsed();
    let copied = count(pool, "select count(*) from touches_copy").await?;
    let stored = count(pool, "select count(*) from touches").await?;
    sqlx::raw_sql("drop table touches_copy; drop sequence plan_chunks;")
        .execute(pool)
        .await?;
    let Some(_) = tps else { return Ok(None) };
    anyhow::ensure!(
        copied == stored,
        "the reference wrote {copied} of {stored} rows"
    );
    rate(
        "bare SQL (same rows, INSERT…SELECT)",
        m,
        "accounts",
        "account",
        elapsed,
    );
    Ok(Some(m as f64 / elapsed.as_secs_f64()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let m = env_usize("BENCH_ACCOUNTS", 1000);
    println!("planning bench: {m} accounts (BENCH_ACCOUNTS)");
    let (scratch, pool) = Scratch::create("planning").await?;
    let outcome = bench_replan(&scratch, &pool, m).await;
    if let Some(mib) = peak_rss_mib() {
        println!("peak RSS (VmHWM): {mib:.1} MiB");
    }
    scratch.drop_now(pool).await?;
    outcome
}
