//! What every benchmark shares: its throw-away database, its sizes, how it prints a figure, and
//! the bare-SQL reference run with `pgbench` against the same database.
//!
//! Each bench target includes this module with `mod support;` and uses only part of it.
#![allow(dead_code)]

pub mod portfolio;
pub mod seed;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};

pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// `cargo bench` passes `--bench`; under `cargo test` a benchmark only checks that it still
/// runs, on a size small enough not to slow the test suite.
pub fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A size from the environment: `default` under `cargo bench`, at most 20 under `cargo test`.
pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}")),
        Err(_) if benchmarking() => default,
        Err(_) => default.clamp(1, 20),
    }
}

/// The most this process has held in memory so far.
pub fn peak_rss_mib() -> Option<f64> {
    rss_of("self", "VmHWM:")
}

/// What process `pid` holds in memory now.
pub fn rss_now_mib(pid: u32) -> Option<f64> {
    rss_of(&pid.to_string(), "VmRSS:")
}

fn rss_of(pid: &str, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// One figure on one line: how many, how long, the cost of one, and the rate.
pub fn rate(label: &str, count: usize, unit: &str, one: &str, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{label:<34} {count:>7} {unit}  total {:>9.1} ms  {:>8.1} µs/{one}  {:>8.0} {unit}/s",
        secs * 1e3,
        secs * 1e6 / count.max(1) as f64,
        count as f64 / secs,
    );
}

/// A database of its own on the server, dropped again by [`Scratch::drop_now`].
pub struct Scratch {
    pub server: PgConnectOptions,
    pub name: String,
}

impl Scratch {
    /// Creates `touchbot_bench_<pid>_<tag>` and migrates it; `tag` tells the benches apart when
    /// several run at once.
    pub async fn create(tag: &str) -> anyhow::Result<(Scratch, PgPool)> {
        Scratch::create_from(tag, None).await
    }

    /// As [`Scratch::create`], as a copy of the database `template` when given (which nobody
    /// may be connected to), so a bench can skip seeding a large portfolio again.
    pub async fn create_from(
        tag: &str,
        template: Option<&str>,
    ) -> anyhow::Result<(Scratch, PgPool)> {
        let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_string());
        let server: PgConnectOptions = url.parse().context("DATABASE_URL is not a valid URL")?;
        let name = format!("touchbot_bench_{}_{tag}", std::process::id());
        let mut admin = PgConnection::connect_with(&server)
            .await
            .context("could not connect to PostgreSQL (check DATABASE_URL)")?;
        // The name is built from the process id and a constant tag, never from input.
        // The template's name comes from the bench's own environment, never from input.
        let copy = template.map_or(String::new(), |t| format!(" template {t}"));
        sqlx::raw_sql(AssertSqlSafe(format!("create database {name}{copy}")))
            .execute(&mut admin)
            .await
            .with_context(|| format!("could not create the database {name}"))?;
        admin.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // As `touchbot serve` connects, so the figures are the product's.
            .connect_with(touchbot::db::planned(server.clone().database(&name)))
            .await?;
        touchbot::db::migrate(&pool).await?;
        println!("created database {name}");
        Ok((Scratch { server, name }, pool))
    }

    /// The URL of the scratch database, for a child process.
    pub fn url(&self) -> String {
        let o = &self.server;
        format!(
            "postgres://{}@{}:{}/{}",
            o.get_username(),
            o.get_host(),
            o.get_port(),
            self.name
        )
    }

    /// Whether a database called `name` exists on the server.
    pub async fn exists(&self, name: &str) -> anyhow::Result<bool> {
        let mut admin = PgConnection::connect_with(&self.server).await?;
        let found: bool =
            sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
                .bind(name)
                .fetch_one(&mut admin)
                .await?;
        admin.close().await?;
        Ok(found)
    }

    /// Closes `pool` and keeps the database under the name `name`, for later copies.
    pub async fn keep_as(self, pool: PgPool, name: &str) -> anyhow::Result<()> {
        pool.close().await;
        let mut admin = PgConnection::connect_with(&self.server).await?;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "alter database {} rename to {name}",
            self.name
        )))
        .execute(&mut admin)
        .await?;
        admin.close().await?;
        println!("kept database {} as {name}", self.name);
        Ok(())
    }

    pub async fn drop_now(self, pool: PgPool) -> anyhow::Result<()> {
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

/// A bare-SQL reference: `script` (a file under `benches/pgbench/`) run by `pgbench` on the
/// scratch database with `clients` connections, `transactions` each. Returns transactions per
/// second, or `None` (with the reason printed) when pgbench is not installed or fails, so a
/// machine without it still gets the touchbot figure.
pub fn pgbench(
    scratch: &Scratch,
    script: &str,
    clients: usize,
    transactions: usize,
    vars: &[(&str, String)],
) -> Option<f64> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/pgbench")
        .join(script);
    let o = &scratch.server;
    let mut cmd = Command::new("pgbench");
    cmd.arg("-n")
        .args(["-h", o.get_host()])
        .args(["-p", &o.get_port().to_string()])
        .args(["-U", o.get_username()])
        .args(["-c", &clients.to_string()])
        .args(["-j", &clients.min(2).to_string()])
        .args(["-t", &transactions.to_string()])
        .arg("-f")
        .arg(&path);
    for (k, v) in vars {
        cmd.args(["-D", &format!("{k}={v}")]);
    }
    cmd.arg(&scratch.name);
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => {
            println!("  (pgbench reference skipped: could not run pgbench: {e})");
            return None;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        println!(
            "  (pgbench reference failed: {})",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    stdout
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
}

/// Prints a touchbot figure beside its bare-SQL reference.
pub fn beside(label: &str, ours_per_s: f64, reference_per_s: Option<f64>) {
    match reference_per_s {
        Some(r) => println!(
            "  {label}: {ours_per_s:.0}/s against bare SQL {r:.0}/s ({:.2}x)",
            ours_per_s / r
        ),
        None => println!("  {label}: {ours_per_s:.0}/s (no bare-SQL reference)"),
    }
}
