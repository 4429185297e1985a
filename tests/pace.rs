//! The sending pace against fakes that enforce the platforms' limits: bursts of touches to a
//! few chats and a burst of posts to the team's group all arrive, each chat's in the order
//! they were due, and the platform never has to say "slow down".

mod common;
mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::{account, contact_on, touch, wrote_at};
use sqlx::PgPool;
use support::fake_telegram::FakeTelegram;
use support::fake_whatsapp::{FakeWhatsApp, PHONE_NUMBER_ID, TOKEN};
use support::platform_limits::{Limit, Limits};
use tokio::sync::watch;
use touchbot::channel::ratelimit::{ChannelLimit, GroupLimit, RateLimits};
use touchbot::channel::{Channel, Channels};
use touchbot::domain::ChannelKind;
use touchbot::outbound::dispatcher::{
    DispatcherConfig, Render, Rendered, TouchToSend, run_dispatcher,
};
use touchbot::staff_posts::dispatcher::run_post_dispatcher;
use touchbot::staff_posts::{NewPost, PostDelivery, PostKind, Recipient, enqueue};
use touchbot::storage::team_chat;
use touchbot::telegram::TelegramChannel;
use touchbot::whatsapp::{WhatsAppChannel, WhatsAppSettings};

const TEAM_CHAT: i64 = -100500;

/// The group's minute, shortened so that its pace shows within seconds: three posts in any
/// four seconds, stricter than the chat's one a second.
const GROUP_MESSAGES: u32 = 3;
const GROUP_PERIOD: Duration = Duration::from_secs(4);

/// The touch's key is the message, so each chat's order can be read off what arrived.
struct TouchKey;

impl Render for TouchKey {
    fn render(&self, touch: &TouchToSend) -> anyhow::Result<Rendered> {
        Ok(Rendered {
            text: touch.touch_key.clone(),
            ..Rendered::default()
        })
    }
}

/// The platforms' published limits, with Telegram's group minute as above.
fn rate_limits() -> RateLimits {
    let defaults = RateLimits::default();
    RateLimits {
        telegram: ChannelLimit {
            per_group: Some(GroupLimit {
                messages: GROUP_MESSAGES,
                every: GROUP_PERIOD,
            }),
            ..defaults.telegram.clone()
        },
        ..defaults
    }
}

/// Runs the touch and post dispatchers, sharing one pace as `serve` does, until `stop`.
fn serve(pool: &PgPool, channel: Arc<dyn Channel>) -> (watch::Sender<bool>, impl Future) {
    let config = DispatcherConfig {
        rate_limits: rate_limits(),
        poll_interval_seconds: 2,
        ..common::config()
    };
    let channels = Arc::new(Channels::new(config.rate_limits.clone()).with(channel));
    let (stop, shutdown) = watch::channel(false);
    let touches = tokio::spawn(run_dispatcher(
        pool.clone(),
        channels.clone(),
        Arc::new(TouchKey),
        config.clone(),
        "pace-test".into(),
        shutdown.clone(),
        None,
    ));
    let posts = tokio::spawn(run_post_dispatcher(
        pool.clone(),
        channels,
        config,
        "pace-test".into(),
        shutdown,
    ));
    (stop, async move {
        touches.await.unwrap().unwrap();
        posts.await.unwrap().unwrap();
    })
}

/// `per_chat` touches to each of `chats`, due together a few minutes ago; returns each
/// chat's keys in the order they were due.
async fn burst(pool: &PgPool, channel: &str, chats: &[&str], per_chat: usize) -> Vec<Vec<String>> {
    let acme = account(pool, "Acme").await;
    let due = Utc::now() - TimeDelta::minutes(5);
    let mut keys = vec![Vec::new(); chats.len()];
    for (c, chat) in chats.iter().enumerate() {
        let contact = contact_on(pool, acme, channel, chat).await;
        wrote_at(pool, contact, Utc::now()).await;
        for n in 0..per_chat {
            let key = format!("burst-{c}-{n}");
            let at = due + TimeDelta::milliseconds((n * chats.len() + c) as i64);
            touch(pool, acme, contact, &key, "checkin", at).await;
            keys[c].push(key);
        }
    }
    keys
}

