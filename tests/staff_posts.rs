//! Staff posts (escalation cards, digests) from the queue to the team chat or a staff member's
//! Telegram, against a real PostgreSQL and the simulated channel standing in for Telegram.

mod common;

use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use common::{account, config, expire_leases, staff, t0, until_in_flight_statements_land};
use sqlx::PgPool;
use touchbot::channel::ratelimit::{ChannelLimit, RateLimits};
use touchbot::channel::simulated::SimulatedChannel;
use touchbot::channel::{Button, Channels, PermanentReason};
use touchbot::delivery::Settle;
use touchbot::delivery::queue::Table;
use touchbot::domain::{AccountId, ChannelKind, ContactId, PostId};
use touchbot::outbound::calendar::ClockTime;
use touchbot::outbound::dispatcher::DispatcherConfig;
use touchbot::staff_posts::digest::compose_daily_digests;
use touchbot::staff_posts::dispatcher::{
    NO_TEAM_CHAT, PostDeliveryReport, UNSUPPORTED_LOOKUP_REASON, bring_forward_posts_for,
    deliver_due_posts, no_channel_reason, rescue_and_reconcile_posts,
};
use touchbot::staff_posts::queue::{self as post_queue, PostQueueError, PostTable};
use touchbot::staff_posts::{NewPost, PostDelivery, PostKind, Recipient, enqueue, enqueue_many};
use touchbot::storage::team_chat;

const TEAM_CHAT: &str = "-100500";

/// Telegram, played by the simulated channel, which cannot say whether a message arrived.
fn telegram() -> Arc<SimulatedChannel> {
    Arc::new(
        SimulatedChannel::new()
            .with_kind(ChannelKind::Telegram)
            .without_lookup(),
    )
}

/// Without Telegram's pace of one message a second per chat, which would only slow the tests.
fn channels(sim: &Arc<SimulatedChannel>) -> Channels {
    let unlimited = RateLimits {
        telegram: ChannelLimit::unlimited(),
        whatsapp: ChannelLimit::unlimited(),
        simulated: ChannelLimit::unlimited(),
    };
    Channels::new(unlimited).with(sim.clone())
}

async fn deliver(pool: &PgPool, channels: &Channels, now: DateTime<Utc>) -> PostDeliveryReport {
    deliver_as(pool, channels, &config(), "worker-1", now).await
}

async fn deliver_as(
    pool: &PgPool,
    channels: &Channels,
    config: &DispatcherConfig,
    worker: &str,
    now: DateTime<Utc>,
) -> PostDeliveryReport {
    deliver_due_posts(pool, channels, config, worker, now)
        .await
        .unwrap()
}

fn lease_expired() -> DateTime<Utc> {
    t0() + TimeDelta::seconds(config().lease_seconds as i64 + 1)
}

async fn bind_team_chat(pool: &PgPool, now: DateTime<Utc>) {
    team_chat::bind(pool, ChannelKind::Telegram, TEAM_CHAT, None, now)
        .await
        .unwrap();
}

fn card(key: &str, recipient: Recipient, body: &str) -> NewPost {
    NewPost {
        idempotency_key: key.into(),
        kind: PostKind::Escalation,
        escalation_id: None,
        account_id: None,
        recipient,
        delivery: PostDelivery::Now,
        body: body.into(),
        buttons: vec![vec![Button {
            label: "Take it".into(),
            data: "esc:1:take".into(),
        }]],
        due_at: t0(),
    }
}

async fn queue(pool: &PgPool, post: &NewPost) -> PostId {
    enqueue(pool, post, post.due_at)
        .await
        .unwrap()
        .expect("a new key is queued")
}

/// A non-urgent item for `recipient`'s daily digest.
async fn digest_item(
    pool: &PgPool,
    key: &str,
    recipient: Recipient,
    account: Option<AccountId>,
    body: &str,
    due_at: DateTime<Utc>,
) -> PostId {
    let post = NewPost {
        kind: PostKind::Realert,
        account_id: account,
        delivery: PostDelivery::Digest,
        buttons: vec![],
        due_at,
        ..card(key, recipient, body)
    };
    queue(pool, &post).await
}

#[derive(Debug)]
struct PostState {
    status: String,
    tries: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    status_reason: Option<String>,
    sent_at: Option<DateTime<Utc>>,
    sent_channel: Option<String>,
    sent_address: Option<String>,
    provider_message_id: Option<String>,
    digest_id: Option<i64>,
}

