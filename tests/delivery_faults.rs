//! Delivery under faults, for touches and staff posts alike: answers that are lost, waiting that
//! must spend no tries, leases that run out, takeovers that hold touches back. A real
//! PostgreSQL; the simulated channel, or the real Telegram channel against the fake Bot API.

mod common;
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use sqlx::PgPool;
use touchbot::channel::Channels;
use touchbot::channel::ratelimit::{ChannelLimit, RateLimits};
use touchbot::channel::simulated::SimulatedChannel;
use touchbot::delivery::Rescued;
use touchbot::delivery::queue::Table;
use touchbot::domain::{ChannelKind, PostId, TouchId};
use touchbot::outbound::dispatcher::{
    DeliveryReport, DispatcherConfig, deliver_due, rescue_and_reconcile,
};
use touchbot::outbound::outbox::{self, OutboxError, TouchTable};
use touchbot::staff_posts::dispatcher::{PostDeliveryReport, deliver_due_posts};
use touchbot::staff_posts::{NewPost, PostDelivery, PostKind, Recipient, enqueue};
use touchbot::storage::team_chat;
use touchbot::telegram::TelegramChannel;

use support::fake_telegram::{Failure, FakeTelegram, TOKEN};

async fn deliver(
    pool: &PgPool,
    channels: &Channels,
    config: &DispatcherConfig,
    now: DateTime<Utc>,
) -> DeliveryReport {
    deliver_due(pool, channels, &PlainRenderer, config, "worker-1", now)
        .await
        .unwrap()
}

async fn deliver_posts(
    pool: &PgPool,
    channels: &Channels,
    now: DateTime<Utc>,
) -> PostDeliveryReport {
    deliver_due_posts(pool, channels, &config(), "worker-1", now)
        .await
        .unwrap()
}

/// Telegram as the simulated channel plays it: it cannot say whether a message arrived.
fn blind_telegram() -> Arc<SimulatedChannel> {
    Arc::new(
        SimulatedChannel::new()
            .with_kind(ChannelKind::Telegram)
            .without_lookup(),
    )
}

fn unlimited() -> RateLimits {
    RateLimits {
        telegram: ChannelLimit::unlimited(),
        whatsapp: ChannelLimit::unlimited(),
        simulated: ChannelLimit::unlimited(),
    }
}

/// The real Telegram channel against the fake, with a client that gives up after a second
/// (teloxide's own gives up after 17).
fn real_telegram(fake: &FakeTelegram, pool: &PgPool) -> Channels {
    let client = teloxide::net::default_reqwest_settings()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let bot = teloxide::Bot::with_client(TOKEN, client).set_api_url(fake.url().parse().unwrap());
    Channels::new(unlimited()).with(Arc::new(TelegramChannel::new(bot, pool.clone())))
}

async fn team_card(pool: &PgPool, key: &str) -> PostId {
    let post = NewPost {
        idempotency_key: key.into(),
        kind: PostKind::Escalation,
        escalation_id: None,
        account_id: None,
        recipient: Recipient::TeamChat,
        delivery: PostDelivery::Now,
        body: "Acme: NPS 3".into(),
        buttons: vec![],
        due_at: t0(),
    };
    enqueue(pool, &post, t0()).await.unwrap().unwrap()
}

async fn post_status(pool: &PgPool, id: PostId) -> (String, i32) {
    let r = sqlx::query!("select status, tries from staff_posts where id = $1", id.0)
        .fetch_one(pool)
        .await
        .unwrap();
    (r.status, r.tries)
}

/// Delivers at each retry time until nothing is planned any more (or `passes` run out).
async fn deliver_until_settled(
    pool: &PgPool,
    channels: &Channels,
    config: &DispatcherConfig,
    id: TouchId,
    passes: usize,
) {
    let mut now = t0();
    for _ in 0..passes {
        deliver(pool, channels, config, now).await;
        let s = state(pool, id).await;
        if s.status != "planned" {
            return;
        }
        now = s.next_attempt_at.unwrap_or(now).max(now) + TimeDelta::seconds(1);
    }
}

// 1. Ambiguous answers are never resent.

