//! Signed WhatsApp webhook replies against the real `touchbot serve`: a plain binary that
//! prints its figures.
//!
//! Creates a throw-away database on the server of `DATABASE_URL` (default
//! postgres://postgres@127.0.0.1:5432/postgres) with `BENCH_INBOUND_ACCOUNTS` (default 1000)
//! accounts and their WhatsApp contacts (three per account, more when there are more replies
//! than that), each sent an NPS survey an hour ago. Starts the binary (`touchbot serve` on a
//! free loopback port, answering through a Graph API in this process that accepts every
//! message at once) and reads its idle memory. Then `BENCH_INBOUND_CLIENTS` (default 16)
//! keep-alive clients post `BENCH_INBOUND_REPLIES` (default 20000) signed notifications, one
//! reply each from a different contact, plus `BENCH_INBOUND_DUPLICATES` percent (default 10)
//! redeliveries of a recent one, and time every request. It waits until every reply is
//! handled (stored, linked to its survey, rescored, answered), checks that each was stored
//! exactly once, and prints the intake with its latency percentiles, the end-to-end rate and
//! serve's memory, beside a bare-SQL reference: `benches/pgbench/inbound_insert.sql` (one
//! INSERT ... ON CONFLICT DO NOTHING of an event row) with as many clients, for as many rows.
//! Serve is stopped and the database dropped at the end, also on failure.
//!
//! Run with `cargo bench --bench inbound`. `BENCH_INBOUND_CONNECTIONS` sets serve's
//! `database.max_connections` (its default, 10, when unset); `BENCH_SERVE_LOG` sets serve's
//! log filter (warn).

#[path = "support/inbound.rs"]
mod inbound_support;
#[path = "support/stages.rs"]
mod stages;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{TimeDelta, Utc};
use inbound_support::{GraphApi, PATH, Serve, handled, notification, seed, stored_once};
use sqlx::PgPool;
use support::{Scratch, beside, env_usize, pgbench, rate, rss_now_mib};

struct Sizes {
    accounts: usize,
    replies: usize,
    clients: usize,
    duplicates_percent: usize,
}

/// The order requests go out in: every reply once, and every k-th followed by a redelivery
/// of the one three places back, likely still in flight.
fn request_order(replies: usize, duplicates_percent: usize) -> Vec<usize> {
    let every = (100 / duplicates_percent.max(1)).max(1);
    let mut order = Vec::with_capacity(replies + replies / every + 1);
    for n in 1..=replies {
        order.push(n);
        if duplicates_percent > 0 && n % every == 0 {
            order.push(n.saturating_sub(3).max(1));
        }
    }
    order
}

/// Latencies of every request, and how long the whole load took.
struct Load {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

/// `clients` keep-alive connections post the notifications in `order`; any answer but 200
/// fails the run.
async fn post_all(
    addr: std::net::SocketAddr,
    bodies: Arc<Vec<(Vec<u8>, String)>>,
    order: Arc<Vec<usize>>,
    clients: usize,
) -> anyhow::Result<Load> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let url = format!("http://{addr}{PATH}");
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, url, next) = (client.clone(), url.clone(), next.clone());
        let (bodies, order) = (bodies.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&n) = order.get(i) else {
                    return Ok::<_, anyhow::Error>(latencies);
                };
                let (body, signature) = &bodies[n - 1];
                let sent = Instant::now();
                let status = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("X-Hub-Signature-256", signature)
                    .body(body.clone())
                    .send()
                    .await
                    .context("posting a notification")?
                    .status();
                latencies.push(sent.elapsed());
                if status != reqwest::StatusCode::OK {
                    bail!("the webhook answered {status} to reply {n}");
                }
            }
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok(Load {
        latencies,
        elapsed: start.elapsed(),
    })
}

