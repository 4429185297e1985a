//! The delivery engine against a real PostgreSQL: a plain binary that prints its figures.
//!
//! Creates a throw-away database on the server of `DATABASE_URL` (default
//! postgres://postgres@127.0.0.1:5432/postgres), applies the migrations, and drops it at the
//! end. It runs `deliver_due` over `BENCH_TOUCHES` (default 5000) due touches on the simulated
//! channel with no rate limit, `BENCH_WORKERS` (4) sends at a time in batches of `BENCH_BATCH`
//! (50), then checks that every touch went out exactly once. Then, on fresh due touches of the
//! same count each time, the bare-SQL reference: `benches/pgbench/deliver.sql` (the same claim,
//! `sending` mark and settle statements) run by pgbench with `BENCH_REF_CLIENTS` (1)
//! connections, one touch per round (over the first `BENCH_REF_ONE_BY_ONE`, 2000, of them: it
//! is slow) and in batches of `BENCH_BATCH`.
//!
//! Run with `cargo bench --bench dispatch`.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use sqlx::PgPool;
use support::seed::seed_due_touches;
use support::{Scratch, beside, env_usize, peak_rss_mib, pgbench, rate};
use touchbot::channel::Channels;
use touchbot::channel::ratelimit::{ChannelLimit, RateLimits};
use touchbot::channel::simulated::SimulatedChannel;
use touchbot::delivery::Report;
use touchbot::outbound::dispatcher::{
    DispatcherConfig, Render, Rendered, TouchToSend, deliver_due,
};

/// The template name is the whole message: rendering costs next to nothing.
struct TemplateName;

impl Render for TemplateName {
    fn render(&self, touch: &TouchToSend) -> anyhow::Result<Rendered> {
        Ok(Rendered {
            text: touch.template.clone(),
            buttons: Vec::new(),
            parameters: Vec::new(),
        })
    }
}

/// `n` fresh due touches, whatever ran before: the same rows, counts and statistics for
/// touchbot and for each reference.
async fn fresh_touches(pool: &PgPool, n: usize, now: DateTime<Utc>) -> anyhow::Result<()> {
    sqlx::query("truncate accounts, contacts, touches restart identity cascade")
        .execute(pool)
        .await?;
    let seed_start = Instant::now();
    seed_due_touches(pool, n, now).await?;
    sqlx::query("vacuum analyze accounts, contacts, touches")
        .execute(pool)
        .await?;
    let seeded: i64 = sqlx::query_scalar("select count(*) from touches where status = 'planned'")
        .fetch_one(pool)
        .await?;
    println!(
        "seeded {seeded} due touches in {:.1} ms",
        seed_start.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

/// Runs `deliver_due` over `n` due touches; returns its touches/s and whether every touch went
/// out exactly once.
async fn bench_dispatch(
    pool: &PgPool,
    n: usize,
    now: DateTime<Utc>,
) -> anyhow::Result<(f64, bool)> {
    let sim = Arc::new(SimulatedChannel::new());
    let limits = RateLimits {
        simulated: ChannelLimit::unlimited(),
        ..RateLimits::default()
    };
    let channels = Channels::new(limits.clone()).with(sim.clone());
    let config = DispatcherConfig {
        workers: env_usize("BENCH_WORKERS", 4),
        batch_size: env_usize("BENCH_BATCH", 50) as i64,
        rate_limits: limits,
        ..DispatcherConfig::default()
    };
    println!(
        "deliver_due: {} sends at a time, batches of {}",
        config.workers, config.batch_size
    );

    let before = transactions(pool).await?;
    let start = Instant::now();
    let report = deliver_due(pool, &channels, &TemplateName, &config, "bench", now).await?;
    let elapsed = start.elapsed();
    rate("deliver_due", report.sent, "touches", "touch", elapsed);
    println!("  report: {report:?}");
    // Each statement runs in a transaction of its own: this counts round trips that did work.
    let statements = transactions(pool).await? - before;
    println!(
        "  {statements} statements, {:.3} per touch",
        statements as f64 / n.max(1) as f64
    );
    let ok = exactly_once(pool, &sim, &report, n).await?;
    Ok((report.sent as f64 / elapsed.as_secs_f64(), ok))
}

/// Transactions committed in this database so far (each backend reports them within a
/// second of going idle, so this waits that long first).
async fn transactions(pool: &PgPool) -> anyhow::Result<i64> {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let n: i64 = sqlx::query_scalar(
        "select xact_commit from pg_stat_database where datname = current_database()",
    )
    .fetch_one(pool)
    .await?;
    Ok(n)
}

/// One handover per touch on the channel, one sent row per touch in storage.
async fn exactly_once(
    pool: &PgPool,
    sim: &SimulatedChannel,
    report: &Report,
    n: usize,
) -> anyhow::Result<bool> {
    let sent = sim.sent();
    let mut per_key: HashMap<&str, u32> = HashMap::new();
    for m in &sent {
        *per_key
            .entry(m.message.idempotency_key.as_str())
            .or_default() += 1;
    }
    let twice = per_key.values().filter(|&&c| c > 1).count();
    let attempts = sim.total_send_attempts() as usize;
    let (rows_sent, rows_other): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where status = 'sent' and provider_message_id is not null),
                count(*) filter (where status <> 'sent')
         from touches",
    )
    .fetch_one(pool)
    .await?;
    let ok = report.sent == n
        && sent.len() == n
        && per_key.len() == n
        && twice == 0
        && attempts == n
        && rows_sent == n as i64
        && rows_other == 0;
    println!(
        "  exactly-once check: {} (channel got {} messages for {} distinct keys, {} keys more \
         than once, {} send attempts; {} rows sent, {} rows not sent; expected {n})",
        if ok { "PASSED" } else { "FAILED" },
        sent.len(),
        per_key.len(),
        twice,
        attempts,
        rows_sent,
        rows_other,
    );
    Ok(ok)
}