#[sqlx::test]
async fn a_send_whose_answer_was_lost_is_left_unknown_and_never_resent(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new().without_lookup());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    sim.lose_answer("ann", true);

    let first = deliver(&pool, &channels, &config(), t0()).await;
    rescue_and_reconcile(&pool, &channels, t0()).await.unwrap();
    let a_day_later = deliver(&pool, &channels, &config(), t0() + TimeDelta::days(1)).await;

    assert_eq!(first.unknown, 1);
    assert_eq!(a_day_later, DeliveryReport::default());
    assert_eq!(sim.total_send_attempts(), 1);
    assert_eq!(sim.sent().len(), 1);
    assert_eq!(state(&pool, id).await.status, "unknown");
    assert_eq!(outbox::list_unknown(&pool).await.unwrap().len(), 1);
}

#[sqlx::test]
async fn a_channel_that_can_tell_settles_a_lost_answer_as_sent(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    sim.lose_answer("ann", true);

    deliver(&pool, &channels, &config(), t0()).await;
    let (_, reconciled) = rescue_and_reconcile(&pool, &channels, t0()).await.unwrap();

    assert_eq!(reconciled.sent, 1);
    assert_eq!(state(&pool, id).await.status, "sent");
    assert_eq!(sim.total_send_attempts(), 1);
}

#[sqlx::test]
async fn a_telegram_timeout_after_the_message_was_accepted_is_never_resent(pool: PgPool) {
    let fake = FakeTelegram::start().await;
    let channels = real_telegram(&fake, &pool);
    let acme = account(&pool, "Acme").await;
    let ann = contact_on(&pool, acme, "telegram", "4242").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    fake.fail(
        "sendMessage",
        Some(4242),
        Failure::AcceptThenHang(Duration::from_secs(5)),
        1,
    );

    let first = deliver(&pool, &channels, &config(), t0()).await;
    let later = deliver(&pool, &channels, &config(), t0() + TimeDelta::days(1)).await;

    assert_eq!(first.unknown, 1);
    assert_eq!(later, DeliveryReport::default());
    assert_eq!(fake.calls("sendMessage").len(), 1);
    assert_eq!(fake.sent_to(4242).len(), 1);
    let s = state(&pool, id).await;
    assert_eq!(s.status, "unknown");
    assert!(
        s.status_reason.unwrap().contains("did not answer in time"),
        "the reason says what happened"
    );
}

#[sqlx::test]
async fn an_unreadable_telegram_answer_is_never_resent(pool: PgPool) {
    let fake = FakeTelegram::start().await;
    let channels = real_telegram(&fake, &pool);
    let acme = account(&pool, "Acme").await;
    let ann = contact_on(&pool, acme, "telegram", "4242").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    fake.fail("sendMessage", Some(4242), Failure::AcceptThenGarbage, 1);

    let first = deliver(&pool, &channels, &config(), t0()).await;
    let later = deliver(&pool, &channels, &config(), t0() + TimeDelta::days(1)).await;

    assert_eq!(first.unknown, 1);
    assert_eq!(later, DeliveryReport::default());
    assert_eq!(fake.calls("sendMessage").len(), 1);
    assert_eq!(state(&pool, id).await.status, "unknown");
}

#[sqlx::test]
async fn an_answer_that_says_ok_but_cannot_be_read_counts_as_sent(pool: PgPool) {
    let fake = FakeTelegram::start().await;
    let channels = real_telegram(&fake, &pool);
    let acme = account(&pool, "Acme").await;
    let ann = contact_on(&pool, acme, "telegram", "4242").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    fake.fail("sendMessage", Some(4242), Failure::AcceptThenOddAnswer, 1);

    let report = deliver(&pool, &channels, &config(), t0()).await;

    assert_eq!(report.sent, 1);
    assert_eq!(fake.calls("sendMessage").len(), 1);
    let s = state(&pool, id).await;
    assert_eq!(s.status, "sent");
    let message_id = fake.sent_to(4242)[0].message_id;
    assert_eq!(s.provider_message_id, Some(format!("4242:{message_id}")));
}

#[sqlx::test]
async fn a_refused_connection_is_retried_as_nothing_left(pool: PgPool) {
    // Nothing listens on port 9: the message provably never left.
    let bot = teloxide::Bot::new(TOKEN).set_api_url("http://127.0.0.1:9".parse().unwrap());
    let channels =
        Channels::new(unlimited()).with(Arc::new(TelegramChannel::new(bot, pool.clone())));
    let acme = account(&pool, "Acme").await;
    let ann = contact_on(&pool, acme, "telegram", "4242").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;

    let report = deliver(&pool, &channels, &config(), t0()).await;

    assert_eq!(report.retried, 1);
    let s = state(&pool, id).await;
    assert_eq!((s.status.as_str(), s.tries), ("planned", 1));
}

