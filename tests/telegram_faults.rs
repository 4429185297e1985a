//! The Telegram adapter under faults, end to end: the real teloxide client against the fake
//! Bot API, a real database (behind a TCP proxy the test controls, where an outage is needed).
//! Updates are neither lost to a database outage nor confirmed before they were handled; an
//! update that keeps failing is set aside and can be replayed; webhook mode checks the secret
//! first and hands an update claimed by a dead instance to the next delivery.

mod support;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::net::TcpListener;
use touchbot::channel::Channels;
use touchbot::channel::ratelimit::{ChannelLimit, RateLimits};
use touchbot::config::Settings;
use touchbot::inbound::dead_letters;
use touchbot::messages::Messages;
use touchbot::telegram::settings::Secret;

use support::bot::run_bot;
use support::fake_telegram::{BOT_USERNAME, FakeTelegram, TOKEN, text_update};
use support::tcp_proxy::behind_a_proxy;

fn settings() -> Settings {
    let mut s = Settings::default();
    s.telegram.bot_username = Some(BOT_USERNAME.into());
    s.telegram.poll_timeout_seconds = 1;
    s.dispatcher.rate_limits = RateLimits {
        telegram: ChannelLimit::unlimited(),
        whatsapp: ChannelLimit::unlimited(),
        simulated: ChannelLimit::unlimited(),
    };
    s
}

/// A Telegram contact of a new account, in private chat `chat`.
async fn contact(pool: &PgPool, name: &str, chat: i64) -> i64 {
    let account = sqlx::query_scalar!(
        "insert into accounts (name, segment, contract_start) values ($1, 'smb', current_date)
         returning id",
        format!("{name}'s company")
    )
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query_scalar!(
        "insert into contacts (account_id, name, role, channel, address)
         values ($1, $2, 'champion', 'telegram', $3) returning id",
        account,
        name,
        chat.to_string()
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn replies_from(pool: &PgPool, contact: i64) -> i64 {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from replies where contact_id = $1"#,
        contact
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn a_message_sent_while_the_database_is_down_is_kept_and_answered_once_it_is_back(
    pool: PgPool,
) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let dana = contact(&pool, "Dana", 6101).await;
    let (proxy, proxied) = behind_a_proxy(&pool).await;
    let bot = run_bot(&proxied, &fake, &settings);
    // The outage starts while the bot waits for updates, as it does most of the time.
    fake.hold("getUpdates");
    fake.wait_until("the bot to poll", |f| f.held_calls() == 1)
        .await;
    proxy.cut();
    let update = fake.push_text(6101, "Could we move our call to Friday?");
    fake.release();
    // The bot has met the outage: the handler and the health check were refused.
    while proxy.refused() < 3 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let confirmed_during_outage = fake.confirmed();
    proxy.restore();
    let answer = fake.message(6101, 1).await;
    bot.stop().await;

    assert!(
        confirmed_during_outage <= update,
        "the update was confirmed while it could not be handled"
    );
    assert!(answer.text.contains("passed"), "{}", answer.text);
    assert_eq!(fake.sent_to(6101).len(), 1, "answered once");
    assert_eq!(replies_from(&pool, dana).await, 1, "stored once");
    assert!(fake.confirmed() > update, "confirmed once handled");
}

#[sqlx::test]
async fn an_update_that_keeps_failing_while_the_database_answers_is_set_aside_and_can_be_replayed(
    pool: PgPool,
) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let dana = contact(&pool, "Dana", 6101).await;
    contact(&pool, "Lee", 6102).await;
    // Storing replies fails, as a bug or a bad migration would make it; the rest works.
    sqlx::query("alter table replies rename to replies_away")
        .execute(&pool)
        .await
        .unwrap();

    let bot = run_bot(&pool, &fake, &settings);
    let stuck = fake.push_text(6101, "Could we move our call to Friday?");
    fake.push_text(6102, "/help");
    let help = fake.message(6102, 1).await;
    bot.stop().await;
    let letters = dead_letters::list(&pool, false).await.unwrap();

    assert!(help.text.contains("/stop"), "{}", help.text);
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].channel, "telegram");
    assert_eq!(letters[0].external_id, stuck.to_string());
    assert_eq!(letters[0].tries, 5);
    assert!(letters[0].error.contains("replies"), "{}", letters[0].error);
    assert!(fake.sent_to(6101).is_empty());

    sqlx::query("alter table replies_away rename to replies")
        .execute(&pool)
        .await
        .unwrap();
    touchbot::telegram::polling::replay(
        &fake.bot(),
        pool.clone(),
        Arc::new(settings.clone()),
        Arc::new(Messages::load().unwrap()),
        &letters[0].payload,
    )
    .await
    .unwrap();
    let answer = fake.message(6101, 1).await;
    assert!(answer.text.contains("passed"), "{}", answer.text);
    assert_eq!(replies_from(&pool, dana).await, 1);
}