async fn state(pool: &PgPool, id: PostId) -> PostState {
    let r = sqlx::query!(
        "select status, tries, next_attempt_at, status_reason, sent_at, sent_channel,
                sent_address, provider_message_id, digest_id
           from staff_posts where id = $1",
        id.0
    )
    .fetch_one(pool)
    .await
    .unwrap();
    PostState {
        status: r.status,
        tries: r.tries,
        next_attempt_at: r.next_attempt_at,
        status_reason: r.status_reason,
        sent_at: r.sent_at,
        sent_channel: r.sent_channel,
        sent_address: r.sent_address,
        provider_message_id: r.provider_message_id,
        digest_id: r.digest_id,
    }
}

/// The digest posts written so far, as (key, recipient, body), by key.
async fn digests(pool: &PgPool) -> Vec<(String, Option<i64>, String)> {
    sqlx::query!(
        "select idempotency_key, staff_id, body from staff_posts
          where kind = 'digest' order by idempotency_key"
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.idempotency_key, r.staff_id, r.body))
    .collect()
}

#[sqlx::test]
async fn a_queued_card_reaches_the_team_chat_once_even_when_two_workers_deliver_at_once(
    pool: PgPool,
) {
    let sim = telegram();
    let channels = channels(&sim);
    bind_team_chat(&pool, t0()).await;
    let id = queue(
        &pool,
        &card("esc:1:opened:team", Recipient::TeamChat, "Acme: NPS 3"),
    )
    .await;

    let cfg = config();
    let (a, b) = tokio::join!(
        deliver_as(&pool, &channels, &cfg, "worker-1", t0()),
        deliver_as(&pool, &channels, &cfg, "worker-2", t0()),
    );
    let later = deliver(&pool, &channels, t0() + TimeDelta::hours(1)).await;

    assert_eq!(a.sent + b.sent, 1);
    assert_eq!(later, PostDeliveryReport::default());
    let sent = sim.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sim.total_send_attempts(), 1);
    assert_eq!(sent[0].message.to.address, TEAM_CHAT);
    assert_eq!(sent[0].message.text, "Acme: NPS 3");
    assert_eq!(sent[0].message.buttons[0][0].data, "esc:1:take");
    let s = state(&pool, id).await;
    assert_eq!(s.status, "sent");
    assert_eq!(s.sent_at, Some(t0()));
    assert_eq!(s.sent_channel.as_deref(), Some("telegram"));
    assert_eq!(s.sent_address.as_deref(), Some(TEAM_CHAT));
    assert_eq!(
        s.provider_message_id,
        Some(sent[0].provider_message_id.clone())
    );
}

#[sqlx::test]
async fn a_post_to_a_staff_member_goes_to_their_private_telegram_chat(pool: PgPool) {
    let sim = telegram();
    let channels = channels(&sim);
    bind_team_chat(&pool, t0()).await;
    let dana = staff(&pool, "Dana", Some(4242)).await;
    let id = queue(
        &pool,
        &card(
            "esc:1:ladder:dana",
            Recipient::Staff(dana),
            "Acme needs you",
        ),
    )
    .await;

    let report = deliver(&pool, &channels, t0()).await;

    assert_eq!(report.sent, 1);
    let sent = sim.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message.to.address, "4242");
    assert_eq!(sent[0].message.text, "Acme needs you");
    assert_eq!(state(&pool, id).await.sent_address.as_deref(), Some("4242"));
}

#[sqlx::test]
async fn a_post_to_a_staff_member_without_a_telegram_id_goes_to_the_team_chat_naming_them(
    pool: PgPool,
) {
    let sim = telegram();
    let channels = channels(&sim);
    bind_team_chat(&pool, t0()).await;
    let dana = staff(&pool, "Dana Lee", None).await;
    let id = queue(
        &pool,
        &card(
            "esc:1:ladder:dana",
            Recipient::Staff(dana),
            "Acme needs you",
        ),
    )
    .await;

    deliver(&pool, &channels, t0()).await;

    let sent = sim.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message.to.address, TEAM_CHAT);
    let text = &sent[0].message.text;
    assert!(text.starts_with("For Dana Lee "), "{text}");
    assert!(text.ends_with("\n\nAcme needs you"), "{text}");
    assert_eq!(state(&pool, id).await.status, "sent");
}

