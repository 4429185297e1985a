//! The fault suite: the real `touchbot` binary, run as a child process against the fake Bot
//! API (and, for one wave, the fake Graph API of WhatsApp) and a real PostgreSQL, is killed, stopped, cut off from its database and fed broken
//! answers and repeated webhook deliveries, and must still lose nothing and send nothing twice.
//!
//! Sizes come from the environment so CI stays quick and longer runs stay possible:
//! `FAULT_WAVE` (touches per wave, 60), `FAULT_KILLS` (3), `FAULT_OUTAGE_SECS` (5),
//! `FAULT_WEBHOOK_UPDATES` (150) and proptest's own `PROPTEST_CASES`.

#[path = "../common/mod.rs"]
mod common;
#[path = "../support/mod.rs"]
mod support;

mod ambiguous;
mod outage;
mod process;
mod props;
mod signals;
mod webhook;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use sqlx::PgPool;
use touchbot::domain::AccountId;

use support::fake_telegram::FakeTelegram;
use support::fake_whatsapp::FakeWhatsApp;

/// A fake chat platform as the fault tests count it: messages received per address, in the
/// form the contacts' addresses take (a Telegram chat id; WhatsApp's E.164 digits).
// Only this test crate implements it and awaits it in place; no bound on the future is needed.
#[allow(async_fn_in_trait)]
pub trait Platform {
    fn received(&self) -> HashMap<String, usize>;

    fn received_total(&self) -> usize {
        self.received().values().sum()
    }

    /// Returns as soon as `n` messages have arrived in all, or fails the test. Polled often:
    /// a kill meant for the middle of a wave must not land after its end.
    async fn wait_received(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while self.received_total() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up waiting for {n} messages sent"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Platform for FakeTelegram {
    fn received(&self) -> HashMap<String, usize> {
        self.sent_per_chat()
            .into_iter()
            .map(|(chat, n)| (chat.to_string(), n))
            .collect()
    }

    async fn wait_received(&self, n: usize) {
        self.wait_for(&format!("{n} messages sent"), PATIENCE, |f| {
            f.sent_total() >= n
        })
        .await;
    }
}

impl Platform for FakeWhatsApp {
    fn received(&self) -> HashMap<String, usize> {
        self.sent_per_recipient()
    }
}

/// Sends handed to Telegram at the same time by one process.
pub const WORKERS: usize = 4;

/// Touches claimed per batch. A batch is marked `sending` in one statement before any of its
/// sends and one batch is marked at a time, so this is the most sends a crash can leave
/// `sending` (and so `unknown`).
pub const BATCH: usize = 8;

/// How long a test waits for the program to do something before it fails saying what: long
/// enough for a loaded 2-core machine and for leases of crashed processes to expire.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// A size from the environment, or its default.
pub fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// The chat of the `i`-th contact of a wave.
pub fn chat(i: usize) -> i64 {
    700_000 + i as i64
}

/// The WhatsApp number of the `i`-th contact of a wave, as stored (E.164).
pub fn number(i: usize) -> String {
    format!("+7701{:07}", i)
}

/// One account with `n` contacts who joined on Telegram (chats `chat(0)`…), each with one touch
/// of `kind` due a minute ago.
pub async fn seed_wave(pool: &PgPool, n: usize, kind: &str) -> AccountId {
    let account = common::account(pool, "Wave").await;
    let due = Utc::now() - TimeDelta::minutes(1);
    for i in 0..n {
        let contact = common::contact_on(pool, account, "telegram", &chat(i).to_string()).await;
        common::touch(pool, account, contact, &format!("{kind}-{i}"), kind, due).await;
    }
    account
}

/// As [`seed_wave`], with contacts on WhatsApp (numbers `number(0)`…) who wrote a minute ago,
/// so their 24-hour window is open and the touches go as free text.
pub async fn seed_whatsapp_wave(pool: &PgPool, n: usize, kind: &str) -> AccountId {
    let account = common::account(pool, "Wave").await;
    let due = Utc::now() - TimeDelta::minutes(1);
    for i in 0..n {
        let contact = common::contact_on(pool, account, "whatsapp", &number(i)).await;
        common::wrote_at(pool, contact, due).await;
        common::touch(pool, account, contact, &format!("{kind}-{i}"), kind, due).await;
    }
    account
}

/// Each touch's address (a chat id, or a number's digits without its `+`) and status.
pub async fn outbox(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query!(
        "select c.address as \"address!\", t.status from touches t
           join contacts c on c.id = t.contact_id order by t.id"
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.address.trim_start_matches('+').to_string(), r.status))
    .collect()
}