/// The bare-SQL reference on fresh due touches: `touches` of them claimed, marked and settled
/// `batch` at a time by pgbench; returns touches/s.
async fn reference(
    scratch: &Scratch,
    pool: &PgPool,
    n: usize,
    touches: usize,
    batch: usize,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<f64>> {
    fresh_touches(pool, n, now).await?;
    let clients = env_usize("BENCH_REF_CLIENTS", 1).max(1);
    let rounds = touches.div_ceil(batch).div_ceil(clients).max(1);
    let vars = [
        ("now", now.timestamp().to_string()),
        ("batch", batch.to_string()),
    ];
    let Some(tps) = pgbench(scratch, "deliver.sql", clients, rounds, &vars) else {
        return Ok(None);
    };
    let done: i64 = sqlx::query_scalar("select count(*) from touches where status = 'sent'")
        .fetch_one(pool)
        .await?;
    let per_s = done as f64 * tps / (rounds * clients) as f64;
    let label = format!("bare SQL, {batch} a claim, {clients} conn.");
    rate(
        &label,
        done as usize,
        "touches",
        "touch",
        Duration::from_secs_f64(done as f64 / per_s),
    );
    Ok(Some(per_s))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n = env_usize("BENCH_TOUCHES", 5000);
    let batch = env_usize("BENCH_BATCH", 50).max(1);
    println!(
        "dispatch bench: {n} touches (BENCH_TOUCHES), load average {}",
        load_average()
    );
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let (scratch, pool) = Scratch::create("dispatch").await?;
    let outcome = async {
        fresh_touches(&pool, n, now).await?;
        let (ours, ok) = bench_dispatch(&pool, n, now).await?;
        if let Some(mib) = peak_rss_mib() {
            println!("peak RSS (VmHWM): {mib:.1} MiB");
        }
        let one_by_one = env_usize("BENCH_REF_ONE_BY_ONE", 2000).min(n);
        let single = reference(&scratch, &pool, n, one_by_one, 1, now).await?;
        let batched = reference(&scratch, &pool, n, n, batch, now).await?;
        beside("deliver_due against one by one", ours, single);
        beside(
            &format!("deliver_due against batches of {batch}"),
            ours,
            batched,
        );
        println!("load average at the end {}", load_average());
        anyhow::Ok(ok)
    }
    .await;
    scratch.drop_now(pool).await?;
    if !outcome? {
        anyhow::bail!("a touch was not delivered exactly once (see the check above)");
    }
    Ok(())
}
