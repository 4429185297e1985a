//! What only the inbound bench needs: its portfolio of WhatsApp contacts with NPS surveys to
//! answer, the real `touchbot serve` as a child process, a Graph API that answers at once,
//! Meta's signed notifications, and the checks of what the service stored.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::PgPool;

pub const APP_SECRET: &str = "bench-app-secret-0123456789abcdef";
const VERIFY_TOKEN: &str = "bench-verify-token";
const ACCESS_TOKEN: &str = "EAAG-bench-token";
const PHONE_NUMBER_ID: &str = "106540352242922";
pub const PATH: &str = "/webhooks/whatsapp";

/// The sender digits of contact `n` (1-based), as WhatsApp writes them: `+7701` and 7 digits.
pub fn number(n: usize) -> String {
    format!("7701{n:07}")
}

/// `accounts` accounts with a CSM, `contacts` WhatsApp contacts spread round-robin over them
/// (contact n belongs to account (n-1) % accounts + 1), and one NPS survey sent to each
/// contact at `sent_at`, waiting for its answer.
pub async fn seed(
    pool: &PgPool,
    accounts: usize,
    contacts: usize,
    sent_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "insert into staff (name, role, telegram_user_id)
         select 'csm-' || g, 'csm', 1000 + g from generate_series(1, 10) g",
    )
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into accounts (name, segment, contract_start, renewal_date, csm_id, locale)
         select 'inbound-' || g, (array['enterprise', 'mid_market', 'smb'])[g % 3 + 1],
                date '2026-01-05' + (g % 60)::int, date '2027-06-05' + (g % 60)::int,
                (select id from staff order by id limit 1 offset g % 10), 'en'
         from generate_series(1, $1) g order by g",
    )
    .bind(accounts as i64)
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into contacts (account_id, name, role, channel, address, created_at)
         select a.id, 'Contact ' || n, (array['decision_maker', 'champion', 'user'])[n % 3 + 1],
                'whatsapp', '+7701' || lpad(n::text, 7, '0'), $3 - interval '60 days'
         from generate_series(1, $1) n
         join accounts a on a.name = 'inbound-' || ((n - 1) % $2 + 1)
         order by n",
    )
    .bind(contacts as i64)
    .bind(accounts as i64)
    .bind(sent_at)
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at, status, sent_at, provider_message_id)
         select c.account_id, 'nps-90@' || c.id, 'nps', 'nps', 'survey', 'nps', c.id,
                $1, 'sent', $1, 'wamid.NPS' || c.id
         from contacts c",
    )
    .bind(sent_at)
    .execute(pool)
    .await?;
    sqlx::query("analyze").execute(pool).await?;
    Ok(())
}

/// The signed notification of reply `n`: contact n answers its survey with a score (0-10 in
/// turn, so a share are detractors) and a reason, as WhatsApp posts it.
pub fn notification(n: usize, timestamp: i64) -> (Vec<u8>, String) {
    let from = number(n);
    let score = n % 11;
    let body = serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": format!("Contact {n}")}, "wa_id": from}],
            "messages": [{"from": from, "id": format!("wamid.BENCH{n}"),
                          "timestamp": timestamp.to_string(), "type": "text",
                          "text": {"body": format!("{score} the onboarding was what we needed")}}]
        }}]}]
    }))
    .expect("a notification is JSON");
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).expect("any key fits");
    mac.update(&body);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    (body, signature)
}

/// A Graph API that accepts every message at once; counts what it was sent.
pub struct GraphApi {
    pub base: String,
    pub sent: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

impl GraphApi {
    pub async fn start() -> anyhow::Result<GraphApi> {
        let sent = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route("/{version}/{number}/messages", post(accept))
            .with_state(sent.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}/v21.0", listener.local_addr()?);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(GraphApi { base, sent, server })
    }
}

impl Drop for GraphApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn accept(
    State(sent): State<Arc<AtomicUsize>>,
    body: axum::Json<Value>,
) -> axum::Json<Value> {
    let n = sent.fetch_add(1, Ordering::Relaxed);
    let to = body["to"].as_str().unwrap_or_default().to_string();
    axum::Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": format!("wamid.ANSWER{n}")}],
    }))
}