#[sqlx::test]
async fn without_a_team_chat_a_post_waits_without_using_up_tries_and_goes_out_once_one_is_bound(
    pool: PgPool,
) {
    let sim = telegram();
    let channels = channels(&sim);
    let id = queue(
        &pool,
        &card("esc:1:opened:team", Recipient::TeamChat, "Acme: NPS 3"),
    )
    .await;

    let first = deliver(&pool, &channels, t0()).await;
    let again = deliver(&pool, &channels, t0() + TimeDelta::seconds(10)).await;

    assert_eq!(first.waiting, 1);
    assert_eq!(again, PostDeliveryReport::default());
    let s = state(&pool, id).await;
    assert_eq!(s.status, "planned");
    assert_eq!(s.tries, 0);
    assert_eq!(s.status_reason.as_deref(), Some(NO_TEAM_CHAT));
    let wait = waited(&s, t0());
    assert!(first_wait().contains(&wait), "waited {wait} s");
    assert!(sim.sent().is_empty());

    // Binding brings the waiting post forward, so it goes out now rather than at the next poll.
    let bound_at = t0() + TimeDelta::minutes(1);
    bind_team_chat(&pool, bound_at).await;
    let report = deliver(&pool, &channels, bound_at).await;

    assert_eq!(report.sent, 1);
    assert_eq!(sim.sent().len(), 1);
    let s = state(&pool, id).await;
    assert_eq!(s.status, "sent");
    assert_eq!(s.tries, 1);
    assert_eq!(s.status_reason, None);
}

/// How long a post was put back for, in whole seconds, counted from `since`.
fn waited(s: &PostState, since: DateTime<Utc>) -> i64 {
    (s.next_attempt_at.expect("a waiting post has a next try") - since).num_seconds()
}

/// The first wait of a post with nowhere to go: the backoff base, shortened by up to a fifth.
fn first_wait() -> std::ops::RangeInclusive<i64> {
    let base = config().backoff_base_seconds as i64;
    base * 4 / 5..=base
}

/// A process without Telegram, as a WhatsApp-only deployment runs.
fn without_telegram() -> Channels {
    channels(&Arc::new(SimulatedChannel::new()))
}

#[sqlx::test]
async fn a_card_no_running_process_can_send_waits_longer_each_time_until_a_process_with_telegram_starts(
    pool: PgPool,
) {
    bind_team_chat(&pool, t0()).await;
    let id = queue(
        &pool,
        &card("esc:1:opened:team", Recipient::TeamChat, "Acme: NPS 3"),
    )
    .await;
    let whatsapp_only = without_telegram();

    let mut at = t0();
    let mut waits = Vec::new();
    for _ in 0..4 {
        let report = deliver(&pool, &whatsapp_only, at).await;
        assert_eq!(report.waiting, 1, "the card is found still waiting");
        let s = state(&pool, id).await;
        assert_eq!(s.status, "planned");
        assert_eq!(s.tries, 0, "waiting is not failing");
        assert_eq!(
            s.status_reason,
            Some(no_channel_reason(ChannelKind::Telegram))
        );
        waits.push(waited(&s, at));
        at = s.next_attempt_at.unwrap();
    }
    assert!(first_wait().contains(&waits[0]), "{waits:?}");
    assert!(
        waits.windows(2).all(|w| w[1] > w[0]),
        "each claim that finds the card still waiting waits longer: {waits:?}"
    );
    assert_eq!(
        bring_forward_posts_for(&pool, &whatsapp_only, at - TimeDelta::seconds(5))
            .await
            .unwrap(),
        0,
        "a process without Telegram leaves it waiting"
    );

    let sim = telegram();
    let with_telegram = channels(&sim);
    let started = at - TimeDelta::seconds(5);
    let brought = bring_forward_posts_for(&pool, &with_telegram, started)
        .await
        .unwrap();
    let report = deliver(&pool, &with_telegram, started).await;

    assert_eq!(brought, 1);
    assert_eq!(
        report.sent, 1,
        "it goes out when the process starts, not at its next try"
    );
    assert_eq!(sim.sent().len(), 1);
    assert_eq!(state(&pool, id).await.status, "sent");
}

#[sqlx::test]
async fn a_card_put_back_to_wait_for_a_missing_channel_wakes_no_dispatcher_but_bringing_it_forward_does(
    pool: PgPool,
) {
    let mut listener = listening(&pool).await;
    // The database's clock: the trigger tells "later" by it.
    let now = Utc::now();
    bind_team_chat(&pool, now).await;
    let card = NewPost {
        due_at: now,
        ..card("esc:1:opened:team", Recipient::TeamChat, "Acme: NPS 3")
    };
    queue(&pool, &card).await;
    let patience = Duration::from_millis(300);
    assert_eq!(
        notified(&mut listener, patience).await,
        1,
        "a new card wakes it"
    );

    let report = deliver(&pool, &without_telegram(), now).await;

    assert_eq!(report.waiting, 1);
    assert_eq!(
        notified(&mut listener, patience).await,
        0,
        "the pass that put it back knows when it is due"
    );
    let brought = bring_forward_posts_for(&pool, &channels(&telegram()), Utc::now())
        .await
        .unwrap();
    assert_eq!(brought, 1);
    assert_eq!(notified(&mut listener, patience).await, 1);
}

