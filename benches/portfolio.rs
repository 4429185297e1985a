//! The nightly reassessment and `status` against a real PostgreSQL: a plain binary that prints
//! its figures, each beside a bare-SQL reference run by pgbench on the same database.
//!
//! Over `BENCH_ACCOUNTS` (default 500) accounts of three contacts each, with a quarter of
//! client history (`support::portfolio::seed_history`) and red signals on a share of them:
//! - the nightly reassessment, every health score then every escalation rule, twice (the
//!   first run opens escalations, the next day's mostly refreshes them), beside a bare
//!   set-wise insert of one score row per account (`benches/pgbench/health_scores_insert.sql`);
//! - the escalation tick over what it opened;
//! - `status` of the portfolio (as the CLI and `GET /portfolio` build it, and the figures
//!   alone as chat `/status` does) and of one account, `BENCH_STATUS_RUNS` (default 7) times
//!   each, median and worst, beside the bare aggregate behind them
//!   (`status_portfolio.sql`, `status_account.sql`).
//!
//! `BENCH_TICK=0` leaves the tick out (it posts an SLA breach per escalation, slowly, at
//! 100,000 accounts), `BENCH_STATUS_RUNS=0` the status. `BENCH_REASSESS=0` leaves the whole
//! reassessment out and writes two scores per account set-wise instead, so `status` can be
//! measured at 100,000 quickly. `BENCH_TEMPLATE=NAME` seeds once into a database NAME that
//! later runs copy; `BENCH_KEEP_DB=1` keeps the run's database, to look at its query plans.
//!
//! Run with `cargo bench --bench portfolio`; `BENCH_ACCOUNTS=100000 cargo bench --bench
//! portfolio` for the size.

mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use sqlx::PgPool;
use support::portfolio::seed_history;
use support::seed::seed_accounts;
use support::{Scratch, beside, env_usize, peak_rss_mib, pgbench, rate};
use touchbot::metrics::{self, Params, Scope};

/// The nightly reassessment, twice, then the escalation tick; returns when it ended.
async fn bench_nightly(
    scratch: &Scratch,
    pool: &PgPool,
    m: usize,
    now: DateTime<Utc>,
) -> anyhow::Result<DateTime<Utc>> {
    let settings = touchbot::config::Settings::default();
    let judge = touchbot::inbound::Judge::from(&settings);

    let start = Instant::now();
    let first = touchbot::inbound::reassess(pool, judge, now, "bench", None).await?;
    let took = start.elapsed();
    rate("nightly reassess (first)", m, "accounts", "account", took);
    println!("  escalations: {:?}", first.escalations);
    anyhow::ensure!(first.scored == m, "every account is scored");
    anyhow::ensure!(first.escalations.opened > 0, "the red signals escalate");
    anyhow::ensure!(first.escalations.failed == 0, "no account fails");

    let later = now + chrono::Duration::hours(24);
    let start = Instant::now();
    let again = touchbot::inbound::reassess(pool, judge, later, "bench", None).await?;
    let took_again = start.elapsed();
    rate(
        "nightly reassess (next day)",
        m,
        "accounts",
        "account",
        took_again,
    );
    println!("  escalations: {:?}", again.escalations);
    anyhow::ensure!(again.escalations.opened == 0, "nothing opens twice");

    let reference =
        pgbench(scratch, "health_scores_insert.sql", 1, 1, &[]).map(|tps| tps * m as f64);
    beside(
        "accounts reassessed (next day)",
        m as f64 / took_again.as_secs_f64(),
        reference,
    );

    if env_usize("BENCH_TICK", 1) == 0 {
        println!("escalation tick skipped (BENCH_TICK=0)");
        return Ok(later);
    }
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
    Ok(later)
}

/// Instead of the reassessment (`BENCH_REASSESS=0`): two scores per account written set-wise,
/// 31 days apart, so `status` has a latest score and a 30-day move to show (a tenth red, a
/// third yellow, the rest green; some falling, some rising), and the touch and NPS counts
/// beside the latest, as the reassessment keeps them. Returns the instant to read at.
async fn score_setwise(pool: &PgPool, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    let start = Instant::now();
    let scored = sqlx::query(
        "insert into health_scores (account_id, computed_at, score, category, model, components,
                                    summary, cause)
         select a.id, at, s.score, case when s.score >= 80 then 'green'
                                       when s.score >= 50 then 'yellow' else 'red' end,
                'bench', '[]'::jsonb, 'bench score', 'bench'
           from accounts a
          cross join lateral (values ($1 - interval '31 days', 0), ($1, 1)) v(at, latest)
          cross join lateral (select least(100, (case when a.id % 10 = 0 then 20 + a.id % 30
                                                     when a.id % 3 = 0 then 50 + a.id % 30
                                                     else 80 + a.id % 16 end)
                                                + case when v.latest = 0 then a.id % 11 - 5
                                                       else 0 end)::smallint as score) s",
    )
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected();
    // The touch counts the reassessment keeps beside its scores.
    let ids: Vec<i64> = sqlx::query_scalar("select id from accounts")
        .fetch_all(pool)
        .await?;
    let mut conn = pool.acquire().await?;
    metrics::keep_response_counts(&mut conn, now, &ids).await?;
    metrics::keep_nps_counts(&mut conn, now, &ids).await?;
    drop(conn);
    sqlx::query("analyze health_scores").execute(pool).await?;
    sqlx::query("analyze account_health").execute(pool).await?;
    println!(
        "reassessment skipped (BENCH_REASSESS=0): {scored} scores written set-wise in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Ok(now)
}

