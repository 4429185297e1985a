//! `touchbot serve` stopped by SIGTERM in the middle of a wave of sends: the real binary, the
//! fake Bot API answering slowly, and a real PostgreSQL. The stop must exit 0 and leave every
//! touch either sent or back in the queue, never 'unknown', and no chat may get a message twice.

mod common;
mod support;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::{account, contact_on, touch};
use sqlx::PgPool;
use tokio::process::{Child, Command};
use tokio::time::timeout;

use support::fake_telegram::{FakeTelegram, TOKEN};

const CHATS: i64 = 40;
const PATIENCE: Duration = Duration::from_secs(30);

fn database_url(pool: &PgPool) -> String {
    let db = pool
        .connect_options()
        .get_database()
        .expect("the test database has a name")
        .to_string();
    format!("postgres://postgres@127.0.0.1:5432/{db}")
}

fn serve(pool: &PgPool, fake: &FakeTelegram) -> Child {
    Command::new(env!("CARGO_BIN_EXE_touchbot"))
        .arg("serve")
        .env("DATABASE_URL", database_url(pool))
        .env("TELOXIDE_TOKEN", TOKEN)
        .env("TELOXIDE_API_URL", fake.url())
        .env("TOUCHBOT_SERVER__PORT", "0")
        .env("TOUCHBOT_TELEGRAM__POLL_TIMEOUT_SECONDS", "1")
        .env("TOUCHBOT_LOG", "touchbot=info")
        .env_remove("TOUCHBOT_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("touchbot serve starts")
}

/// Sends SIGTERM, as an orchestrator does, and returns the exit code and what was logged.
async fn terminate(child: Child) -> (Option<i32>, String) {
    let pid = child.id().expect("still running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("serve stops within the grace period")
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn statuses(pool: &PgPool) -> BTreeMap<String, i64> {
    sqlx::query!(r#"select status, count(*) as "n!" from touches group by status"#)
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.status, r.n))
        .collect()
}

fn chats() -> impl Iterator<Item = i64> {
    1001..=1000 + CHATS
}

/// How many chats got exactly one message; panics if one got two.
fn chats_with_their_message(fake: &FakeTelegram) -> i64 {
    chats()
        .map(|chat| match fake.sent_to(chat).len() {
            0 => 0,
            1 => 1,
            n => panic!("chat {chat} got {n} messages"),
        })
        .sum()
}

#[sqlx::test]
async fn sigterm_mid_wave_exits_0_and_leaves_every_touch_sent_or_queued_never_twice(pool: PgPool) {
    let fake = FakeTelegram::start().await;
    fake.slow_down(Duration::from_millis(300));
    let acme = account(&pool, "Acme").await;
    for chat in chats() {
        let contact = contact_on(&pool, acme, "telegram", &chat.to_string()).await;
        let due = Utc::now() - TimeDelta::minutes(1);
        touch(
            &pool,
            acme,
            contact,
            &format!("welcome-{chat}"),
            "welcome",
            due,
        )
        .await;
    }

    let first = serve(&pool, &fake);
    fake.wait_until("a few sends under way", |f| {
        f.calls("sendMessage").len() >= 5
    })
    .await;
    let (code, log) = terminate(first).await;

    assert_eq!(code, Some(0), "serve did not exit 0:\n{log}");
    let after_stop = statuses(&pool).await;
    let sent = after_stop.get("sent").copied().unwrap_or(0);
    let planned = after_stop.get("planned").copied().unwrap_or(0);
    assert_eq!(sent + planned, CHATS, "{after_stop:?}\n{log}");
    assert!(planned > 0, "the stop came after the wave: {after_stop:?}");
    assert_eq!(chats_with_their_message(&fake), sent);

    // The next start sends what was handed back, and nothing twice.
    let second = serve(&pool, &fake);
    fake.wait_until("every chat's message", |f| {
        chats().all(|chat| !f.sent_to(chat).is_empty())
    })
    .await;
    let (code, log) = terminate(second).await;

    assert_eq!(code, Some(0), "serve did not exit 0:\n{log}");
    assert_eq!(chats_with_their_message(&fake), CHATS);
    let end = statuses(&pool).await;
    assert_eq!(end, BTreeMap::from([("sent".to_string(), CHATS)]), "{log}");
}