#[sqlx::test]
async fn a_team_chat_on_a_channel_this_process_lacks_keeps_its_posts_waiting(pool: PgPool) {
    let sim = telegram();
    let channels = channels(&sim);
    team_chat::bind(&pool, ChannelKind::Simulated, "cs-team", None, t0())
        .await
        .unwrap();
    let id = queue(
        &pool,
        &card("esc:1:opened:team", Recipient::TeamChat, "Acme: NPS 3"),
    )
    .await;

    let report = deliver(&pool, &channels, t0()).await;

    assert_eq!(report.waiting, 1);
    let s = state(&pool, id).await;
    assert_eq!(s.status, "planned");
    assert_eq!(s.tries, 0);
    assert!(
        s.status_reason.unwrap().contains("no simulated channel"),
        "the reason names the missing channel"
    );
    assert!(sim.sent().is_empty());
}

#[sqlx::test]
async fn a_temporary_failure_is_retried_after_a_backoff_and_then_delivered(pool: PgPool) {
    let sim = telegram();
    let channels = channels(&sim);
    bind_team_chat(&pool, t0()).await;
    let id = queue(
        &pool,
        &card("esc:1:opened:team", Recipient::TeamChat, "Acme: NPS 3"),
    )
    .await;
    sim.fail_transiently(TEAM_CHAT, 1);

    let first = deliver(&pool, &channels, t0()).await;
    let retry_at = state(&pool, id).await.next_attempt_at.unwrap();
    let early = deliver(&pool, &channels, retry_at - TimeDelta::seconds(1)).await;
    let second = deliver(&pool, &channels, retry_at).await;

    assert_eq!(first.retried, 1);
    assert!(retry_at > t0(), "the retry waits");
    assert_eq!(early, PostDeliveryReport::default());
    assert_eq!(second.sent, 1);
    assert_eq!(sim.sent().len(), 1);
    let s = state(&pool, id).await;
    assert_eq!(s.status, "sent");
    assert_eq!(s.tries, 2);
}

#[sqlx::test]
async fn a_post_that_keeps_failing_temporarily_fails_after_the_last_attempt(pool: PgPool) {
    let sim = telegram();
    let channels = channels(&sim);
    bind_team_chat(&pool, t0()).await;
    let id = queue(
        &pool,
        &card("esc:1:opened:team", Recipient::TeamChat, "Acme: NPS 3"),
    )
    .await;
    sim.fail_transiently(TEAM_CHAT, 100);

    let mut now = t0();
    for _ in 0..config().max_attempts {
        deliver(&pool, &channels, now).await;
        now = state(&pool, id).await.next_attempt_at.unwrap_or(now) + TimeDelta::seconds(1);
    }

    let s = state(&pool, id).await;
    assert_eq!(s.status, "failed");
    assert_eq!(s.tries, config().max_attempts);
    assert!(
        s.status_reason
            .unwrap()
            .starts_with("gave up after 4 attempts")
    );
    assert!(sim.sent().is_empty());
}

#[sqlx::test]
async fn a_post_the_channel_refuses_fails_at_once_with_the_reason(pool: PgPool) {
    let sim = telegram();
    let channels = channels(&sim);
    let dana = staff(&pool, "Dana", Some(4242)).await;
    let id = queue(
        &pool,
        &card(
            "esc:1:ladder:dana",
            Recipient::Staff(dana),
            "Acme needs you",
        ),
    )
    .await;
    sim.fail_permanently("4242", PermanentReason::UnknownChat);

    let report = deliver(&pool, &channels, t0()).await;
    let later = deliver(&pool, &channels, t0() + TimeDelta::days(1)).await;

    assert_eq!(report.failed, 1);
    assert_eq!(later, PostDeliveryReport::default());
    let s = state(&pool, id).await;
    assert_eq!(s.status, "failed");
    assert_eq!(
        s.status_reason.as_deref(),
        Some("telegram refused it for good (unknown_chat): simulated: unknown_chat")
    );
    assert_eq!(sim.send_attempts("post:esc:1:ladder:dana"), 1);
}

