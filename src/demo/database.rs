//! Finding a PostgreSQL for the demo without any setup: the server named by DATABASE_URL,
//! else one answering on localhost, else a private one started from the PostgreSQL binaries
//! installed on the machine. The demo always works in its own database, `touchbot_demo`,
//! recreated on every run, so it never touches real data.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};
use secrecy::ExposeSecret;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use crate::config::Settings;

/// A database the demo can use; a private server is stopped when this is dropped.
pub struct DemoDatabase {
    pub options: PgConnectOptions,
    pub shown: String,
    private: Option<PrivateServer>,
}

impl DemoDatabase {
    pub fn is_private(&self) -> bool {
        self.private.is_some()
    }
}

pub async fn prepare(settings: &Settings, name: &str) -> anyhow::Result<DemoDatabase> {
    if name.is_empty()
        || name.len() > 60
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        bail!("the demo database name may only hold a-z, 0-9 and _ (at most 60 characters)");
    }
    let candidates: Vec<PgConnectOptions> = match &settings.database.url {
        Some(url) => vec![
            url.expose_secret()
                .parse::<PgConnectOptions>()
                .context("DATABASE_URL is not a valid PostgreSQL URL")?,
        ],
        None => ["postgres", "root"]
            .iter()
            .map(|user| {
                PgConnectOptions::new()
                    .host("127.0.0.1")
                    .port(5432)
                    .username(user)
            })
            .collect(),
    };
    for server in &candidates {
        if let Ok(db) = recreate(server, name).await {
            return Ok(db);
        }
    }
    if settings.database.url.is_some() {
        bail!(
            "cannot reach the PostgreSQL server in DATABASE_URL, or that role may not create databases; \
             the demo needs to create a database named {name}"
        );
    }
    let private = PrivateServer::start()?;
    let server = PgConnectOptions::new()
        .host(&private.socket_dir.display().to_string())
        .port(private.port)
        .username("touchbot");
    let mut db = recreate(&server, name)
        .await
        .context("the private PostgreSQL started but does not accept connections")?;
    db.private = Some(private);
    Ok(db)
}

async fn recreate(server: &PgConnectOptions, name: &str) -> anyhow::Result<DemoDatabase> {
    let admin = server.clone().database("postgres");
    let mut conn = PgConnection::connect_with(&admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop database if exists {name} with (force)"
    )))
    .execute(&mut conn)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let target = server.clone().database(name);
    let shown = format!(
        "{}@{}:{}/{}",
        target.get_username(),
        target.get_host(),
        target.get_port(),
        name
    );
    Ok(DemoDatabase {
        options: target,
        shown,
        private: None,
    })
}

/// A throw-away PostgreSQL cluster in a temporary folder.
struct PrivateServer {
    bin: PathBuf,
    data: PathBuf,
    socket_dir: PathBuf,
    port: u16,
}

impl PrivateServer {
    fn start() -> anyhow::Result<PrivateServer> {
        let bin = find_pg_bin().context(
            "no PostgreSQL is answering on 127.0.0.1:5432 and none is installed here to start; \
             install PostgreSQL (e.g. 'apt-get install postgresql') or set DATABASE_URL",
        )?;
        if is_root() {
            bail!(
                "no PostgreSQL is answering on 127.0.0.1:5432, and a private one cannot be started \
                 as root (PostgreSQL refuses to run as root). Run the demo as a normal user, or \
                 start PostgreSQL and set DATABASE_URL"
            );
        }
        let base = std::env::temp_dir().join(format!("touchbot-demo-pg-{}", std::process::id()));
        let data = base.join("data");
        let socket_dir = base.clone();
        std::fs::create_dir_all(&base)?;
        run(Command::new(bin.join("initdb")).args([
            "-D",
            &data.display().to_string(),
            "-U",
            "touchbot",
            "--auth=trust",
            "--no-sync",
        ]))
        .context("initdb failed")?;
        let port = free_port()?;
        run(Command::new(bin.join("pg_ctl")).args([
            "-D",
            &data.display().to_string(),
            "-o",
            &format!(
                "-p {port} -k {} -c listen_addresses='' -c fsync=off",
                socket_dir.display()
            ),
            "-l",
            &base.join("log").display().to_string(),
            "-w",
            "start",
        ]))
        .context("pg_ctl could not start the private PostgreSQL")?;
        Ok(PrivateServer {
            bin,
            data,
            socket_dir,
            port,
        })
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = Command::new(self.bin.join("pg_ctl"))
            .args(["-D", &self.data.display().to_string(), "-m", "fast", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.socket_dir);
    }
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.output()?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

fn find_pg_bin() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Some(dir);
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    // The uid of the process owning /proc/self, without a libc dependency.
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
