//! The outbox against a real PostgreSQL: a plain binary that prints its figures.
//!
//! Creates a fresh database `touchbot_bench_<pid>` on the server of `DATABASE_URL` (default
//! postgres://postgres@127.0.0.1:5432/postgres), applies the migrations, and drops it at the
//! end. Two measurements:
//! - `deliver_due` over `BENCH_TOUCHES` (default 5000) due touches on the simulated channel
//!   with no rate limit, then a check that every touch went out exactly once;
//! - `replan_all` over `BENCH_ACCOUNTS` (default 500) active accounts of three contacts each,
//!   first into an empty outbox, then again with nothing changed;
//! - the nightly reassessment (health scores, then escalations) over those accounts, with red
//!   signals on a share of them, and the escalation tick over what it opened.
//!
//! Run with `cargo bench --bench dispatch`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};
use touchbot::channel::Channels;
use touchbot::channel::ratelimit::{ChannelLimit, RateLimits};
use touchbot::channel::simulated::SimulatedChannel;
use touchbot::domain::TouchKind;
use touchbot::outbound::calendar::CalendarConfig;
use touchbot::outbound::dispatcher::{
    DispatcherConfig, Render, Rendered, TouchToSend, deliver_due,
};
use touchbot::outbound::planner::replan_all;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// `cargo bench` passes `--bench`; under `cargo test` the benchmark only checks that it still
/// runs, on a size small enough not to slow the test suite.
fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}")),
        Err(_) if benchmarking() => default,
        Err(_) => default.clamp(1, 20),
    }
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn rate(label: &str, count: usize, unit: &str, one: &str, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{label:<34} {count:>6} {unit}  total {:>9.1} ms  {:>8.1} µs/{one}  {:>8.0} {unit}/s",
        secs * 1e3,
        secs * 1e6 / count.max(1) as f64,
        count as f64 / secs,
    );
}

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

/// A database of its own on the server, dropped again by [`Scratch::drop_now`].
struct Scratch {
    server: PgConnectOptions,
    name: String,
}

impl Scratch {
    async fn create(url: &str) -> anyhow::Result<(Scratch, PgPool)> {
        let server: PgConnectOptions = url.parse().context("DATABASE_URL is not a valid URL")?;
        let name = format!("touchbot_bench_{}", std::process::id());
        let mut admin = PgConnection::connect_with(&server)
            .await
            .context("could not connect to PostgreSQL (check DATABASE_URL)")?;
        // The name is built from the process id alone, never from input.
        sqlx::raw_sql(AssertSqlSafe(format!("create database {name}")))
            .execute(&mut admin)
            .await
            .with_context(|| format!("could not create the database {name}"))?;
        admin.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(server.clone().database(&name))
            .await?;
        touchbot::db::migrate(&pool).await?;
        Ok((Scratch { server, name }, pool))
    }

    async fn drop_now(self, pool: PgPool) -> anyhow::Result<()> {
        pool.close().await;
        let mut admin = PgConnection::connect_with(&self.server).await?;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "drop database if exists {} with (force)",
            self.name
        )))
        .execute(&mut admin)
        .await?;
        admin.close().await?;
        println!("dropped database {}", self.name);
        Ok(())
    }
}

/// `touches` welcome touches due at `due`, three contacts per account, ten touches per account.
async fn seed_due_touches(pool: &PgPool, touches: usize, due: DateTime<Utc>) -> anyhow::Result<()> {
    let accounts = touches.div_ceil(10).max(1) as i64;
    sqlx::query(
        "insert into accounts (name, segment, contract_start, renewal_date)
         select 'dispatch-' || g, 'smb', date '2026-01-01', date '2027-01-01'
         from generate_series(1, $1) g",
    )
    .bind(accounts)
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into contacts (account_id, name, role, channel, address)
         select a.id, 'c' || a.id || '-' || k, 'champion', 'simulated', 'c' || a.id || '-' || k
         from accounts a, generate_series(1, 3) k",
    )
    .execute(pool)
    .await?;
    let kind = TouchKind::Welcome;
    sqlx::query(
        "with c as (select id, account_id, row_number() over (order by id) - 1 as n from contacts)
         insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at)
         select c.account_id, 'bench-' || g, $2, $2, $3, $2, c.id,
                $4 - make_interval(secs => g % 3600)
         from generate_series(0, $1 - 1) g
         join c on c.n = (g / 10) * 3 + g % 3",
    )
    .bind(touches as i64)
    .bind(kind.as_str())
    .bind(kind.category().as_str())
    .bind(due)
    .execute(pool)
    .await?;
    Ok(())
}

/// `accounts` active accounts across segments and zones, each with a CSM and three contacts.
async fn seed_accounts(pool: &PgPool, accounts: usize) -> anyhow::Result<()> {
    sqlx::query(
        "insert into staff (name, role, telegram_user_id)
         select 'csm-' || g, 'csm', 1000 + g from generate_series(1, 10) g",
    )
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into accounts (name, segment, contract_start, renewal_date, csm_id, time_zone)
         select 'plan-' || g,
                (array['enterprise', 'mid_market', 'smb'])[g % 3 + 1],
                date '2026-01-05' + (g % 60)::int,
                case when g % 5 = 0 then null else date '2027-01-05' + (g % 60)::int end,
                (select id from staff order by id limit 1 offset g % 10),
                (array['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Almaty',
                       'Australia/Sydney', 'America/Sao_Paulo'])[g % 6 + 1]
         from generate_series(1, $1) g",
    )
    .bind(accounts as i64)
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into contacts (account_id, name, role, channel, address, created_at)
         select a.id, 'p' || a.id || '-' || k,
                (array['decision_maker', 'champion', 'user'])[k], 'simulated',
                'p' || a.id || '-' || k, timestamptz '2026-01-01 00:00Z'
         from accounts a, generate_series(1, 3) k
         where a.name like 'plan-%'",
    )
    .execute(pool)
    .await?;
    Ok(())
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
    // The dispatch accounts are finished with; the re-plan measures only its own accounts.
    sqlx::query("update accounts set lifecycle = 'churned'")
        .execute(pool)
        .await?;
    Ok(ok)
}

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
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_string());
    let n = env_usize("BENCH_TOUCHES", 5000);
    let m = env_usize("BENCH_ACCOUNTS", 500);
    println!(
        "dispatch bench: {n} touches (BENCH_TOUCHES), {m} accounts to re-plan (BENCH_ACCOUNTS)"
    );
    let (scratch, pool) = Scratch::create(&url).await?;
    println!("created database {}", scratch.name);

    let outcome = async {
        let ok = bench_dispatch(&pool, n).await?;
        bench_replan(&pool, m).await?;
        bench_nightly(&pool, m).await?;
        anyhow::Ok(ok)
    }
    .await;
    if let Some(mib) = peak_rss_mib() {
        println!("peak RSS (VmHWM): {mib:.1} MiB");
    }
    scratch.drop_now(pool).await?;
    if !outcome? {
        anyhow::bail!("a touch was not delivered exactly once (see the check above)");
    }
    Ok(())
}
