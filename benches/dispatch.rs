//! The delivery engine against a real PostgreSQL: a plain binary that prints its figures.
//!
//! Creates a throw-away database on the server of `DATABASE_URL` (default
//! postgres://postgres@127.0.0.1:5432/postgres), applies the migrations, and drops it at the
//! end. It runs `deliver_due` over `BENCH_TOUCHES` (default 5000) due touches on the simulated
//! channel with no rate limit, then checks that every touch went out exactly once.
//!
//! Run with `cargo bench --bench dispatch`.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use sqlx::PgPool;
use support::seed::seed_due_touches;
use support::{Scratch, env_usize, peak_rss_mib, rate};
use touchbot::channel::Channels;
use touchbot::channel::ratelimit::{ChannelLimit, RateLimits};
use touchbot::channel::simulated::SimulatedChannel;
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

async fn bench_dispatch(pool: &PgPool, n: usize) -> anyhow::Result<bool> {
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let seed_start = Instant::now();
    seed_due_touches(pool, n, now).await?;
    let seeded: i64 = sqlx::query_scalar("select count(*) from touches where status = 'planned'")
        .fetch_one(pool)
        .await?;
    println!(
        "seeded {seeded} due touches in {:.1} ms",
        seed_start.elapsed().as_secs_f64() * 1e3
    );

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
        "deliver_due: {} workers, batches of {}",
        config.workers, config.batch_size
    );

    let start = Instant::now();
    let report = deliver_due(pool, &channels, &TemplateName, &config, "bench", now).await?;
    let elapsed = start.elapsed();
    rate("deliver_due", report.sent, "touches", "touch", elapsed);
    println!("  report: {report:?}");

    // Exactly once: one handover per touch on the channel, one sent row per touch in storage.
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n = env_usize("BENCH_TOUCHES", 5000);
    println!("dispatch bench: {n} touches (BENCH_TOUCHES)");
    let (scratch, pool) = Scratch::create("dispatch").await?;
    let outcome = bench_dispatch(&pool, n).await;
    if let Some(mib) = peak_rss_mib() {
        println!("peak RSS (VmHWM): {mib:.1} MiB");
    }
    scratch.drop_now(pool).await?;
    if !outcome? {
        anyhow::bail!("a touch was not delivered exactly once (see the check above)");
    }
    Ok(())
}