#[sqlx::test]
async fn a_stop_while_an_update_is_in_hand_finishes_it_and_confirms_its_offset(pool: PgPool) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let bot = run_bot(&pool, &fake, &settings);
    fake.wait_until("the bot to poll", |f| !f.calls("getUpdates").is_empty())
        .await;
    fake.hold("sendMessage");
    let update = fake.push_text(5555, "hello?");
    fake.wait_until("the answer to be on its way", |f| f.held_calls() == 1)
        .await;

    bot.signal_stop();
    fake.release();
    bot.stop().await;

    assert_eq!(
        fake.sent_to(5555).len(),
        1,
        "the update in hand was finished"
    );
    assert!(
        fake.confirmed() > update,
        "its offset was confirmed before stopping (confirmed {})",
        fake.confirmed()
    );
}

/// A service in webhook mode against the fake; returns its address once the webhook is set.
async fn webhook_service(
    pool: &PgPool,
    fake: &FakeTelegram,
) -> (touchbot::startup::Service, std::net::SocketAddr) {
    let mut settings = settings();
    settings.telegram.token = Some(Secret::from(TOKEN));
    settings.telegram.api_url = Some(Secret::from(fake.url()));
    settings.telegram.webhook_url = Some("https://bot.example.com/telegram/hook".into());
    settings.telegram.webhook_secret = Some(Secret::from("s3cret_token-1"));
    settings.scheduler.replan_cron = "0 0 0 1 1 * 2099".into();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service = touchbot::startup::start(
        &settings,
        pool.clone(),
        Channels::new(settings.dispatcher.rate_limits.clone()),
        listener,
    )
    .await
    .unwrap();
    let addr = service.addr();
    fake.wait_until("the webhook to be set", |f| {
        !f.calls("setWebhook").is_empty()
    })
    .await;
    (service, addr)
}

/// Sends `head` (and `body`) to the server and returns the status code it answers with.
async fn raw_request(addr: std::net::SocketAddr, head: &str, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut response = vec![0u8; 1024];
    let n = stream.read(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response[..n]).to_string();
    response.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn post_head(addr: std::net::SocketAddr, secret: &str, length: usize) -> String {
    format!(
        "POST /telegram/hook HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-Telegram-Bot-Api-Secret-Token: {secret}\r\nContent-Length: {length}\r\n\
         Connection: close\r\n\r\n"
    )
}

#[sqlx::test]
async fn a_webhook_request_without_the_secret_is_refused_before_its_body_is_read(pool: PgPool) {
    let fake = FakeTelegram::start().await;
    let (service, addr) = webhook_service(&pool, &fake).await;

    // A body is announced and never sent: only an answer without reading it can come back.
    let refused = tokio::time::timeout(
        Duration::from_secs(10),
        raw_request(addr, &post_head(addr, "guess", 100_000), ""),
    )
    .await
    .expect("the server answers without waiting for the body");
    service.stop().await.unwrap();

    assert_eq!(refused, 401);
}

#[sqlx::test]
async fn a_webhook_update_claimed_by_an_instance_that_died_is_handled_by_the_next_delivery(
    pool: PgPool,
) {
    let fake = FakeTelegram::start().await;
    // Another instance claimed update 41 five minutes ago and never finished it.
    sqlx::query(
        "insert into telegram_updates (update_id, received_at, claimed_until)
         values (41, now() - interval '5 minutes', now() - interval '3 minutes')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (service, addr) = webhook_service(&pool, &fake).await;
    let update = text_update(41, 9001, "hello?").to_string();

    let first = raw_request(
        addr,
        &post_head(addr, "s3cret_token-1", update.len()),
        &update,
    )
    .await;
    let again = raw_request(
        addr,
        &post_head(addr, "s3cret_token-1", update.len()),
        &update,
    )
    .await;
    let answers = fake.sent_to(9001);
    service.stop().await.unwrap();

    assert_eq!((first, again), (200, 200));
    assert_eq!(answers.len(), 1, "handled once: {answers:?}");
    assert!(
        answers[0].text.contains("don't know this chat"),
        "{}",
        answers[0].text
    );
}

#[sqlx::test]
async fn in_webhook_mode_an_update_that_keeps_failing_is_set_aside_after_five_deliveries(
    pool: PgPool,
) {
    let fake = FakeTelegram::start().await;
    contact(&pool, "Dana", 9001).await;
    sqlx::query("alter table replies rename to replies_away")
        .execute(&pool)
        .await
        .unwrap();
    let (service, addr) = webhook_service(&pool, &fake).await;
    let update = text_update(41, 9001, "Could we move our call?").to_string();
    let head = post_head(addr, "s3cret_token-1", update.len());

    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(raw_request(addr, &head, &update).await);
    }
    service.stop().await.unwrap();
    let letters = dead_letters::list(&pool, false).await.unwrap();

    assert_eq!(
        answers,
        [500, 500, 500, 500, 200, 200],
        "Telegram is asked to deliver again until the update is set aside"
    );
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].external_id, "41");
    assert_eq!(
        letters[0].payload["message"]["text"],
        "Could we move our call?"
    );
}