#[sqlx::test]
async fn a_crash_between_sending_and_recording_leaves_the_post_unknown_and_never_resent(
    pool: PgPool,
) {
    let sim = telegram();
    let channels = channels(&sim);
    bind_team_chat(&pool, t0()).await;
    let id = queue(
        &pool,
        &card("esc:1:opened:team", Recipient::TeamChat, "Acme: NPS 3"),
    )
    .await;
    sim.crash_after_delivery(TEAM_CHAT);

    // The worker hangs inside the send; dropping its future is the process dying.
    tokio::select! {
        _ = deliver(&pool, &channels, t0()) => panic!("the crashed send returned"),
        _ = sim.crashed() => {}
    }
    until_in_flight_statements_land(&pool).await;
    assert_eq!(state(&pool, id).await.status, "sending");

    expire_leases(&pool).await;
    let (rescued, reconciled) = rescue_and_reconcile_posts(&pool, &channels, lease_expired())
        .await
        .unwrap();
    let report = deliver(&pool, &channels, lease_expired() + TimeDelta::days(1)).await;

    assert_eq!(rescued.unknown, 1);
    assert_eq!(reconciled.still_unknown, 1);
    assert_eq!(report, PostDeliveryReport::default());
    assert_eq!(sim.total_send_attempts(), 1);
    let s = state(&pool, id).await;
    assert_eq!(s.status, "unknown");
    assert_eq!(s.status_reason.as_deref(), Some(UNSUPPORTED_LOOKUP_REASON));
    assert_eq!(s.sent_address.as_deref(), Some(TEAM_CHAT));
}

#[sqlx::test]
async fn a_channel_that_can_tell_settles_an_interrupted_post_as_sent_without_a_second_one(
    pool: PgPool,
) {
    let sim = Arc::new(SimulatedChannel::new().with_kind(ChannelKind::Telegram));
    let channels = channels(&sim);
    bind_team_chat(&pool, t0()).await;
    let id = queue(
        &pool,
        &card("esc:1:opened:team", Recipient::TeamChat, "Acme: NPS 3"),
    )
    .await;
    sim.crash_after_delivery(TEAM_CHAT);
    tokio::select! {
        _ = deliver(&pool, &channels, t0()) => panic!("the crashed send returned"),
        _ = sim.crashed() => {}
    }
    until_in_flight_statements_land(&pool).await;

    expire_leases(&pool).await;
    let (_, reconciled) = rescue_and_reconcile_posts(&pool, &channels, lease_expired())
        .await
        .unwrap();

    assert_eq!(reconciled.sent, 1);
    let s = state(&pool, id).await;
    assert_eq!(s.status, "sent");
    assert_eq!(
        s.provider_message_id,
        Some(sim.sent()[0].provider_message_id.clone())
    );
    assert_eq!(sim.sent().len(), 1);
}

#[sqlx::test]
async fn a_claimed_post_whose_worker_vanished_is_requeued_and_a_stale_result_is_refused(
    pool: PgPool,
) {
    let sim = telegram();
    let channels = channels(&sim);
    bind_team_chat(&pool, t0()).await;
    let id = queue(
        &pool,
        &card("esc:1:opened:team", Recipient::TeamChat, "Acme: NPS 3"),
    )
    .await;
    let lease = TimeDelta::seconds(config().lease_seconds as i64);
    let stale = PostTable::claim_due(&pool, "doomed", t0(), lease, 10)
        .await
        .unwrap()[0];

    expire_leases(&pool).await;
    let (rescued, _) = rescue_and_reconcile_posts(&pool, &channels, lease_expired())
        .await
        .unwrap();
    let report = deliver(&pool, &channels, lease_expired()).await;
    let sent = Settle::Sent {
        provider_id: "from-the-dead".into(),
    };
    let late = post_queue::settle(&pool, stale, sent, lease_expired()).await;

    assert_eq!(rescued.requeued, 1);
    assert_eq!(report.sent, 1);
    assert!(matches!(late, Err(PostQueueError::LeaseLost(_))));
    assert_eq!(sim.sent().len(), 1);
    let s = state(&pool, id).await;
    assert_eq!(s.status, "sent");
    assert_ne!(s.provider_message_id.as_deref(), Some("from-the-dead"));
}

fn nine() -> ClockTime {
    ClockTime::hm(9, 0)
}