/// Samples serve's resident memory every 20 ms until `stop`; returns the highest.
fn sample_rss(pid: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<f64> {
    tokio::spawn(async move {
        let mut peak: f64 = 0.0;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(rss_now_mib(pid).unwrap_or(0.0));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        peak
    })
}

/// Prints the requests' rate and latency percentiles; returns the rate.
fn report_intake(load: &Load, requests: usize) -> f64 {
    let mut latencies = load.latencies.clone();
    latencies.sort();
    rate(
        "webhook requests (200 each)",
        requests,
        "requests",
        "request",
        load.elapsed,
    );
    println!(
        "  latency ms: p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.95),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
    requests as f64 / load.elapsed.as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

async fn bench(scratch: &Scratch, pool: &PgPool, sizes: &Sizes) -> anyhow::Result<bool> {
    let contacts = (3 * sizes.accounts).max(sizes.replies);
    let seeded = Instant::now();
    seed(
        pool,
        sizes.accounts,
        contacts,
        Utc::now() - TimeDelta::hours(1),
    )
    .await?;
    println!(
        "seeded {} accounts, {contacts} WhatsApp contacts with an NPS survey each in {:.1} s",
        sizes.accounts,
        seeded.elapsed().as_secs_f64()
    );
    let graph = GraphApi::start().await?;
    let connections = std::env::var("BENCH_INBOUND_CONNECTIONS")
        .ok()
        .map(|v| {
            v.parse()
                .context("BENCH_INBOUND_CONNECTIONS must be a whole number")
        })
        .transpose()?;
    let mut serve = Serve::start(&scratch.url(), &graph, connections, "inbound").await?;
    // Let start-up settle (the first sweeps, the scheduler) before reading idle memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_now_mib(serve.pid()).unwrap_or(f64::NAN);
    println!("serve idle RSS: {idle:.1} MiB");

    let now = Utc::now().timestamp();
    let bodies: Arc<Vec<_>> = Arc::new((1..=sizes.replies).map(|n| notification(n, now)).collect());
    let order = Arc::new(request_order(sizes.replies, sizes.duplicates_percent));
    let requests = order.len();
    println!(
        "posting {requests} signed notifications ({} replies, {} redeliveries) with {} clients",
        sizes.replies,
        requests - sizes.replies,
        sizes.clients
    );
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_rss(serve.pid(), stop.clone());
    let timeline = stages::sample(pool.clone(), stop.clone());
    let start = Instant::now();
    let load = post_all(serve.addr, bodies, order.clone(), sizes.clients).await;
    let intake = load.as_ref().ok().map(|load| report_intake(load, requests));
    let drained = match &load {
        Ok(_) => handled(pool, Duration::from_secs(60.max(sizes.replies as u64 / 20))).await,
        Err(_) => Ok(Duration::ZERO),
    };
    let end_to_end = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.await?;
    let timeline = timeline.await?;
    let clean = serve.stop().await;
    let complaints = serve.complaints();
    if load.is_err() || drained.is_err() || complaints > 0 {
        println!("serve's log ends with:\n{}", serve.log_tail());
    }
    load?;
    drained?;
    rate(
        "handled (stored, rescored, answered)",
        sizes.replies,
        "replies",
        "reply",
        end_to_end,
    );
    stages::report(&timeline);
    println!("serve RSS: idle {idle:.1} MiB, peak under load {peak:.1} MiB");
    println!(
        "serve stopped {}; {complaints} warnings in its log",
        if clean { "cleanly" } else { "by force" }
    );
    let ok = stored_once(pool, sizes.replies, graph.sent.load(Ordering::Relaxed)).await?;

    let per_client = requests.div_ceil(sizes.clients);
    let reference = pgbench(
        scratch,
        "inbound_insert.sql",
        sizes.clients,
        per_client,
        &[],
    );
    beside("webhook requests", intake.unwrap_or(0.0), reference);
    Ok(ok && clean && complaints == 0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sizes = Sizes {
        accounts: env_usize("BENCH_INBOUND_ACCOUNTS", 1000),
        replies: env_usize("BENCH_INBOUND_REPLIES", 20000),
        clients: env_usize("BENCH_INBOUND_CLIENTS", 16).max(1),
        duplicates_percent: env_usize("BENCH_INBOUND_DUPLICATES", 10).min(100),
    };
    println!(
        "inbound bench: {} accounts (BENCH_INBOUND_ACCOUNTS), {} replies (BENCH_INBOUND_REPLIES), \
         {} clients (BENCH_INBOUND_CLIENTS), {}% redelivered (BENCH_INBOUND_DUPLICATES)",
        sizes.accounts, sizes.replies, sizes.clients, sizes.duplicates_percent
    );
    let (scratch, pool) = Scratch::create("inbound").await?;
    let outcome = bench(&scratch, &pool, &sizes).await;
    scratch.drop_now(pool).await?;
    if !outcome.context("the inbound bench failed")? {
        bail!("a reply was not handled exactly once, or serve complained (see above)");
    }
    Ok(())
}