/// `touchbot serve` as a child process; killed when dropped, so a failing bench leaves none.
pub struct Serve {
    child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Serve {
    /// Starts the binary on a free port of loopback against `database_url`, receiving WhatsApp
    /// webhooks and answering through `graph`, and waits until `/healthz` says ok.
    /// `connections` is serve's `database.max_connections`, None for its default.
    pub async fn start(
        database_url: &str,
        graph: &GraphApi,
        connections: Option<usize>,
        tag: &str,
    ) -> anyhow::Result<Serve> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let log =
            std::env::temp_dir().join(format!("touchbot-bench-{tag}-{}.log", std::process::id()));
        let file = std::fs::File::create(&log).context("creating the serve log")?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_touchbot"));
        if let Some(n) = connections {
            command.env("TOUCHBOT_DATABASE__MAX_CONNECTIONS", n.to_string());
        }
        let child = command
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env(
                "TOUCHBOT_LOG",
                std::env::var("BENCH_SERVE_LOG").unwrap_or("warn".into()),
            )
            .env("TOUCHBOT_SERVER__HOST", "127.0.0.1")
            .env("TOUCHBOT_SERVER__PORT", port.to_string())
            // No nightly run in the middle of a measurement.
            .env("TOUCHBOT_SCHEDULER__REPLAN_CRON", "0 0 0 1 1 * 2099")
            // Meta's 80 messages/s would pace the answers; the intake is what is measured.
            .env(
                "TOUCHBOT_DISPATCHER__RATE_LIMITS__WHATSAPP__OVERALL_PER_SECOND",
                "0",
            )
            .env(
                "TOUCHBOT_DISPATCHER__RATE_LIMITS__WHATSAPP__PER_CHAT_EVERY_SECONDS",
                "0",
            )
            .env("TOUCHBOT_WHATSAPP__API_URL", &graph.base)
            .env("WHATSAPP_ACCESS_TOKEN", ACCESS_TOKEN)
            .env("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
            .env("WHATSAPP_APP_SECRET", APP_SECRET)
            .env("WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN)
            .env_remove("TELOXIDE_TOKEN")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .context("starting touchbot serve")?;
        let mut serve = Serve { child, addr, log };
        serve.ready().await?;
        Ok(serve)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn ready(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let url = format!("http://{}/healthz", self.addr);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "touchbot serve exited with {status} at start:\n{}",
                    self.log_tail()
                );
            }
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "touchbot serve was not ready within a minute:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last lines serve logged.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// How many warnings and errors serve logged.
    pub fn complaints(&self) -> usize {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .count()
    }

    /// SIGTERM, then up to ten seconds for a clean exit; false when it had to be killed.
    pub async fn stop(&mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Kept when asked for (`BENCH_SERVE_LOG`), to be read.
        if std::env::var_os("BENCH_SERVE_LOG").is_none() {
            let _ = std::fs::remove_file(&self.log);
        } else {
            println!("serve's log: {}", self.log.display());
        }
    }
}

/// Waits until every stored event and every step after a reply is done; the time it took.
pub async fn handled(pool: &PgPool, patience: Duration) -> anyhow::Result<Duration> {
    let start = Instant::now();
    loop {
        let (events, steps): (i64, i64) = sqlx::query_as(
            "select (select count(*) from whatsapp_events where done_at is null),
                    (select count(*) from inbound_followups where done_at is null)",
        )
        .fetch_one(pool)
        .await?;
        if events == 0 && steps == 0 {
            return Ok(start.elapsed());
        }
        if start.elapsed() > patience {
            bail!(
                "after {patience:?}, {events} events and {steps} follow-up steps are still to do"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks that every distinct reply was stored exactly once, answered its survey, was rescored
/// and answered once; prints what was found. False when anything is off.
pub async fn stored_once(pool: &PgPool, replies: usize, graph_sent: usize) -> anyhow::Result<bool> {
    let r = replies as i64;
    let (events, dead): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where kind = 'message'), count(*) filter (where last_error is not null)
         from whatsapp_events",
    )
    .fetch_one(pool)
    .await?;
    let (rows, distinct, answering): (i64, i64, i64) = sqlx::query_as(
        "select count(*), count(distinct provider_message_id),
                count(*) filter (where kind = 'nps' and touch_id is not null and comment is not null)
         from replies",
    )
    .fetch_one(pool)
    .await?;
    let (signals, reassessed): (i64, i64) = sqlx::query_as(
        "select (select count(*) from signals where kind = 'reply'),
                (select count(*) from inbound_followups where step = 'reassess' and done_at is not null)",
    )
    .fetch_one(pool)
    .await?;
    let (scored_accounts, replied_accounts): (i64, i64) = sqlx::query_as(
        "select (select count(distinct account_id) from health_scores where cause = 'reply'),
                (select count(distinct account_id) from replies)",
    )
    .fetch_one(pool)
    .await?;
    let (answers, answers_sent): (i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where status = 'sent') from staff_posts where kind = 'answer'",
    )
    .fetch_one(pool)
    .await?;
    let ok = events == r
        && dead == 0
        && rows == r
        && distinct == r
        && answering == r
        && signals == r
        && reassessed == r
        && scored_accounts == replied_accounts
        && answers >= r
        && answers_sent == answers
        && graph_sent as i64 == answers;
    println!(
        "  stored-once check: {} ({events} message events, {dead} set aside; {rows} replies for \
         {distinct} message ids, {answering} answering their survey with a reason; {signals} \
         reply signals; {reassessed} reassessments, {scored_accounts} of {replied_accounts} \
         accounts rescored; {answers_sent} of {answers} answers sent, {graph_sent} reached \
         WhatsApp; expected {r} of each)",
        if ok { "PASSED" } else { "FAILED" },
    );
    Ok(ok)
}