#[sqlx::test]
async fn a_staff_post_whose_answer_was_lost_is_left_unknown_and_never_posted_again(pool: PgPool) {
    let sim = blind_telegram();
    let channels = Channels::new(unlimited()).with(sim.clone());
    team_chat::bind(&pool, ChannelKind::Telegram, "-100500", None, t0())
        .await
        .unwrap();
    let id = team_card(&pool, "esc:1:opened:team").await;
    sim.lose_answer("-100500", true);

    let first = deliver_posts(&pool, &channels, t0()).await;
    let later = deliver_posts(&pool, &channels, t0() + TimeDelta::days(1)).await;

    assert_eq!(first.unknown, 1);
    assert_eq!(later, PostDeliveryReport::default());
    assert_eq!(sim.total_send_attempts(), 1);
    assert_eq!(post_status(&pool, id).await.0, "unknown");
}

// 2. A touch held back by a takeover is not "due".

#[sqlx::test]
async fn a_touch_held_back_by_a_takeover_is_not_due_until_the_takeover_ends(pool: PgPool) {
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    touch(&pool, acme, ann, "checkin-1", "checkin", t0()).await;
    let ends = t0() + TimeDelta::hours(2);
    sqlx::query!(
        "insert into contact_takeovers (contact_id, started_at, until) values ($1, $2, $3)",
        ann.0,
        t0() - TimeDelta::minutes(5),
        ends,
    )
    .execute(&pool)
    .await
    .unwrap();

    let claimed = TouchTable::claim_due(&pool, "w", t0(), TimeDelta::seconds(60), 10)
        .await
        .unwrap();
    let next = TouchTable::next_due_at(&pool, t0()).await.unwrap();

    assert!(claimed.is_empty());
    assert_eq!(next, Some(ends));
}

// 3. Leases run on the database's clock, and a send never starts on a lapsed lease.

#[sqlx::test]
async fn a_send_whose_lease_ran_out_before_it_started_is_never_handed_over(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    let lease = TimeDelta::seconds(60);
    let slow = TouchTable::claim_due(&pool, "slow", t0(), lease, 10)
        .await
        .unwrap()[0];

    expire_leases(&pool).await;
    let late = outbox::mark_sending(&pool, slow, t0(), lease).await;
    let (rescued, _) = rescue_and_reconcile(&pool, &channels, t0()).await.unwrap();
    let report = deliver(&pool, &channels, &config(), t0()).await;

    assert!(matches!(late, Err(OutboxError::LeaseLost(l)) if l == slow));
    assert_eq!(
        rescued,
        Rescued {
            requeued: 1,
            unknown: 0
        }
    );
    assert_eq!(report.sent, 1);
    assert_eq!(state(&pool, id).await.status, "sent");
    assert_eq!(sim.total_send_attempts(), 1);
}

#[sqlx::test]
async fn an_instance_whose_clock_runs_ahead_does_not_rescue_live_work(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    let lease = TimeDelta::seconds(60);
    let live = TouchTable::claim_due(&pool, "live", t0(), lease, 10)
        .await
        .unwrap()[0];
    let ahead = Utc::now() + TimeDelta::hours(3);

    let (rescued, _) = rescue_and_reconcile(&pool, &channels, ahead).await.unwrap();
    outbox::mark_sending(&pool, live, t0(), lease)
        .await
        .unwrap();
    let (rescued_mid_send, _) = rescue_and_reconcile(&pool, &channels, ahead).await.unwrap();

    assert_eq!(rescued, Rescued::default());
    assert_eq!(rescued_mid_send, Rescued::default());
    assert_eq!(state(&pool, id).await.status, "sending");
}

// 4. Waiting spends no tries.

#[sqlx::test]
async fn waiting_for_a_rate_limit_spends_no_tries(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    let config = DispatcherConfig {
        max_attempts: 2,
        ..config()
    };
    sim.rate_limit("ann", Duration::from_secs(5), 4);
    deliver_until_settled(&pool, &channels, &config, id, 4).await;
    assert_eq!(state(&pool, id).await.tries, 0, "a 429 is not a try");
    sim.fail_transiently("ann", 1);

    deliver_until_settled(&pool, &channels, &config, id, 4).await;

    let s = state(&pool, id).await;
    assert_eq!(s.status, "sent", "{s:?}");
    assert_eq!(s.tries, 2);
    assert_eq!(sim.sent().len(), 1);
}

