//! Webhook mode under Telegram's at-least-once delivery: every update arrives three times at
//! once, many chats in parallel, and each chat's next update only after one delivery of the
//! previous one was acknowledged (as Telegram moves on once it gets a 200).

use std::time::Duration;

use sqlx::PgPool;
use tokio::task::JoinSet;

use crate::process::{Options, Touchbot, database_addr, post_update};
use crate::support::fake_telegram::{FakeTelegram, text_update};
use crate::{PATIENCE, chat, common, eventually, size};

/// Updates per chat.
const PER_CHAT: usize = 5;
/// Deliveries of each update.
const COPIES: usize = 3;

/// Delivers one update until some copy of it is acknowledged; Telegram retries a non-2xx.
async fn deliver(addr: std::net::SocketAddr, body: String) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let mut copies = JoinSet::new();
        for _ in 0..COPIES {
            let body = body.clone();
            copies.spawn(async move { post_update(addr, body.as_bytes()).await });
        }
        let codes: Vec<_> = copies.join_all().await;
        if codes.iter().any(|c| matches!(c, Ok(200))) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no delivery of {body} was acknowledged: {codes:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Each chat's stored texts, in the order they were stored.
async fn stored_texts(pool: &PgPool) -> Vec<(i64, String)> {
    sqlx::query!(
        "select c.address as \"address!\", r.body from replies r
           join contacts c on c.id = r.contact_id order by r.id"
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.address.parse().unwrap(), r.body))
    .collect()
}

/// Delivers every update as Telegram would; with `crash`, SIGKILLs the program once a third
/// of them are stored and starts it again on the same address. Returns the number of chats.
async fn flood(pool: &PgPool, crash: bool) -> usize {
    let updates = size("FAULT_WEBHOOK_UPDATES", 150);
    let chats = updates.div_ceil(PER_CHAT);
    let fake = FakeTelegram::start().await;
    let account = common::account(pool, "Webhook").await;
    for i in 0..chats {
        common::contact_on(pool, account, "telegram", &chat(i).to_string()).await;
    }
    let options = Options {
        webhook: true,
        ..Options::default()
    };
    let mut touchbot = Touchbot::new(pool, database_addr(pool), &fake, options);
    let mut running = touchbot.start().await;
    fake.wait_for("the webhook to be set", PATIENCE, |f| {
        !f.calls("setWebhook").is_empty()
    })
    .await;

    let addr = touchbot.addr();
    let mut senders = JoinSet::new();
    for i in 0..chats {
        senders.spawn(async move {
            for n in 0..PER_CHAT {
                // Update ids grow with time, as Telegram's do.
                let id = (n * chats + i + 1) as i64;
                let text = format!("note {n}");
                deliver(addr, text_update(id, chat(i), &text).to_string()).await;
            }
        });
    }
    if crash {
        let third = chats * PER_CHAT / 3;
        eventually("a third of the updates to be stored", async || {
            stored_texts(pool).await.len() >= third
        })
        .await;
        running.kill().await;
        running = touchbot.start().await;
    }
    senders.join_all().await;
    let alive = running.alive();
    let log = running.log();
    running.kill().await;
    assert!(alive, "serve died:\n{log}");
    chats
}

/// Every update stored once, each chat's in the order they were sent.
async fn assert_each_once_in_order(pool: &PgPool, chats: usize) {
    let stored = stored_texts(pool).await;
    assert_eq!(stored.len(), chats * PER_CHAT, "each update is stored once");
    let expected: Vec<String> = (0..PER_CHAT).map(|n| format!("note {n}")).collect();
    for i in 0..chats {
        let theirs: Vec<String> = stored
            .iter()
            .filter(|(c, _)| *c == chat(i))
            .map(|(_, text)| text.clone())
            .collect();
        assert_eq!(theirs, expected, "chat {}: stored out of order", chat(i));
    }
}

#[sqlx::test]
async fn repeated_parallel_webhook_deliveries_are_each_handled_once_in_each_chats_order(
    pool: PgPool,
) {
    let chats = flood(&pool, false).await;

    assert_each_once_in_order(&pool, chats).await;
}

#[sqlx::test]
async fn a_webhook_update_cut_off_by_a_crash_is_handled_when_delivered_again(pool: PgPool) {
    let chats = flood(&pool, true).await;

    assert_each_once_in_order(&pool, chats).await;
}