async fn team_posts(pool: &PgPool, n: usize, due: DateTime<Utc>) -> Vec<String> {
    let address = TEAM_CHAT.to_string();
    team_chat::bind(pool, ChannelKind::Telegram, &address, None, due)
        .await
        .unwrap();
    let mut bodies = Vec::new();
    for i in 0..n {
        let body = format!("card {i}");
        let post = NewPost {
            idempotency_key: format!("esc:{i}:opened:team"),
            kind: PostKind::Escalation,
            escalation_id: None,
            account_id: None,
            recipient: Recipient::TeamChat,
            delivery: PostDelivery::Now,
            body: body.clone(),
            buttons: vec![],
            due_at: due + TimeDelta::milliseconds(i as i64),
        };
        enqueue(pool, &post, due).await.unwrap().unwrap();
        bodies.push(body);
    }
    bodies
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

fn whatsapp_channel(fake: &FakeWhatsApp) -> Arc<dyn Channel> {
    let mut settings = WhatsAppSettings {
        api_url: fake.url().to_string(),
        ..Default::default()
    };
    settings.access_token = Some(TOKEN.into());
    settings.phone_number_id = Some(PHONE_NUMBER_ID.into());
    Arc::new(WhatsAppChannel::from_settings(&settings).unwrap().unwrap())
}

async fn every_touch_sent(pool: &PgPool, touches: i64) {
    let all_sent = "select count(*) from touches where status = 'sent'";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while count(pool, all_sent).await < touches {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every touch went"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test]
async fn bursts_to_a_few_telegram_chats_and_to_the_team_group_arrive_in_order_with_no_429(
    pool: PgPool,
) {
    let fake = FakeTelegram::start().await;
    fake.enforce(Limits {
        per_group: Some(Limit::new(GROUP_MESSAGES as usize, GROUP_PERIOD)),
        ..Limits::telegram()
    });
    let chats = ["1001", "1002", "1003"];
    let touches = burst(&pool, "telegram", &chats, 4).await;
    let cards = team_posts(&pool, 7, Utc::now() - TimeDelta::minutes(5)).await;
    let channel = Arc::new(TelegramChannel::new(fake.bot(), pool.clone()));

    let (stop, stopped) = serve(&pool, channel);
    fake.wait_for("every touch and card", Duration::from_secs(60), |f| {
        f.sent_total() >= 12 + 7
    })
    .await;
    stop.send_replace(true);
    stopped.await;

    for (chat, keys) in chats.iter().zip(&touches) {
        let got: Vec<String> = fake
            .sent_to(chat.parse().unwrap())
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(&got, keys, "chat {chat}");
    }
    let posted: Vec<String> = fake
        .sent_to(TEAM_CHAT)
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(posted, cards);
    assert_eq!(fake.rate_limited(), 0, "Telegram had to say slow down");
    let sent = "select count(*) from touches where status = 'sent'";
    assert_eq!(count(&pool, sent).await, 12);
    let posted = "select count(*) from staff_posts where status = 'sent'";
    assert_eq!(count(&pool, posted).await, 7);
}

#[sqlx::test]
async fn a_burst_to_a_few_whatsapp_numbers_arrives_in_order_with_no_rate_limit_error(pool: PgPool) {
    let fake = FakeWhatsApp::start().await;
    fake.enforce(Limits::whatsapp());
    let numbers = ["+77010000001", "+77010000002", "+77010000003"];
    let touches = burst(&pool, "whatsapp", &numbers, 2).await;

    let (stop, stopped) = serve(&pool, whatsapp_channel(&fake));
    every_touch_sent(&pool, 6).await;
    stop.send_replace(true);
    stopped.await;

    let sent = fake.sent();
    for (number, keys) in numbers.iter().zip(&touches) {
        let got: Vec<String> = sent
            .iter()
            .filter(|m| format!("+{}", m.to) == *number)
            .map(|m| m.text.clone())
            .collect();
        assert_eq!(&got, keys, "recipient {number}");
    }
    assert_eq!(fake.rate_limited(), 0, "WhatsApp answered 130429 or 131056");
}

#[sqlx::test]
async fn a_whatsapp_numbers_second_touch_goes_out_a_gap_after_the_first_ones_answer_not_later(
    pool: PgPool,
) {
    let fake = FakeWhatsApp::start().await;
    fake.enforce(Limits::whatsapp());
    let numbers = ["+77010000001", "+77010000002"];
    burst(&pool, "whatsapp", &numbers, 2).await;

    let (stop, stopped) = serve(&pool, whatsapp_channel(&fake));
    every_touch_sent(&pool, 4).await;
    stop.send_replace(true);
    stopped.await;

    // Recorded as each answer came back. Never sooner than the gap: the fake would refuse.
    let sent: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
        "select c.address, t.sent_at from touches t join contacts c on c.id = t.contact_id
          order by c.address, t.sent_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let gap = TimeDelta::seconds(6);
    // Claiming, marking and sending again, on a loaded machine; a second more than this
    // is what waking the dispatcher a whole second late, or deferring twice, costs.
    let slack = TimeDelta::milliseconds(700);
    for pair in sent.chunks(2) {
        let [(number, first), (_, second)] = pair else {
            panic!("two touches each: {sent:?}");
        };
        let apart = *second - *first;
        assert!(apart <= gap + slack, "{number}: {apart}");
    }
    assert_eq!(fake.rate_limited(), 0, "WhatsApp answered 130429 or 131056");
}
