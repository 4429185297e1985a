//! Sending bounded by the platforms, not by our code: the real dispatcher loop, with the real
//! Telegram and WhatsApp adapters, against local fakes of the Bot API and the Graph API that
//! enforce the platforms' published limits with their own "slow down" answers.
//!
//! - Telegram: 30 messages/s per bot, one per second per chat (429 with `retry_after`).
//! - WhatsApp: 80 messages/s per number (130429), one per 6 s per recipient (131056).
//!
//! For each platform it seeds `BENCH_PACE_TOUCHES` (default 10000) due touches to
//! `BENCH_PACE_CHATS` (default 5000) chats in a throw-away database (on the server of
//! `DATABASE_URL`). A chat's touches are due one right after the other, as after an outage:
//! the case where a worker waiting for one chat's gap would hold up all the others. It runs
//! `run_dispatcher` with `BENCH_PACE_WORKERS` (default 4, the shipped `dispatcher.workers`)
//! until every touch is sent, and prints how many were sent, how long it took, the rate beside
//! the platform's, the share of the fastest run the limits allow, the number of rate-limit
//! answers drawn, and whether every touch arrived exactly once and in order per chat.
//! `BENCH_PACE_PLATFORMS` (default `telegram,whatsapp`) picks the platforms;
//! `BENCH_PACE_PROFILE=1` also prints how many went out in each second.
//!
//! Run with `cargo bench --bench pace` (10,000 touches: about 6 minutes for Telegram, 2 for
//! WhatsApp). Under `cargo test` it runs 20 touches to 10 chats per platform.

mod support;

#[allow(dead_code)]
#[path = "../tests/support/platform_limits.rs"]
mod platform_limits;

#[allow(dead_code)]
#[path = "../tests/support/fake_telegram.rs"]
mod fake_telegram;

#[allow(dead_code)]
#[path = "../tests/support/fake_whatsapp.rs"]
mod fake_whatsapp;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use support::{Scratch, benchmarking, env_usize, peak_rss_mib};
use touchbot::channel::ratelimit::RateLimits;
use touchbot::channel::{Channel, Channels};
use touchbot::domain::TouchKind;
use touchbot::outbound::dispatcher::{
    DispatcherConfig, Render, Rendered, TouchToSend, run_dispatcher,
};
use touchbot::telegram::channel::TelegramChannel;
use touchbot::whatsapp::channel::WhatsAppChannel;
use touchbot::whatsapp::settings::WhatsAppSettings;

use fake_telegram::FakeTelegram;
use fake_whatsapp::FakeWhatsApp;
use platform_limits::Limits;

/// The touch's key is the whole message, so what arrived can be matched to what was due.
struct TouchKey;

impl Render for TouchKey {
    fn render(&self, touch: &TouchToSend) -> anyhow::Result<Rendered> {
        Ok(Rendered {
            text: touch.touch_key.clone(),
            ..Rendered::default()
        })
    }
}

/// The sizes of one run.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    touches: usize,
    chats: usize,
    workers: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Platform {
    Telegram,
    Whatsapp,
}

impl Platform {
    fn name(self) -> &'static str {
        match self {
            Platform::Telegram => "telegram",
            Platform::Whatsapp => "whatsapp",
        }
    }

    fn limits(self) -> Limits {
        match self {
            Platform::Telegram => Limits::telegram(),
            Platform::Whatsapp => Limits::whatsapp(),
        }
    }

    /// Chat `n`'s address as a contact holds it.
    fn address(self, n: usize) -> String {
        match self {
            Platform::Telegram => (100_000_000 + n).to_string(),
            Platform::Whatsapp => format!("+7701{:07}", n),
        }
    }
}

/// One contact (one chat) per account; touch `i` goes to chat `i * chats / touches`, so a
/// chat's touches are neighbours in the queue; all due by `now`, in the order of `i` (which
/// is also their ids' order: a claimed batch goes out in id order).
async fn seed(pool: &PgPool, p: Platform, s: Sizes, now: DateTime<Utc>) -> anyhow::Result<()> {
    let addresses: Vec<String> = (0..s.chats).map(|n| p.address(n)).collect();
    sqlx::query(
        "insert into accounts (name, segment, contract_start, renewal_date)
         select 'pace-' || n, 'smb', date '2026-01-01', date '2027-01-01'
         from generate_series(0, $1 - 1) n",
    )
    .bind(s.chats as i64)
    .execute(pool)
    .await?;
    // The client wrote an hour ago: WhatsApp's 24-hour window is open, free text may go.
    sqlx::query(
        "insert into contacts (account_id, name, role, channel, address, last_inbound_at)
         select a.id, 'chat-' || a.id, 'champion', $1, addr, $3 - interval '1 hour'
         from unnest($2::text[]) with ordinality as t(addr, n)
         join accounts a on a.name = 'pace-' || (t.n - 1)",
    )
    .bind(p.name())
    .bind(&addresses)
    .bind(now)
    .execute(pool)
    .await?;
    let kind = TouchKind::Welcome;
    sqlx::query(
        "insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at)
         select c.account_id, 'pace-' || g, $2, $2, $3, $2, c.id,
                $4 - interval '1 hour' + make_interval(secs => g / 1000.0)
         from generate_series(0, $1 - 1) g
         join accounts a on a.name = 'pace-' || (g * $5 / $1)
         join contacts c on c.account_id = a.id
         order by g",
    )
    .bind(s.touches as i64)
    .bind(kind.as_str())
    .bind(kind.category().as_str())
    .bind(now)
    .bind(s.chats as i64)
    .execute(pool)
    .await?;
    Ok(())
}