#[sqlx::test]
async fn a_requeued_touch_gets_the_full_number_of_tries_again(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    let config = DispatcherConfig {
        max_attempts: 2,
        ..config()
    };
    sim.fail_transiently("ann", 100);
    deliver_until_settled(&pool, &channels, &config, id, 5).await;
    assert_eq!(state(&pool, id).await.status, "failed");

    let later = t0() + TimeDelta::days(1);
    let mut conn = pool.acquire().await.unwrap();
    outbox::requeue(&mut conn, id, later).await.unwrap();
    let report = deliver(&pool, &channels, &config, later).await;

    assert_eq!(report.retried, 1, "{report:?}");
    let s = state(&pool, id).await;
    assert_eq!((s.status.as_str(), s.tries), ("planned", 1));
}

#[sqlx::test]
async fn a_touch_waiting_for_a_missing_channel_spends_no_tries(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let ann = contact_on(&pool, acme, "whatsapp", "+77010000000").await;
    common::wrote_at(&pool, ann, t0()).await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    let config = DispatcherConfig {
        max_attempts: 2,
        ..config()
    };

    deliver_until_settled(&pool, &channels, &config, id, 4).await;

    let s = state(&pool, id).await;
    assert_eq!((s.status.as_str(), s.tries), ("planned", 0));
    assert!(s.attempt >= 4, "each look was a claim: {s:?}");
}

#[sqlx::test]
async fn a_rate_limited_staff_post_spends_no_tries(pool: PgPool) {
    let sim = blind_telegram();
    let channels = Channels::new(unlimited()).with(sim.clone());
    team_chat::bind(&pool, ChannelKind::Telegram, "-100500", None, t0())
        .await
        .unwrap();
    let id = team_card(&pool, "esc:1:opened:team").await;
    sim.rate_limit("-100500", Duration::from_secs(5), 1);

    deliver_posts(&pool, &channels, t0()).await;
    let waiting = post_status(&pool, id).await;
    let report = deliver_posts(&pool, &channels, t0() + TimeDelta::seconds(5)).await;

    assert_eq!(waiting, ("planned".to_string(), 0));
    assert_eq!(report.sent, 1);
    assert_eq!(post_status(&pool, id).await, ("sent".to_string(), 1));
}

// 5. A batch is marked `sending` together, and a crash strands no more than that batch.

async fn statuses(pool: &PgPool) -> HashMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>("select status, count(*) from touches group by status")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

#[sqlx::test]
async fn a_crash_mid_batch_strands_only_that_batch_and_every_touch_still_goes_out_once(
    pool: PgPool,
) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let address = format!("c{i}");
        let c = contact(&pool, acme, &address).await;
        ids.push(touch(&pool, acme, c, &format!("welcome-{i}"), "welcome", t0()).await);
        // Every send hangs and delivers nothing: the process dies at the first.
        sim.crash_before_delivery(&address);
    }
    let config = DispatcherConfig {
        workers: 2,
        batch_size: 4,
        ..config()
    };

    tokio::select! {
        _ = deliver(&pool, &channels, &config, t0()) => panic!("the crashed sends returned"),
        _ = sim.crashed() => {}
    }
    until_in_flight_statements_land(&pool).await;
    let at_the_crash = statuses(&pool).await;
    expire_leases(&pool).await;
    let (rescued, reconciled) = rescue_and_reconcile(&pool, &channels, t0()).await.unwrap();
    for i in 0..10 {
        sim.clear_faults(&format!("c{i}"));
    }
    let report = deliver(&pool, &channels, &config, t0()).await;

    // The whole first batch was marked before any of its sends, though two go at a time;
    // the next one was at most claimed.
    assert_eq!(at_the_crash.get("sending"), Some(&4), "{at_the_crash:?}");
    assert!(
        at_the_crash.get("claimed").copied().unwrap_or(0) <= 4,
        "{at_the_crash:?}"
    );
    assert_eq!(rescued.unknown, 4);
    assert_eq!(reconciled.requeued, 4);
    assert_eq!(report.sent, 10);
    assert_eq!(sim.sent().len(), 10);
    assert_eq!(
        statuses(&pool).await,
        HashMap::from([("sent".to_string(), 10)])
    );
}