#[sqlx::test]
async fn the_daily_digest_gathers_a_csms_items_into_one_post_and_leaves_later_ones_for_tomorrow(
    pool: PgPool,
) {
    let sim = telegram();
    let channels = channels(&sim);
    bind_team_chat(&pool, t0()).await;
    let dana = staff(&pool, "Dana", Some(4242)).await;
    let acme = account(&pool, "Acme").await;
    let globex = account(&pool, "Globex").await;
    let dana_r = Recipient::Staff(dana);
    let early = t0() - TimeDelta::hours(2);
    let usage = digest_item(
        &pool,
        "esc:1:realert:dana",
        dana_r,
        Some(acme),
        "Usage fell by 35%\nmore",
        early,
    )
    .await;
    let ticket = digest_item(
        &pool,
        "esc:2:opened:dana",
        dana_r,
        Some(globex),
        "A critical ticket is open for 9 days",
        t0() - TimeDelta::hours(1),
    )
    .await;
    let team = digest_item(
        &pool,
        "esc:3:opened:team",
        Recipient::TeamChat,
        Some(acme),
        "Acme went quiet",
        early,
    )
    .await;
    let after_cutoff = digest_item(
        &pool,
        "esc:4:opened:dana",
        dana_r,
        Some(acme),
        "Renewal in 55 days, health 48",
        t0() + TimeDelta::hours(1),
    )
    .await;

    let at = t0() + TimeDelta::hours(2);
    let report = compose_daily_digests(&pool, chrono_tz::UTC, nine(), at)
        .await
        .unwrap();
    let delivered = deliver(&pool, &channels, at).await;

    assert_eq!(report.date, NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
    assert_eq!(report.cutoff, t0());
    assert_eq!((report.recipients, report.posts, report.items), (2, 2, 3));
    assert_eq!(delivered.sent, 2);
    let written = digests(&pool).await;
    assert_eq!(written.len(), 2);
    let (key, recipient, body) = &written[0];
    assert_eq!(key, &format!("digest:staff-{dana}:2026-03-02"));
    assert_eq!(*recipient, Some(dana.0));
    assert_eq!(
        body,
        "Daily digest, 2026-03-02: 2 things that did not need you at once.\n\n\
         • Acme: Usage fell by 35%\n\
         • Globex: A critical ticket is open for 9 days"
    );
    assert_eq!(written[1].0, "digest:team:2026-03-02");
    let to_dana: Vec<_> = sim
        .sent()
        .into_iter()
        .filter(|m| m.message.to.address == "4242")
        .collect();
    assert_eq!(to_dana.len(), 1);
    assert_eq!(&to_dana[0].message.text, body);
    for item in [usage, ticket, team] {
        let s = state(&pool, item).await;
        assert_eq!(s.status, "digested");
        assert!(s.digest_id.is_some());
    }
    assert_eq!(state(&pool, after_cutoff).await.status, "planned");

    let tomorrow = t0() + TimeDelta::days(1) + TimeDelta::minutes(1);
    let next = compose_daily_digests(&pool, chrono_tz::UTC, nine(), tomorrow)
        .await
        .unwrap();
    assert_eq!((next.recipients, next.items), (1, 1));
    assert_eq!(state(&pool, after_cutoff).await.status, "digested");
    let written = digests(&pool).await;
    assert_eq!(written[1].0, format!("digest:staff-{dana}:2026-03-03"));
    assert!(
        written[1]
            .2
            .ends_with("• Acme: Renewal in 55 days, health 48")
    );
}

#[sqlx::test]
async fn running_the_daily_digest_twice_or_at_once_posts_it_once_and_loses_nothing(pool: PgPool) {
    let dana = staff(&pool, "Dana", Some(4242)).await;
    let dana_r = Recipient::Staff(dana);
    let first = digest_item(
        &pool,
        "esc:1:opened:dana",
        dana_r,
        None,
        "Health turned red",
        t0() - TimeDelta::hours(1),
    )
    .await;
    let at = t0() + TimeDelta::minutes(1);

    let (a, b) = tokio::join!(
        compose_daily_digests(&pool, chrono_tz::UTC, nine(), at),
        compose_daily_digests(&pool, chrono_tz::UTC, nine(), at),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    // Queued late, but due before today's cut-off: today's digest already went, so it waits.
    let late = digest_item(
        &pool,
        "esc:2:opened:dana",
        dana_r,
        None,
        "Usage fell by 40%",
        t0() - TimeDelta::minutes(30),
    )
    .await;
    let again = compose_daily_digests(&pool, chrono_tz::UTC, nine(), at + TimeDelta::hours(3))
        .await
        .unwrap();

    assert_eq!(a.posts + b.posts, 1);
    assert_eq!(a.items + b.items, 1);
    assert_eq!(again.posts, 0);
    assert_eq!(again.deferred, 1);
    assert_eq!(digests(&pool).await.len(), 1);
    assert_eq!(state(&pool, first).await.status, "digested");
    assert_eq!(state(&pool, late).await.status, "planned");

    let tomorrow = compose_daily_digests(&pool, chrono_tz::UTC, nine(), t0() + TimeDelta::days(1))
        .await
        .unwrap();
    assert_eq!(tomorrow.items, 1);
    assert_eq!(state(&pool, late).await.status, "digested");
    assert_eq!(digests(&pool).await.len(), 2);
}

#[sqlx::test]
async fn the_digest_goes_out_at_the_time_set_in_the_teams_zone(pool: PgPool) {
    let dana = staff(&pool, "Dana", Some(4242)).await;
    digest_item(
        &pool,
        "esc:1:opened:dana",
        Recipient::Staff(dana),
        None,
        "Health turned red",
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap(),
    )
    .await;
    let almaty: chrono_tz::Tz = "Asia/Almaty".parse().unwrap();
    // 09:00 in Almaty (UTC+5) is 04:00 UTC.
    let before = Utc.with_ymd_and_hms(2026, 3, 2, 3, 59, 0).unwrap();
    let after = Utc.with_ymd_and_hms(2026, 3, 2, 4, 0, 0).unwrap();

    let early = compose_daily_digests(&pool, almaty, nine(), before)
        .await
        .unwrap();
    let due = compose_daily_digests(&pool, almaty, nine(), after)
        .await
        .unwrap();

    // Before 09:00 local, the latest digest time is yesterday's, when the item was not due.
    assert_eq!(early.items, 0);
    assert_eq!(due.items, 1);
    assert_eq!(
        digests(&pool).await[0].0,
        format!("digest:staff-{dana}:2026-03-02")
    );
}

/// Runs the binary on the test's database, with no configuration from the environment.
async fn touchbot(pool: &PgPool, args: &[&str]) -> Output {
    let database = pool
        .connect_options()
        .get_database()
        .expect("the test database has a name")
        .to_string();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_touchbot"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TOUCHBOT_") {
            command.env_remove(key);
        }
    }
    command
        .args(args)
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:5432/{database}"),
        )
        .output()
        .await
        .expect("the touchbot binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[sqlx::test]
async fn team_show_says_how_to_bind_a_chat_and_then_which_one_is_bound(pool: PgPool) {
    queue(
        &pool,
        &card("esc:1:opened:team", Recipient::TeamChat, "Acme: NPS 3"),
    )
    .await;

    let before = touchbot(&pool, &["team", "show"]).await;
    let set = touchbot(
        &pool,
        &[
            "team",
            "set-chat",
            "--channel",
            "telegram",
            "--address",
            "-1001234567890",
        ],
    )
    .await;
    let after = touchbot(&pool, &["team", "show"]).await;

    assert!(before.status.success(), "{}", stderr(&before));
    assert!(stdout(&before).contains("No team chat is bound yet"));
    assert!(stdout(&before).contains("touchbot team set-chat --channel telegram"));
    assert!(stdout(&before).contains("1 post(s) for the team chat have not gone out yet"));
    assert!(set.status.success(), "{}", stderr(&set));
    assert!(stdout(&after).contains("The team chat is telegram chat -1001234567890"));
    let bound = team_chat::get(&pool).await.unwrap().unwrap();
    assert_eq!(bound.channel, ChannelKind::Telegram);
    assert_eq!(bound.address, "-1001234567890");
}

#[sqlx::test]
async fn team_set_chat_refuses_a_bad_chat_and_says_what_to_give(pool: PgPool) {
    let not_an_id = touchbot(
        &pool,
        &[
            "team",
            "set-chat",
            "--channel",
            "telegram",
            "--address",
            "@cs_team",
        ],
    )
    .await;
    let whatsapp = touchbot(
        &pool,
        &[
            "team",
            "set-chat",
            "--channel",
            "whatsapp",
            "--address",
            "+77010000000",
        ],
    )
    .await;
    let unknown = touchbot(
        &pool,
        &["team", "set-chat", "--channel", "slack", "--address", "x"],
    )
    .await;

    assert_eq!(not_an_id.status.code(), Some(2));
    assert!(
        stderr(&not_an_id).contains("numeric id"),
        "{}",
        stderr(&not_an_id)
    );
    assert_eq!(whatsapp.status.code(), Some(2));
    assert!(
        stderr(&whatsapp).contains("--channel telegram"),
        "{}",
        stderr(&whatsapp)
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("telegram"),
        "{}",
        stderr(&unknown)
    );
    assert_eq!(team_chat::get(&pool).await.unwrap(), None);
}

/// A connection listening where the post dispatcher listens.
async fn listening(pool: &PgPool) -> sqlx::postgres::PgListener {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool)
        .await
        .unwrap();
    listener.listen(post_queue::NOTIFY_CHANNEL).await.unwrap();
    listener
}