/// A fake of the platform enforcing its limits, and the real adapter pointed at it.
enum Fake {
    Telegram(FakeTelegram),
    Whatsapp(FakeWhatsApp),
}

impl Fake {
    async fn start(p: Platform, pool: &PgPool) -> anyhow::Result<(Fake, Arc<dyn Channel>)> {
        Ok(match p {
            Platform::Telegram => {
                let fake = FakeTelegram::start().await;
                fake.enforce(p.limits());
                let channel = Arc::new(TelegramChannel::new(fake.bot(), pool.clone()));
                (Fake::Telegram(fake), channel)
            }
            Platform::Whatsapp => {
                let fake = FakeWhatsApp::start().await;
                fake.enforce(p.limits());
                let mut settings = WhatsAppSettings {
                    api_url: fake.url().to_string(),
                    ..Default::default()
                };
                settings.access_token = Some(fake_whatsapp::TOKEN.into());
                settings.phone_number_id = Some(fake_whatsapp::PHONE_NUMBER_ID.into());
                let channel = WhatsAppChannel::from_settings(&settings)?
                    .context("the WhatsApp channel needs its token and number")?;
                (Fake::Whatsapp(fake), Arc::new(channel))
            }
        })
    }

    fn rate_limited(&self) -> usize {
        match self {
            Fake::Telegram(f) => f.rate_limited(),
            Fake::Whatsapp(f) => f.rate_limited(),
        }
    }

    /// What each chat received, as (address as a contact holds it, text), in arrival order.
    fn received(&self) -> Vec<(String, String)> {
        match self {
            Fake::Telegram(f) => {
                let mut all = Vec::new();
                for call in f.calls("sendMessage") {
                    let (Some(chat), Some(text)) =
                        (call.body["chat_id"].as_i64(), call.body["text"].as_str())
                    else {
                        continue;
                    };
                    if call.body.get("result").is_some() {
                        all.push((chat.to_string(), text.to_string()));
                    }
                }
                all
            }
            Fake::Whatsapp(f) => f
                .sent()
                .into_iter()
                .map(|m| (format!("+{}", m.to), m.text))
                .collect(),
        }
    }
}

/// Runs the dispatcher until every touch left the queue, or `patience` ran out.
async fn dispatch(
    pool: &PgPool,
    channel: Arc<dyn Channel>,
    s: Sizes,
    patience: Duration,
) -> anyhow::Result<DateTime<Utc>> {
    let config = DispatcherConfig {
        workers: s.workers,
        rate_limits: RateLimits::default(),
        ..DispatcherConfig::default()
    };
    let channels = Arc::new(Channels::new(config.rate_limits.clone()).with(channel));
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let started = Utc::now();
    let running = tokio::spawn(run_dispatcher(
        pool.clone(),
        channels,
        Arc::new(TouchKey),
        config,
        "pace".into(),
        shutdown,
        None,
    ));
    let deadline = Instant::now() + patience;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let left: i64 = sqlx::query_scalar(
            "select count(*) from touches where status in ('planned', 'claimed', 'sending')",
        )
        .fetch_one(pool)
        .await?;
        if left == 0 {
            break;
        }
    }
    stop.send_replace(true);
    running.await??;
    Ok(started)
}

/// Prints one platform's figures; true when every touch arrived once, in order, unrefused.
async fn run(p: Platform, s: Sizes) -> anyhow::Result<bool> {
    let (scratch, pool) = Scratch::create(&format!("pace_{}", p.name())).await?;
    let outcome = measure(&pool, p, s).await;
    scratch.drop_now(pool).await?;
    outcome
}