/// Runs `f` `runs` times and returns the median and the worst time.
async fn timed<F, Fut, T>(runs: usize, mut f: F) -> anyhow::Result<(Duration, Duration, T)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        last = Some(f().await?);
        times.push(start.elapsed());
    }
    times.sort();
    let last = last.expect("at least one run");
    Ok((times[times.len() / 2], times[times.len() - 1], last))
}

fn print_status(label: &str, median: Duration, worst: Duration, reference_tps: Option<f64>) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let reference = match reference_tps {
        Some(tps) => format!("  bare SQL {:.1} ms", 1e3 / tps),
        None => "  (no bare-SQL reference)".to_string(),
    };
    println!(
        "{label:<34} median {:>8.1} ms  worst {:>8.1} ms{reference}",
        ms(median),
        ms(worst)
    );
}

/// `status` of the whole portfolio and of one account, as each front end builds it.
async fn bench_status(
    scratch: &Scratch,
    pool: &PgPool,
    m: usize,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let runs = env_usize("BENCH_STATUS_RUNS", 7);
    let params = Params::default();
    let refs = |script: &str, vars: &[(&str, String)]| pgbench(scratch, script, 1, runs, vars);

    let (median, worst, p) = timed(runs, || {
        touchbot::status::portfolio_of(pool, now, None, &params)
    })
    .await?;
    anyhow::ensure!(
        p.metrics.accounts == m,
        "the portfolio counts every account"
    );
    print_status(
        "status (CLI, GET /portfolio)",
        median,
        worst,
        refs("status_portfolio.sql", &[]),
    );
    let start = Instant::now();
    let text = touchbot::status::render_portfolio(&p);
    println!(
        "  rendered for the terminal: {} lines in {:.1} ms",
        text.lines().count(),
        start.elapsed().as_secs_f64() * 1e3
    );

    let (median, worst, _) = timed(runs, || async {
        let facts = metrics::load(pool, now, None, &params).await?;
        let team = metrics::compute(&facts, Scope::Portfolio, &params);
        Ok((team, metrics::by_csm(&facts, &params)))
    })
    .await?;
    print_status(
        "status figures (chat /status)",
        median,
        worst,
        refs("status_portfolio.sql", &[]),
    );

    let id: i64 = sqlx::query_scalar("select max(id) from accounts")
        .fetch_one(pool)
        .await?;
    let (median, worst, one) = timed(runs, || {
        touchbot::status::account_statuses(pool, now, Some(id))
    })
    .await?;
    anyhow::ensure!(
        one.len() == 1 && one[0].health.is_some(),
        "one scored account"
    );
    print_status(
        "status ACCOUNT (CLI, API, chat)",
        median,
        worst,
        refs("status_account.sql", &[("account", id.to_string())]),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // RUST_LOG=sqlx::query=debug prints every statement with its time.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let m = env_usize("BENCH_ACCOUNTS", 500);
    println!("portfolio bench: {m} accounts (BENCH_ACCOUNTS)");
    let now = Utc.with_ymd_and_hms(2026, 4, 1, 8, 0, 0).unwrap();
    let (scratch, pool) = seeded(m, now).await?;
    let outcome = async {
        let later = if env_usize("BENCH_REASSESS", 1) == 0 {
            score_setwise(&pool, now).await?
        } else {
            bench_nightly(&scratch, &pool, m, now).await?
        };
        if env_usize("BENCH_STATUS_RUNS", 7) == 0 {
            println!("status skipped (BENCH_STATUS_RUNS=0)");
            return Ok(());
        }
        bench_status(&scratch, &pool, m, later).await
    }
    .await;
    if let Some(mib) = peak_rss_mib() {
        println!("peak RSS (VmHWM): {mib:.1} MiB");
    }
    if std::env::var_os("BENCH_KEEP_DB").is_some() {
        println!("kept database {} (BENCH_KEEP_DB)", scratch.name);
        pool.close().await;
    } else {
        scratch.drop_now(pool).await?;
    }
    outcome
}

/// A database with `m` seeded accounts. With `BENCH_TEMPLATE=NAME`, a copy of the database
/// NAME, seeded and kept under that name by the first run that asked for it: a large
/// portfolio is seeded once for many runs.
async fn seeded(m: usize, now: DateTime<Utc>) -> anyhow::Result<(Scratch, PgPool)> {
    let template = std::env::var("BENCH_TEMPLATE").ok();
    let seed = |pool: PgPool| async move {
        let start = Instant::now();
        seed_accounts(&pool, m).await?;
        seed_history(&pool, now).await?;
        rate(
            "seed (history of a quarter)",
            m,
            "accounts",
            "account",
            start.elapsed(),
        );
        anyhow::Ok(pool)
    };
    let Some(template) = template else {
        let (scratch, pool) = Scratch::create("portfolio").await?;
        return Ok((scratch, seed(pool).await?));
    };
    let (scratch, pool) = Scratch::create("portfolio_seed").await?;
    if scratch.exists(&template).await? {
        scratch.drop_now(pool).await?;
    } else {
        let pool = seed(pool).await?;
        scratch.keep_as(pool, &template).await?;
    }
    let (scratch, pool) = Scratch::create_from("portfolio", Some(&template)).await?;
    let seeded: i64 = sqlx::query_scalar("select count(*) from accounts")
        .fetch_one(&pool)
        .await?;
    anyhow::ensure!(
        seeded == m as i64,
        "the template {template} holds {seeded} accounts, not {m}"
    );
    Ok((scratch, pool))
}