/// The built program, against the test's database and the fake Bot API.
async fn touchbot(pool: &PgPool, fake: &FakeTelegram, args: &[&str]) -> (i32, String, String) {
    let db = pool
        .connect_options()
        .get_database()
        .expect("the test database has a name")
        .to_string();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_touchbot"))
        .args(args)
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:5432/{db}"),
        )
        .env("TELOXIDE_TOKEN", TOKEN)
        .env("TELOXIDE_API_URL", fake.url())
        .env_remove("TOUCHBOT_CONFIG")
        .env_remove("TOUCHBOT_LOG")
        .output()
        .await
        .expect("the touchbot binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[sqlx::test]
async fn staff_list_an_update_set_aside_and_replay_it_from_the_command_line(pool: PgPool) {
    let fake = FakeTelegram::start().await;
    let dana = contact(&pool, "Dana", 6101).await;
    let update = text_update(77, 6101, "Could we move our call to Friday?");
    let id = dead_letters::set_aside(
        &pool,
        "telegram",
        "77",
        &update,
        &anyhow::anyhow!("could not store an inbound message"),
        5,
        chrono::Utc::now(),
    )
    .await
    .unwrap();

    let (listed, table, _) = touchbot(&pool, &fake, &["inbound", "dead-letters"]).await;
    let (_, json, _) = touchbot(&pool, &fake, &["inbound", "dead-letters", "--json"]).await;
    let (replayed, said, err) =
        touchbot(&pool, &fake, &["inbound", "replay", &id.to_string()]).await;
    let (_, after, _) = touchbot(&pool, &fake, &["inbound", "dead-letters"]).await;

    assert_eq!(listed, 0);
    assert!(
        table.contains("could not store an inbound message"),
        "{table}"
    );
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json[0]["external_id"], "77");
    assert_eq!(replayed, 0, "{said}{err}");
    assert!(said.contains("was handled"), "{said}");
    let answer = fake.message(6101, 1).await;
    assert!(answer.text.contains("passed"), "{}", answer.text);
    assert_eq!(replies_from(&pool, dana).await, 1);
    assert!(after.contains("no inbound update is set aside"), "{after}");
}

#[sqlx::test]
async fn in_webhook_mode_a_chats_updates_wait_for_each_other_while_other_chats_go_on(pool: PgPool) {
    let fake = FakeTelegram::start().await;
    let (service, addr) = webhook_service(&pool, &fake).await;
    let post = move |update: serde_json::Value| {
        let body = update.to_string();
        tokio::spawn(async move {
            raw_request(addr, &post_head(addr, "s3cret_token-1", body.len()), &body).await
        })
    };
    fake.hold("sendMessage");
    let first = post(text_update(51, 9001, "hello?"));
    fake.wait_until("the first answer to be on its way", |f| f.held_calls() == 1)
        .await;

    let second = post(text_update(52, 9001, "anyone there?"));
    let other = post(text_update(53, 9002, "hi"));
    fake.wait_until("the other chat's answer to be on its way", |f| {
        f.held_calls() == 2
    })
    .await;
    let second_started: i64 =
        sqlx::query_scalar("select count(*) from telegram_updates where update_id = 52")
            .fetch_one(&pool)
            .await
            .unwrap();
    fake.release();
    let statuses = [
        first.await.unwrap(),
        second.await.unwrap(),
        other.await.unwrap(),
    ];
    service.stop().await.unwrap();

    assert_eq!(statuses, [200, 200, 200]);
    assert_eq!(
        second_started, 0,
        "the chat's second update waited for its first"
    );
    // A stranger is answered once; their second message is counted, not answered again.
    assert_eq!(fake.sent_to(9001).len(), 1);
    assert_eq!(fake.sent_to(9002).len(), 1);
    let seen: i32 = sqlx::query_scalar("select messages from strangers where address = '9001'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        seen, 2,
        "the chat's second update was handled after its first"
    );
}