async fn measure(pool: &PgPool, p: Platform, s: Sizes) -> anyhow::Result<bool> {
    let limits = p.limits();
    let overall = limits
        .overall
        .expect("both platforms limit the overall rate");
    let per_chat = limits.per_chat.expect("both platforms limit each chat");
    seed(pool, p, s, Utc::now()).await?;
    println!(
        "{}: {} touches to {} chats, {} workers; the fake allows {} messages/s and one per {:.0} s \
         per chat",
        p.name(),
        s.touches,
        s.chats,
        s.workers,
        overall.max,
        per_chat.period.as_secs_f64(),
    );
    let (fake, channel) = Fake::start(p, pool).await?;
    // The fastest the limits allow: a window's worth at once, then one window per `max`; and
    // a chat's touches one gap apart.
    let per_chat_most = s.touches.div_ceil(s.chats);
    let fastest = (overall.period.as_secs_f64() * ((s.touches - 1) / overall.max) as f64)
        .max(per_chat.period.as_secs_f64() * (per_chat_most - 1) as f64);
    let patience = Duration::from_secs_f64(fastest * 3.0 + 60.0);
    let started = dispatch(pool, channel, s, patience).await?;

    let (sent, last): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "select count(*) filter (where status = 'sent' and provider_message_id is not null),
                max(sent_at)
         from touches",
    )
    .fetch_one(pool)
    .await?;
    let elapsed = last
        .map_or(0.0, |l| (l - started).as_seconds_f64())
        .max(1e-3);
    let rate = sent as f64 / elapsed;
    println!(
        "  sent {sent} in {elapsed:.1} s: {rate:.1}/s against the allowed {}/s ({:.3}); the \
         fastest the limits allow is {fastest:.1} s ({:.3} of it)",
        overall.max,
        rate / overall.max as f64,
        fastest / elapsed,
    );
    let refused = fake.rate_limited();
    println!("  rate-limit answers drawn: {refused}");
    if std::env::var_os("BENCH_PACE_PROFILE").is_some() {
        profile(pool, started).await?;
    }
    let ok = exactly_once_in_order(pool, &fake, s).await? && refused == 0;
    Ok(ok && sent == s.touches as i64)
}

/// How many went out in each second of the run (`BENCH_PACE_PROFILE`), to see where the
/// allowance went unused.
async fn profile(pool: &PgPool, started: DateTime<Utc>) -> anyhow::Result<()> {
    let seconds: Vec<(i64, i64)> = sqlx::query_as(
        "select floor(extract(epoch from sent_at - $1))::int8, count(*)
           from touches where sent_at is not null group by 1 order by 1",
    )
    .bind(started)
    .fetch_all(pool)
    .await?;
    let line: Vec<String> = seconds.iter().map(|(s, n)| format!("{s}:{n}")).collect();
    println!("  sent per second: {}", line.join(" "));
    Ok(())
}

/// Every touch arrived once, each chat's in the order they were due, and every row is `sent`.
async fn exactly_once_in_order(pool: &PgPool, fake: &Fake, s: Sizes) -> anyhow::Result<bool> {
    let due: Vec<(String, String)> = sqlx::query_as(
        "select c.address, t.touch_key from touches t join contacts c on c.id = t.contact_id
         order by t.due_at, t.id",
    )
    .fetch_all(pool)
    .await?;
    let mut expected: HashMap<String, Vec<String>> = HashMap::new();
    for (chat, key) in due {
        expected.entry(chat).or_default().push(key);
    }
    let received = fake.received();
    let mut got: HashMap<String, Vec<String>> = HashMap::new();
    for (chat, text) in &received {
        got.entry(chat.clone()).or_default().push(text.clone());
    }
    let wrong: Vec<_> = expected
        .iter()
        .filter(|(chat, keys)| got.get(*chat) != Some(*keys))
        .collect();
    if let Some((chat, keys)) = wrong.first() {
        println!(
            "  chat {chat} was due {keys:?} and got {:?}",
            got.get(*chat)
        );
    }
    let out_of_line = wrong.len();
    let ok = received.len() == s.touches && out_of_line == 0;
    println!(
        "  exactly once, in order per chat: {} ({} messages arrived for {} touches; {} chats \
         got something else than their touches in order)",
        if ok { "PASSED" } else { "FAILED" },
        received.len(),
        s.touches,
        out_of_line,
    );
    Ok(ok)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let touches = env_usize("BENCH_PACE_TOUCHES", 10_000).max(1);
    // Under `cargo test`, two touches per chat, so the chat's gap is exercised in seconds.
    let chats = env_usize("BENCH_PACE_CHATS", if benchmarking() { 5_000 } else { 10 });
    let sizes = Sizes {
        touches,
        chats: chats.clamp(1, touches),
        workers: env_usize("BENCH_PACE_WORKERS", DispatcherConfig::default().workers).max(1),
    };
    let platforms =
        std::env::var("BENCH_PACE_PLATFORMS").unwrap_or_else(|_| "telegram,whatsapp".into());
    println!("pace bench: {sizes:?}, platforms {platforms}");
    let mut all_ok = true;
    for name in platforms.split(',').map(str::trim) {
        let p = match name {
            "telegram" => Platform::Telegram,
            "whatsapp" => Platform::Whatsapp,
            other => anyhow::bail!("BENCH_PACE_PLATFORMS: unknown platform {other:?}"),
        };
        all_ok &= run(p, sizes).await?;
    }
    if let Some(mib) = peak_rss_mib() {
        println!("peak RSS (VmHWM): {mib:.1} MiB");
    }
    if !all_ok {
        anyhow::bail!("a touch was refused, lost, doubled or out of order (see above)");
    }
    Ok(())
}