/// Touches a worker still has to finish (or a crash left for the rescue to take back).
pub async fn pending(pool: &PgPool) -> i64 {
    sqlx::query_scalar!(
        "select count(*) as \"n!\" from touches where status in ('planned', 'claimed', 'sending')"
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Each chat's NPS answers, as (chat, score), in the order stored.
pub async fn answers(pool: &PgPool) -> Vec<(i64, Option<i16>)> {
    sqlx::query!(
        "select c.address as \"address!\", r.score from replies r
           join contacts c on c.id = r.contact_id
          where r.kind = 'nps' order by r.id"
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.address.parse().unwrap(), r.score))
    .collect()
}

/// Polls `check` until it holds, or fails the test naming `what`.
pub async fn eventually<F: AsyncFn() -> bool>(what: &str, check: F) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Chats among the first `clients` the bot has sent fewer than `n` messages.
pub fn short_of(fake: &FakeTelegram, clients: usize, n: usize) -> Vec<i64> {
    let sent = fake.sent_per_chat();
    (0..clients)
        .map(chat)
        .filter(|c| sent.get(c).copied().unwrap_or(0) < n)
        .collect()
}

/// Waits until every touch of the wave is finished: sent, or left `unknown` for a person.
pub async fn wave_settled(pool: &PgPool) {
    eventually("every touch to be sent or settled", async || {
        pending(pool).await == 0
    })
    .await;
}

/// What holds after a wave, whatever was done to the program: every touch was sent once or is
/// `unknown` (asked of a person, never resent blindly), no chat got its message twice, and no
/// more sends are `unknown` than `in_flight` allows.
pub async fn assert_nothing_lost_nothing_twice(
    pool: &PgPool,
    fake: &impl Platform,
    in_flight: usize,
) {
    let touches = outbox(pool).await;
    let received = fake.received();
    let mut unknown = 0;
    for (chat, status) in &touches {
        let got = received.get(chat).copied().unwrap_or(0);
        match status.as_str() {
            "sent" => assert_eq!(got, 1, "chat {chat}: sent, and received {got} messages"),
            "unknown" => {
                unknown += 1;
                assert!(
                    got <= 1,
                    "chat {chat}: unknown, yet received {got} messages"
                );
            }
            other => panic!("chat {chat}: the touch ended '{other}', not sent"),
        }
    }
    let twice: HashMap<_, _> = received.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "chats that got a message twice: {twice:?}"
    );
    assert!(
        unknown <= in_flight,
        "{unknown} sends left unknown, more than the {in_flight} that can have been in flight"
    );
    // For longer runs: what the faults did to this wave.
    eprintln!(
        "{} touches: {} sent, {unknown} unknown",
        touches.len(),
        touches.len() - unknown
    );
}

/// Every one of the first `clients` chats answered its survey "9 great support": the score is
/// stored once, and the client saw the survey and one thank-you (at most one, unless
/// `thanked`: exactly one).
pub async fn assert_each_answered_once(
    pool: &PgPool,
    fake: &FakeTelegram,
    clients: usize,
    thanked: bool,
) {
    let stored = answers(pool).await;
    for i in 0..clients {
        let theirs: Vec<_> = stored.iter().filter(|(c, _)| *c == chat(i)).collect();
        assert_eq!(
            theirs,
            [&(chat(i), Some(9))],
            "chat {}: its answer, stored once",
            chat(i)
        );
        let messages: Vec<String> = fake.sent_to(chat(i)).into_iter().map(|m| m.text).collect();
        let expected = if thanked { 2..=2 } else { 1..=2 };
        assert!(
            expected.contains(&messages.len()),
            "chat {}: one survey and one thank-you, got {messages:?}",
            chat(i)
        );
    }
    assert_eq!(stored.len(), clients, "answers recorded: {stored:?}");
}

/// Every one of the first `clients` chats answered its survey once and saw one thank-you,
/// except where the thank-you was on its way when the program died: that one is left
/// `unknown` (or `sending` until its lease runs out), never sent again; no more of those than
/// `in_flight`.
pub async fn assert_each_thanked_once(
    pool: &PgPool,
    fake: &FakeTelegram,
    clients: usize,
    in_flight: usize,
) {
    assert_each_answered_once(pool, fake, clients, false).await;
    let cut_short: Vec<i64> = sqlx::query_scalar!(
        r#"select c.address as "address!" from staff_posts p
             join contacts c on c.id = p.contact_id
            where p.kind = 'answer' and p.status in ('sending', 'unknown') order by p.id"#
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|a| a.parse().unwrap())
    .collect();
    for i in 0..clients {
        let got = fake.sent_to(chat(i)).len();
        if !cut_short.contains(&chat(i)) {
            assert_eq!(got, 2, "chat {}: one survey and one thank-you", chat(i));
        }
    }
    assert!(
        cut_short.len() <= in_flight,
        "thank-yous cut short: {cut_short:?}, more than the {in_flight} that can have been in flight"
    );
}