/// Whatever the dispatcher's LISTEN connection has been told, waiting at most `patience`.
async fn notified(listener: &mut sqlx::postgres::PgListener, patience: Duration) -> usize {
    let mut count = 0;
    while let Ok(Ok(Some(_))) = tokio::time::timeout(patience, listener.try_recv()).await {
        count += 1;
    }
    count
}

#[sqlx::test]
async fn an_answer_its_channel_queued_does_not_wake_the_post_dispatcher_but_a_card_wakes_it_once(
    pool: PgPool,
) {
    let mut listener = listening(&pool).await;
    let account = common::account(&pool, "Acme").await;
    let contact = common::contact(&pool, account, "+77011234567").await;
    let answer = |n: usize| NewPost {
        idempotency_key: format!("answer:wamid.{n}:0"),
        kind: PostKind::Answer,
        account_id: Some(account),
        recipient: Recipient::Contact(contact),
        buttons: vec![],
        ..card("", Recipient::TeamChat, "Thank you!")
    };
    let answers: Vec<NewPost> = (0..3).map(answer).collect();
    enqueue_many(&pool, &answers, t0()).await.unwrap();
    let patience = Duration::from_millis(300);
    assert_eq!(notified(&mut listener, patience).await, 0);

    let cards: Vec<NewPost> = (0..3)
        .map(|n| {
            card(
                &format!("esc:{n}:opened:team"),
                Recipient::TeamChat,
                "Acme: NPS 3",
            )
        })
        .collect();
    enqueue_many(&pool, &cards, t0()).await.unwrap();
    assert_eq!(notified(&mut listener, patience).await, 1);

    // An answer handed back to the queue (its chat not ready, a retry) is the dispatcher's.
    sqlx::query("update staff_posts set status = 'claimed' where kind = 'answer'")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("update staff_posts set status = 'planned' where kind = 'answer'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(notified(&mut listener, patience).await, 1);
}

#[sqlx::test]
async fn a_reply_for_a_contact_who_has_not_joined_waits_and_goes_out_as_soon_as_they_join(
    pool: PgPool,
) {
    // The database's clock: the join brings the reply forward to its own now.
    let now = Utc::now();
    let account = common::account(&pool, "Acme").await;
    let dana: i64 = sqlx::query_scalar(
        "insert into contacts (account_id, name, role, channel)
         values ($1, 'Dana', 'champion', 'telegram') returning id",
    )
    .bind(account.0)
    .fetch_one(&pool)
    .await
    .unwrap();
    let reply = NewPost {
        idempotency_key: "relay-reply:1".into(),
        kind: PostKind::RelayReply,
        account_id: Some(account),
        recipient: Recipient::Contact(ContactId(dana)),
        buttons: vec![],
        due_at: now,
        ..card("", Recipient::TeamChat, "We are on it, Dana.")
    };
    let id = queue(&pool, &reply).await;
    let sim = telegram();
    let with_telegram = channels(&sim);
    let mut at = now;
    for _ in 0..3 {
        let report = deliver(&pool, &with_telegram, at).await;
        assert_eq!(report.waiting, 1, "nowhere to send it yet");
        at = state(&pool, id).await.next_attempt_at.unwrap();
    }
    assert!(
        at - now > TimeDelta::seconds(config().backoff_base_seconds as i64 * 2),
        "each claim waits longer"
    );
    let mut listener = listening(&pool).await;

    let invite = touchbot::storage::invites::issue(&pool, ContactId(dana), 14, now)
        .await
        .unwrap();
    touchbot::storage::invites::redeem(&pool, &invite.code, "4242", now)
        .await
        .unwrap();

    assert_eq!(
        notified(&mut listener, Duration::from_millis(300)).await,
        1,
        "the join wakes the dispatcher"
    );
    let report = deliver(&pool, &with_telegram, Utc::now()).await;
    assert_eq!(report.sent, 1, "it goes out at once, not at its next try");
    let sent = sim.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message.to.address, "4242");
    assert_eq!(sent[0].message.text, "We are on it, Dana.");
}
