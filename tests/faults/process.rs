//! `touchbot serve` as a child process, configured as an operator would: a configuration file,
//! `DATABASE_URL`, `TELOXIDE_TOKEN` and `TELOXIDE_API_URL` pointing at the fake, and in webhook
//! mode `TELEGRAM_WEBHOOK_SECRET`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};

use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::support::fake_telegram::{BOT_USERNAME, FakeTelegram, TOKEN};
use crate::support::fake_whatsapp;
use crate::{BATCH, PATIENCE, WORKERS};

pub const WEBHOOK_PATH: &str = "/telegram/hook";
pub const WEBHOOK_SECRET: &str = "fault_suite-secret";

/// How the program is set up for one test.
#[derive(Debug, Clone)]
pub struct Options {
    pub lease_seconds: u64,
    pub backoff_base_seconds: u64,
    pub webhook: bool,
    /// The Graph API base of a fake WhatsApp to send through, beside Telegram.
    pub whatsapp_api: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            // Short, so touches a killed process held come back quickly; long enough that a
            // live batch on a loaded machine keeps its lease.
            lease_seconds: 10,
            backoff_base_seconds: 1,
            webhook: false,
            whatsapp_api: None,
        }
    }
}

/// Everything needed to start the program again and again on one test's database.
pub struct Touchbot {
    database_url: String,
    api_url: String,
    options: Options,
    dir: PathBuf,
    starts: usize,
    /// The same on every start, as behind a load balancer: a client keeps the address.
    port: u16,
}

impl Drop for Touchbot {
    fn drop(&mut self) {
        // FAULT_KEEP_LOGS keeps each run's configuration and log for a look afterwards.
        if std::env::var_os("FAULT_KEEP_LOGS").is_some() {
            eprintln!("touchbot's logs are in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The name of the test's own database.
pub fn database_name(pool: &PgPool) -> String {
    pool.connect_options()
        .get_database()
        .expect("the test database has a name")
        .to_string()
}

/// Where the test's PostgreSQL listens.
pub fn database_addr(pool: &PgPool) -> SocketAddr {
    use std::net::ToSocketAddrs;
    let options = pool.connect_options();
    (options.get_host(), options.get_port())
        .to_socket_addrs()
        .unwrap()
        .next()
        .expect("the database's host resolves")
}

impl Touchbot {
    /// The program on the test's database, reached at `db_addr` (PostgreSQL or a proxy to it).
    pub fn new(pool: &PgPool, db_addr: SocketAddr, fake: &FakeTelegram, options: Options) -> Self {
        let db = database_name(pool);
        let dir = std::env::temp_dir().join(format!("touchbot-faults-{db}"));
        std::fs::create_dir_all(&dir).unwrap();
        Touchbot {
            database_url: format!("postgres://postgres@{db_addr}/{db}"),
            api_url: fake.url().to_string(),
            options,
            dir,
            starts: 0,
            port: free_port(),
        }
    }

    /// Where the program answers, on every start.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn config(&self, port: u16) -> String {
        let o = &self.options;
        let webhook = if o.webhook {
            // A claim held by a killed instance lapses well within the test's patience.
            format!(
                "webhook_url = \"https://bot.example.com{WEBHOOK_PATH}\"\nwebhook_claim_seconds = 3\n"
            )
        } else {
            String::new()
        };
        let whatsapp = match &o.whatsapp_api {
            Some(url) => format!(
                "\n[dispatcher.rate_limits.whatsapp]\noverall_per_second = 0\n\
                 per_chat_every_seconds = 0.0\n\n[whatsapp]\napi_url = \"{url}\"\n"
            ),
            None => String::new(),
        };
        format!(
            "[server]\nhost = \"127.0.0.1\"\nport = {port}\n\n\
             [dispatcher]\nworkers = {WORKERS}\nbatch_size = {BATCH}\nlease_seconds = {}\n\
             poll_interval_seconds = 1\nbackoff_base_seconds = {}\nbackoff_max_seconds = 5\n\n\
             [dispatcher.rate_limits.telegram]\noverall_per_second = 0\nper_chat_every_seconds = 0.0\n\n\
             [scheduler]\nrescue_cron = \"* * * * * *\"\nreplan_cron = \"0 0 0 1 1 * 2099\"\n\n\
             [telegram]\nbot_username = \"{BOT_USERNAME}\"\npoll_timeout_seconds = 1\n{webhook}{whatsapp}",
            o.lease_seconds, o.backoff_base_seconds,
        )
    }

    /// Starts `touchbot serve` and waits until its health endpoint answers.
    pub async fn start(&mut self) -> Running {
        self.starts += 1;
        let port = self.port;
        let config = self.dir.join(format!("touchbot-{}.toml", self.starts));
        std::fs::write(&config, self.config(port)).unwrap();
        let log = self.dir.join(format!("serve-{}.log", self.starts));
        let mut command = Command::new(env!("CARGO_BIN_EXE_touchbot"));
        command
            .arg("serve")
            .env("DATABASE_URL", &self.database_url)
            .env("TOUCHBOT_CONFIG", &config)
            .env("TOUCHBOT_LOG", "info")
            .env("RUST_LIB_BACKTRACE", "0")
            .env("NO_COLOR", "1")
            .env("TELOXIDE_TOKEN", TOKEN)
            .env("TELOXIDE_API_URL", &self.api_url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true);
        if self.options.whatsapp_api.is_some() {
            command
                .env("WHATSAPP_ACCESS_TOKEN", fake_whatsapp::TOKEN)
                .env("WHATSAPP_PHONE_NUMBER_ID", fake_whatsapp::PHONE_NUMBER_ID);
        } else {
            command
                .env_remove("WHATSAPP_ACCESS_TOKEN")
                .env_remove("WHATSAPP_PHONE_NUMBER_ID");
        }
        if self.options.webhook {
            command.env("TELEGRAM_WEBHOOK_SECRET", WEBHOOK_SECRET);
        } else {
            command.env_remove("TELEGRAM_WEBHOOK_SECRET");
        }
        let child = command.spawn().expect("the touchbot binary starts");
        let mut running = Running {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        };
        running.wait_healthy().await;
        running
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// One run of `touchbot serve`.
pub struct Running {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Running {
    /// The program's log so far, for a failure message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_healthy(&mut self) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("touchbot serve exited at start ({status}):\n{}", self.log());
            }
            if let Ok((200, _)) = http(self.addr, "GET", "/healthz", &[], b"").await {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "touchbot serve never became healthy:\n{}",
                self.log()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: no chance to finish anything.
    pub async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// SIGTERM, as an orchestrator stops a container, and waits for the exit.
    pub async fn terminate(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().expect("still running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM {pid} failed");
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("touchbot serve stops after SIGTERM")
            .unwrap();
        (status, self.log())
    }
}

/// A bare HTTP/1.1 request: (status code, body).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {head:?}")))?;
    Ok((status, body.to_string()))
}

/// Posts `body` to the webhook as Telegram does, with the secret header: the status code.
pub async fn post_update(addr: SocketAddr, body: &[u8]) -> std::io::Result<u16> {
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Telegram-Bot-Api-Secret-Token", WEBHOOK_SECRET),
    ];
    Ok(http(addr, "POST", WEBHOOK_PATH, &headers, body).await?.0)
}
