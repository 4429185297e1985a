//! Telegram end to end: the real teloxide client against a fake Bot API server on a local
//! port, with a real database. The bot reads updates by long polling as in production; touches
//! and staff posts are delivered by calling the dispatchers directly, at the wall clock's now.

mod common;
mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use tokio::net::TcpListener;
use touchbot::channel::ratelimit::{ChannelLimit, RateLimits};
use touchbot::channel::{Address, Channel, Channels, OutboundMessage};
use touchbot::config::Settings;
use touchbot::domain::{AccountId, ChannelKind, ContactId, ContactRole, Segment, StaffRole};
use touchbot::messages::Messages;
use touchbot::outbound::dispatcher::{DeliveryReport, DispatcherConfig, deliver_due};
use touchbot::outbound::planner::replan_account;
use touchbot::outbound::render::TemplateRenderer;
use touchbot::staff_posts::dispatcher::deliver_due_posts;
use touchbot::storage::{accounts, contacts, invites, staff, team_chat};
use touchbot::telegram::TelegramChannel;
use touchbot::telegram::settings::Secret;

use support::bot::{RunningBot, run_bot};
use support::fake_telegram::{BOT_USERNAME, Failure, FakeTelegram, TOKEN};

fn settings() -> Settings {
    let mut s = Settings::default();
    s.telegram.bot_username = Some(BOT_USERNAME.into());
    s.telegram.poll_timeout_seconds = 1;
    // Telegram's real pace (1 message a second per chat) would only slow the tests down.
    s.dispatcher.rate_limits = unlimited();
    s
}

fn unlimited() -> RateLimits {
    RateLimits {
        telegram: ChannelLimit::unlimited(),
        whatsapp: ChannelLimit::unlimited(),
        simulated: ChannelLimit::unlimited(),
    }
}

fn dispatch_config() -> DispatcherConfig {
    DispatcherConfig {
        // One at a time, so the order of sends is the order of the queue.
        workers: 1,
        rate_limits: unlimited(),
        ..DispatcherConfig::default()
    }
}

fn telegram(fake: &FakeTelegram, pool: &PgPool) -> Channels {
    Channels::new(unlimited()).with(Arc::new(TelegramChannel::new(fake.bot(), pool.clone())))
}

async fn deliver(pool: &PgPool, fake: &FakeTelegram, now: DateTime<Utc>) -> DeliveryReport {
    let renderer = TemplateRenderer::new(Arc::new(Messages::load().unwrap()));
    deliver_due(
        pool,
        &telegram(fake, pool),
        &renderer,
        &dispatch_config(),
        "test-worker",
        now,
    )
    .await
    .unwrap()
}

async fn account(pool: &PgPool, name: &str, csm: Option<touchbot::domain::StaffId>) -> AccountId {
    let new = accounts::NewAccount {
        name: name.into(),
        segment: Segment::Smb,
        arr_cents: 0,
        contract_start: Utc::now().date_naive(),
        go_live: None,
        renewal_date: None,
        csm_id: csm,
        time_zone: "UTC".into(),
        locale: "en".into(),
    };
    accounts::create(pool, &new).await.unwrap().id
}

async fn csm(pool: &PgPool, name: &str) -> touchbot::domain::StaffId {
    staff::add(
        pool,
        &staff::NewStaff {
            name: name.into(),
            role: StaffRole::Csm,
            telegram_user_id: None,
            locale: "en".into(),
            manager_id: None,
        },
    )
    .await
    .unwrap()
    .id
}

/// A Telegram contact; `chat` None for one who has not joined yet.
async fn contact(pool: &PgPool, account: AccountId, name: &str, chat: Option<i64>) -> ContactId {
    let new = contacts::NewContact {
        account_id: account,
        name: name.into(),
        role: ContactRole::Champion,
        channel: ChannelKind::Telegram,
        address: chat.map(|c| c.to_string()),
        time_zone: None,
        locale: None,
    };
    contacts::add(pool, &new, Utc::now()).await.unwrap().id
}

/// An NPS survey sent to the contact's chat; returns the touch and the message as sent.
async fn sent_nps(
    pool: &PgPool,
    fake: &FakeTelegram,
    account: AccountId,
    contact: ContactId,
    chat: i64,
) -> (i64, support::fake_telegram::Sent) {
    let now = Utc::now();
    let touch = common::touch(
        pool,
        account,
        contact,
        "nps-90",
        "nps",
        now - TimeDelta::minutes(1),
    )
    .await;
    let report = deliver(pool, fake, now).await;
    assert_eq!(report.sent, 1, "{report:?}");
    let before = fake.sent_to(chat).len();
    (touch.0, fake.message(chat, before).await)
}

async fn address(pool: &PgPool, id: ContactId) -> Option<String> {
    contacts::get(pool, id).await.unwrap().unwrap().address
}

#[sqlx::test]
async fn a_contact_who_opens_their_link_is_bound_to_the_chat_and_gets_the_welcome(pool: PgPool) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let northwind = account(&pool, "Northwind", None).await;
    let dana = contact(&pool, northwind, "Dana Ito", None).await;
    let now = Utc::now();
    replan_account(&pool, &settings.calendar, northwind, now)
        .await
        .unwrap();
    let invite = invites::issue(&pool, dana, settings.telegram.invite_days, now)
        .await
        .unwrap();
    let link = settings.telegram.join_link(&invite.code).unwrap();
    assert_eq!(
        link,
        format!("https://t.me/{BOT_USERNAME}?start={}", invite.code)
    );

    let bot = run_bot(&pool, &fake, &settings);
    fake.push_text(5001, &format!("/start {}", invite.code));
    let greeting = fake.message(5001, 1).await;
    bot.stop().await;

    assert!(
        greeting.text.contains("Hi Dana, you're connected"),
        "{}",
        greeting.text
    );
    assert_eq!(address(&pool, dana).await.as_deref(), Some("5001"));
    let welcome = sqlx::query!(
        "select status, due_at from touches where contact_id = $1 and kind = 'welcome'",
        dana.0
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        welcome.status, "planned",
        "the welcome waits for its send window"
    );

    let report = deliver(&pool, &fake, welcome.due_at.max(Utc::now())).await;
    assert_eq!(report.sent, 1, "{report:?}");
    let sent = fake.message(5001, 2).await;
    assert!(sent.text.contains("welcome aboard"), "{}", sent.text);
}

#[sqlx::test]
async fn a_used_expired_or_unknown_link_gets_a_polite_answer_and_binds_nothing(pool: PgPool) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let northwind = account(&pool, "Northwind", None).await;
    let dana = contact(&pool, northwind, "Dana", None).await;
    let lee = contact(&pool, northwind, "Lee", None).await;
    let now = Utc::now();
    let good = invites::issue(&pool, dana, 14, now).await.unwrap();
    let old = invites::issue(&pool, lee, 14, now - TimeDelta::days(15))
        .await
        .unwrap();

    let bot = run_bot(&pool, &fake, &settings);
    fake.push_text(5001, &format!("/start {}", good.code));
    fake.message(5001, 1).await;
    fake.push_text(5002, &format!("/start {}", good.code));
    let reused = fake.message(5002, 1).await;
    fake.push_text(5003, &format!("/start {}", old.code));
    let expired = fake.message(5003, 1).await;
    fake.push_text(5004, "/start not-a-real-code");
    let unknown = fake.message(5004, 1).await;
    fake.push_text(5001, &format!("/start {}", good.code));
    let again = fake.message(5001, 2).await;
    bot.stop().await;

    assert!(
        reused.text.contains("doesn't work any more"),
        "{}",
        reused.text
    );
    assert!(expired.text.contains("has expired"), "{}", expired.text);
    assert!(
        unknown.text.contains("doesn't work any more"),
        "{}",
        unknown.text
    );
    assert!(again.text.contains("already connected"), "{}", again.text);
    assert_eq!(address(&pool, dana).await.as_deref(), Some("5001"));
    assert_eq!(address(&pool, lee).await, None);
}

#[sqlx::test]
async fn an_nps_tap_records_the_score_asks_why_once_and_keeps_the_reason(pool: PgPool) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let northwind = account(&pool, "Northwind", None).await;
    let dana = contact(&pool, northwind, "Dana", Some(6001)).await;
    let (touch, survey) = sent_nps(&pool, &fake, northwind, dana, 6001).await;

    let labels: Vec<&str> = survey
        .buttons
        .iter()
        .flatten()
        .map(|(l, _)| l.as_str())
        .collect();
    assert_eq!(
        labels,
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]
    );
    assert_eq!(survey.buttons[0][3].1, format!("nps:{touch}:3"));
    assert_eq!(fake.sent_to(6001).len(), 1, "the survey is one message");

    let bot = run_bot(&pool, &fake, &settings);
    fake.push_tap(6001, survey.message_id, &format!("nps:{touch}:7"));
    let why = fake.message(6001, 2).await;
    fake.push_text(6001, "Onboarding took longer than promised");
    let thanks = fake.message(6001, 3).await;
    bot.stop().await;

    assert!(why.text.contains("main reason"), "{}", why.text);
    assert!(
        thanks.text.contains("We'll keep working"),
        "{}",
        thanks.text
    );
    assert_eq!(fake.calls("answerCallbackQuery").len(), 1);
    assert_eq!(
        fake.calls("editMessageReplyMarkup")[0].body["message_id"],
        survey.message_id,
        "the answered survey loses its buttons"
    );
    let reply = sqlx::query!(
        "select kind, score, comment from replies where touch_id = $1",
        touch
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (reply.kind.as_str(), reply.score, reply.comment.as_deref()),
        ("nps", Some(7), Some("Onboarding took longer than promised"))
    );
}

#[sqlx::test]
async fn a_typed_score_with_a_comment_is_stored_without_asking_why(pool: PgPool) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let northwind = account(&pool, "Northwind", None).await;
    let dana = contact(&pool, northwind, "Dana", Some(6002)).await;
    let (touch, _) = sent_nps(&pool, &fake, northwind, dana, 6002).await;

    let bot = run_bot(&pool, &fake, &settings);
    fake.push_text(6002, "восемь — всё хорошо");
    let thanks = fake.message(6002, 2).await;
    bot.stop().await;

    assert!(
        thanks.text.contains("We'll keep working"),
        "{}",
        thanks.text
    );
    let reply = sqlx::query!(
        "select score, comment from replies where touch_id = $1",
        touch
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (reply.score, reply.comment.as_deref()),
        (Some(8), Some("всё хорошо"))
    );
}

#[sqlx::test]
async fn a_thank_you_telegram_holds_back_for_a_moment_is_sent_later_and_once(pool: PgPool) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let northwind = account(&pool, "Northwind", None).await;
    let dana = contact(&pool, northwind, "Dana", Some(6006)).await;
    sent_nps(&pool, &fake, northwind, dana, 6006).await;

    let bot = run_bot(&pool, &fake, &settings);
    fake.fail("sendMessage", Some(6006), Failure::RetryAfter(1), 1);
    let update = fake.push_text(6006, "9, great support");
    for _ in 0..100 {
        if fake.confirmed() > update {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bot.stop().await;
    assert_eq!(fake.sent_to(6006).len(), 1, "only the survey so far");

    // The answer waits in the queue like any post, for the post dispatcher.
    let later = Utc::now() + TimeDelta::minutes(1);
    let again = || async {
        deliver_due_posts(
            &pool,
            &telegram(&fake, &pool),
            &dispatch_config(),
            "w",
            later,
        )
        .await
        .unwrap()
    };
    assert_eq!(again().await.sent, 1);
    assert_eq!(again().await.sent, 0);
    let sent = fake.sent_to(6006);
    assert_eq!(sent.len(), 2, "the survey and one thank-you");
    assert!(sent[1].text.contains("Thank"), "{}", sent[1].text);
}

#[sqlx::test]
async fn text_that_is_not_a_score_gets_a_friendly_re_ask(pool: PgPool) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let northwind = account(&pool, "Northwind", None).await;
    let dana = contact(&pool, northwind, "Dana", Some(6003)).await;
    sent_nps(&pool, &fake, northwind, dana, 6003).await;

    let bot = run_bot(&pool, &fake, &settings);
    fake.push_text(6003, "hmm, hard to say");
    let reask = fake.message(6003, 2).await;
    bot.stop().await;

    assert!(reask.text.contains("number from 0 to 10"), "{}", reask.text);
}

#[sqlx::test]
async fn a_second_tap_on_an_old_keyboard_leaves_the_first_answer_standing(pool: PgPool) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let northwind = account(&pool, "Northwind", None).await;
    let dana = contact(&pool, northwind, "Dana", Some(6004)).await;
    let (touch, survey) = sent_nps(&pool, &fake, northwind, dana, 6004).await;

    let bot = run_bot(&pool, &fake, &settings);
    fake.push_tap(6004, survey.message_id, &format!("nps:{touch}:4"));
    fake.message(6004, 2).await;
    fake.push_tap(6004, survey.message_id, &format!("nps:{touch}:10"));
    fake.wait_until("the second tap's answer", |f| {
        f.calls("answerCallbackQuery").len() == 2
    })
    .await;
    bot.stop().await;

    let second = &fake.calls("answerCallbackQuery")[1].body;
    assert!(
        second["text"]
            .as_str()
            .unwrap_or_default()
            .contains("already answered"),
        "{second}"
    );
    assert_eq!(fake.sent_to(6004).len(), 2, "no second thank-you");
    let scores: Vec<Option<i16>> = sqlx::query_scalar!(
        "select score from replies where touch_id = $1 and kind = 'nps'",
        touch
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(scores, [Some(4)]);
}

#[sqlx::test]
async fn stop_opts_the_contact_out_and_start_brings_them_back(pool: PgPool) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let northwind = account(&pool, "Northwind", None).await;
    let dana = contact(&pool, northwind, "Dana", Some(6005)).await;

    let bot = run_bot(&pool, &fake, &settings);
    fake.push_text(6005, "/stop");
    let stopped = fake.message(6005, 1).await;
    let opted_out = contacts::get(&pool, dana).await.unwrap().unwrap().opted_out;
    fake.push_text(6005, "/start");
    let back = fake.message(6005, 2).await;
    fake.push_text(6005, "/start");
    let already = fake.message(6005, 3).await;
    bot.stop().await;

    assert!(
        stopped.text.contains("won't receive surveys"),
        "{}",
        stopped.text
    );
    let opted_out: Vec<&str> = opted_out.iter().map(|c| c.as_str()).collect();
    assert_eq!(opted_out, ["checkin", "survey"]);
    assert!(back.text.contains("Welcome back"), "{}", back.text);
    assert!(already.text.contains("You're all set"), "{}", already.text);
    assert!(
        contacts::get(&pool, dana)
            .await
            .unwrap()
            .unwrap()
            .opted_out
            .is_empty()
    );
}

#[sqlx::test]
async fn a_429_waits_for_retry_after_and_keeps_the_order_without_trying_in_between(pool: PgPool) {
    let fake = FakeTelegram::start().await;
    let northwind = account(&pool, "Northwind", None).await;
    let dana = contact(&pool, northwind, "Dana", Some(7001)).await;
    let now = Utc::now();
    let first = common::touch(
        &pool,
        northwind,
        dana,
        "welcome",
        "welcome",
        now - TimeDelta::minutes(2),
    )
    .await;
    let second = common::touch(
        &pool,
        northwind,
        dana,
        "checkin-1",
        "checkin",
        now - TimeDelta::minutes(1),
    )
    .await;
    fake.fail("sendMessage", Some(7001), Failure::RetryAfter(30), 1);

    let report = deliver(&pool, &fake, now).await;
    assert_eq!((report.sent, report.retried), (0, 2), "{report:?}");
    assert_eq!(
        fake.calls("sendMessage").len(),
        1,
        "one refused try, nothing else"
    );
    for touch in [first, second] {
        let state = common::state(&pool, touch).await;
        assert_eq!(state.status, "planned");
        let at = state.next_attempt_at.map(|t| t.timestamp_micros());
        assert_eq!(at, Some((now + TimeDelta::seconds(30)).timestamp_micros()));
    }

    let early = deliver(&pool, &fake, now + TimeDelta::seconds(29)).await;
    assert_eq!(early.claimed, 0, "nothing is tried before retry_after");
    let report = deliver(&pool, &fake, now + TimeDelta::seconds(30)).await;
    assert_eq!(report.sent, 2, "{report:?}");
    let sent = fake.sent_to(7001);
    assert!(sent[0].text.contains("welcome aboard"), "{}", sent[0].text);
    assert!(!sent[1].text.contains("welcome aboard"), "{}", sent[1].text);
}

#[sqlx::test]
async fn a_blocked_bot_or_a_never_started_chat_marks_the_contact_unreachable_with_a_signal(
    pool: PgPool,
) {
    let fake = FakeTelegram::start().await;
    let northwind = account(&pool, "Northwind", None).await;
    let dana = contact(&pool, northwind, "Dana", Some(7101)).await;
    let lee = contact(&pool, northwind, "Lee", Some(7102)).await;
    let now = Utc::now();
    let to_dana = common::touch(&pool, northwind, dana, "welcome:d", "welcome", now).await;
    common::touch(&pool, northwind, lee, "welcome:l", "welcome", now).await;
    fake.fail("sendMessage", Some(7101), Failure::Blocked, 1);
    fake.fail("sendMessage", Some(7102), Failure::CantInitiate, 1);

    let report = deliver(&pool, &fake, now).await;

    assert_eq!(report.failed, 2, "{report:?}");
    assert_eq!(common::state(&pool, to_dana).await.status, "failed");
    let reasons: Vec<Option<String>> = sqlx::query_scalar!(
        "select unreachable_reason from contacts where account_id = $1 order by id",
        northwind.0
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        reasons,
        [Some("blocked".into()), Some("unknown_chat".into())]
    );
    let signals = sqlx::query_scalar!(
        r#"select count(*) as "n!" from signals where account_id = $1 and kind = 'contact_unreachable'"#,
        northwind.0
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(signals, 2);

    // The CS team hears about each once, even if another touch fails the same way later.
    let later = common::touch(&pool, northwind, dana, "checkin:d", "checkin", now).await;
    sqlx::query!(
        "update contacts set unreachable_at = null where id = $1",
        dana.0
    )
    .execute(&pool)
    .await
    .unwrap();
    fake.fail("sendMessage", Some(7101), Failure::Blocked, 1);
    deliver(&pool, &fake, now).await;
    assert_eq!(common::state(&pool, later).await.status, "failed");
    let notices: Vec<String> =
        sqlx::query_scalar!("select body from staff_posts where kind = 'unreachable' order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        notices[0].contains("Dana of Northwind blocked the bot"),
        "{notices:?}"
    );
    assert!(
        notices[1].contains("Lee of Northwind never started the bot"),
        "{notices:?}"
    );
}

#[sqlx::test]
async fn a_detractor_tap_puts_a_card_in_the_team_chat(pool: PgPool) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let aigerim = csm(&pool, "Aigerim").await;
    let northwind = account(&pool, "Northwind", Some(aigerim)).await;
    let dana = contact(&pool, northwind, "Dana", Some(6101)).await;
    team_chat::bind(&pool, ChannelKind::Telegram, "-100777", None, Utc::now())
        .await
        .unwrap();
    let (touch, survey) = sent_nps(&pool, &fake, northwind, dana, 6101).await;

    let bot = run_bot(&pool, &fake, &settings);
    fake.push_tap(6101, survey.message_id, &format!("nps:{touch}:2"));
    fake.message(6101, 2).await;
    bot.stop().await;
    let report = deliver_due_posts(
        &pool,
        &telegram(&fake, &pool),
        &dispatch_config(),
        "test-worker",
        Utc::now(),
    )
    .await
    .unwrap();

    assert!(report.sent >= 1, "{report:?}");
    let card = fake.message(-100777, 1).await;
    assert!(card.text.contains("Northwind"), "{}", card.text);

    // A tap on the card reaches the staff features, and is always answered.
    let (_, take) = card.buttons[0][0].clone();
    assert!(take.starts_with("esc:"), "{take}");
    let bot = run_bot(&pool, &fake, &settings);
    let taps = fake.calls("answerCallbackQuery").len();
    fake.push_tap(-100777, card.message_id, &take);
    fake.wait_until("the card's tap to be answered", |f| {
        f.calls("answerCallbackQuery").len() == taps + 1
    })
    .await;
    bot.stop().await;
}

#[sqlx::test]
async fn a_team_chat_that_became_a_supergroup_keeps_getting_posts(pool: PgPool) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    team_chat::bind(&pool, ChannelKind::Telegram, "-100", None, Utc::now())
        .await
        .unwrap();
    fake.fail("sendMessage", Some(-100), Failure::MigratedTo(-100200), 1);
    let channel = TelegramChannel::new(fake.bot(), pool.clone());
    let message = OutboundMessage {
        idempotency_key: "post-1".into(),
        to: Address {
            channel: ChannelKind::Telegram,
            address: "-100".into(),
        },
        text: "A card for the team".into(),
        buttons: vec![],
        template: None,
    };

    let delivered = channel.send(&message).await.unwrap();

    assert!(delivered.provider_message_id.starts_with("-100200:"));
    assert_eq!(fake.message(-100200, 1).await.text, "A card for the team");
    let bound = team_chat::get(&pool).await.unwrap().unwrap();
    assert_eq!(bound.address, "-100200");

    // The service message about a later upgrade moves it too.
    let bot = run_bot(&pool, &fake, &settings);
    let update = fake.push_migration(-100200, -100300);
    fake.wait_until("the migration to be read", |f| f.confirmed() > update)
        .await;
    bot.stop().await;
    let bound = team_chat::get(&pool).await.unwrap().unwrap();
    assert_eq!(bound.address, "-100300");
}

#[sqlx::test]
async fn the_language_command_offers_each_language_and_a_tap_switches_it(pool: PgPool) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let northwind = account(&pool, "Northwind", None).await;
    let dana = contact(&pool, northwind, "Dana", Some(6201)).await;

    let bot = run_bot(&pool, &fake, &settings);
    fake.push_text(6201, "/language");
    let question = fake.message(6201, 1).await;
    fake.push_tap(6201, question.message_id, "lang:ru");
    fake.wait_until("the question to become the answer", |f| {
        !f.calls("editMessageText").is_empty()
    })
    .await;
    bot.stop().await;

    assert_eq!(
        question.buttons,
        [
            vec![("English".to_string(), "lang:en".to_string())],
            vec![("Русский".to_string(), "lang:ru".to_string())]
        ]
    );
    let edited = &fake.calls("editMessageText")[0].body;
    assert!(
        edited["text"].as_str().unwrap().contains("по-русски"),
        "{edited}"
    );
    let locale = contacts::get(&pool, dana).await.unwrap().unwrap().locale;
    assert_eq!(locale.as_deref(), Some("ru"));
}

#[sqlx::test]
async fn serve_with_a_token_registers_the_menus_and_answers_a_stranger(pool: PgPool) {
    let fake = FakeTelegram::start().await;
    staff::add(
        &pool,
        &staff::NewStaff {
            name: "Aigerim".into(),
            role: StaffRole::Csm,
            telegram_user_id: Some(4242),
            locale: "en".into(),
            manager_id: None,
        },
    )
    .await
    .unwrap();
    let mut settings = settings();
    settings.telegram.token = Some(Secret::from(TOKEN));
    settings.telegram.api_url = Some(Secret::from(fake.url()));
    settings.scheduler.replan_cron = "0 0 0 1 1 * 2099".into();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service = touchbot::startup::start(
        &settings,
        pool.clone(),
        Channels::new(unlimited()),
        listener,
    )
    .await
    .unwrap();

    fake.push_text(8001, "hello?");
    let answer = fake.message(8001, 1).await;
    tokio::time::timeout(Duration::from_secs(20), service.stop())
        .await
        .expect("stop returns")
        .unwrap();

    assert!(
        answer.text.contains("don't know this chat"),
        "{}",
        answer.text
    );
    let scopes: Vec<String> = fake
        .calls("setMyCommands")
        .iter()
        .map(|c| {
            c.body
                .get("scope")
                .map_or("default".into(), |s| s.to_string())
        })
        .collect();
    assert_eq!(scopes.len(), 3, "{scopes:?}");
    assert!(scopes[1].contains("all_group_chats"), "{scopes:?}");
    assert!(scopes[2].contains("4242"), "{scopes:?}");
    let client_menu = &fake.calls("setMyCommands")[0].body["commands"];
    assert!(
        client_menu.to_string().contains("\"stop\""),
        "{client_menu}"
    );
}

/// A bare HTTP/1.1 POST of JSON, with the webhook's secret header if given: the status code.
async fn post_update(
    addr: std::net::SocketAddr,
    path: &str,
    secret: Option<&str>,
    body: &str,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let header = secret.map_or(String::new(), |s| {
        format!("X-Telegram-Bot-Api-Secret-Token: {s}\r\n")
    });
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{header}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[sqlx::test]
async fn in_webhook_mode_only_telegrams_secret_gets_in_and_a_repeated_update_is_handled_once(
    pool: PgPool,
) {
    let fake = FakeTelegram::start().await;
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
        Channels::new(unlimited()),
        listener,
    )
    .await
    .unwrap();
    let addr = service.addr();
    fake.wait_until("the webhook to be set", |f| {
        !f.calls("setWebhook").is_empty()
    })
    .await;
    let update = support::fake_telegram::text_update(41, 9001, "hello?").to_string();

    let forged = post_update(addr, "/telegram/hook", Some("guess"), &update).await;
    let bare = post_update(addr, "/telegram/hook", None, &update).await;
    let replies_to_forged = fake.sent_to(9001).len();
    let first = post_update(addr, "/telegram/hook", Some("s3cret_token-1"), &update).await;
    let again = post_update(addr, "/telegram/hook", Some("s3cret_token-1"), &update).await;
    let replies = fake.sent_to(9001);
    tokio::time::timeout(Duration::from_secs(20), service.stop())
        .await
        .expect("stop returns")
        .unwrap();

    let set = &fake.calls("setWebhook")[0].body;
    assert_eq!(set["url"], "https://bot.example.com/telegram/hook");
    assert_eq!(set["secret_token"], "s3cret_token-1");
    assert_eq!((forged, bare), (401, 401));
    assert_eq!(replies_to_forged, 0, "a refused request is not handled");
    assert_eq!((first, again), (200, 200));
    assert_eq!(replies.len(), 1, "the repeated update is not handled again");
    assert!(
        replies[0].text.contains("don't know this chat"),
        "{}",
        replies[0].text
    );
    assert!(
        fake.calls("getUpdates").is_empty(),
        "no polling in webhook mode"
    );
}

#[sqlx::test]
async fn a_contact_who_had_blocked_the_bot_and_writes_again_is_reachable_again(pool: PgPool) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let northwind = account(&pool, "Northwind", None).await;
    let dana = contact(&pool, northwind, "Dana", Some(6301)).await;
    common::touch(&pool, northwind, dana, "welcome", "welcome", Utc::now()).await;
    fake.fail("sendMessage", Some(6301), Failure::Blocked, 1);
    deliver(&pool, &fake, Utc::now()).await;
    let blocked = contacts::get(&pool, dana).await.unwrap().unwrap();

    let bot = run_bot(&pool, &fake, &settings);
    fake.push_text(6301, "/start");
    fake.message(6301, 1).await;
    bot.stop().await;

    assert_eq!(blocked.unreachable_reason.as_deref(), Some("blocked"));
    let back = contacts::get(&pool, dana).await.unwrap().unwrap();
    assert_eq!(back.unreachable_reason, None);
}

/// A CSM with a Telegram account, who can use the staff commands and buttons.
async fn csm_on_telegram(pool: &PgPool, name: &str, user: i64) -> touchbot::domain::StaffId {
    staff::add(
        pool,
        &staff::NewStaff {
            name: name.into(),
            role: StaffRole::Csm,
            telegram_user_id: Some(user),
            locale: "en".into(),
            manager_id: None,
        },
    )
    .await
    .unwrap()
    .id
}

/// Aigerim (Telegram user 4242) is Northwind's CSM; Dana scores 2 on a survey, and the
/// detractor's card is delivered to the team chat -100777. The bot is left running.
async fn detractor_card_posted(
    pool: &PgPool,
    fake: &FakeTelegram,
    settings: &Settings,
) -> RunningBot {
    let aigerim = csm_on_telegram(pool, "Aigerim", 4242).await;
    let northwind = account(pool, "Northwind", Some(aigerim)).await;
    let dana = contact(pool, northwind, "Dana", Some(6101)).await;
    team_chat::bind(pool, ChannelKind::Telegram, "-100777", None, Utc::now())
        .await
        .unwrap();
    let (touch, survey) = sent_nps(pool, fake, northwind, dana, 6101).await;
    let bot = run_bot(pool, fake, settings);
    fake.push_tap(6101, survey.message_id, &format!("nps:{touch}:2"));
    fake.message(6101, 2).await;
    deliver_posts(pool, fake).await;
    bot
}

async fn deliver_posts(
    pool: &PgPool,
    fake: &FakeTelegram,
) -> touchbot::staff_posts::dispatcher::PostDeliveryReport {
    deliver_due_posts(
        pool,
        &telegram(fake, pool),
        &dispatch_config(),
        "test-worker",
        Utc::now(),
    )
    .await
    .unwrap()
}

#[sqlx::test]
async fn a_staff_tap_on_a_card_edits_it_and_a_strangers_tap_changes_nothing(pool: PgPool) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let bot = detractor_card_posted(&pool, &fake, &settings).await;
    let card = fake.message(-100777, 1).await;
    let (_, take) = card.buttons[0][0].clone();

    fake.push_tap_from(-100777, 999, card.message_id, &take);
    fake.wait_until("the stranger's tap to be answered", |f| {
        f.calls("answerCallbackQuery").len() == 2
    })
    .await;
    let refused = fake.calls("answerCallbackQuery")[1].body.to_string();
    assert!(
        refused.contains("Only the customer-success team"),
        "{refused}"
    );
    assert!(
        fake.calls("editMessageText").is_empty(),
        "the card stays as it was"
    );

    fake.push_tap_from(-100777, 4242, card.message_id, &take);
    fake.wait_until("the card to be edited", |f| {
        !f.calls("editMessageText").is_empty()
    })
    .await;
    bot.stop().await;

    let edited = fake.calls("editMessageText")[0].body["text"].to_string();
    assert!(edited.contains("Taken by Aigerim"), "{edited}");
    let status: String = sqlx::query_scalar("select status from escalations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "acknowledged");
}

#[sqlx::test]
async fn status_answers_staff_with_the_portfolio_and_tells_a_stranger_nothing(pool: PgPool) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let aigerim = csm_on_telegram(&pool, "Aigerim", 4242).await;
    account(&pool, "Northwind", Some(aigerim)).await;
    account(&pool, "Orbit Retail", Some(aigerim)).await;

    let bot = run_bot(&pool, &fake, &settings);
    fake.push_text(4242, "/status");
    fake.push_text(5555, "/status northwind");
    let staff_answer = fake.message(4242, 1).await;
    let stranger_answer = fake.message(5555, 1).await;
    fake.push_text(4242, "/status north");
    let one = fake.message(4242, 2).await;
    bot.stop().await;

    assert!(
        staff_answer.text.contains("2 accounts"),
        "{}",
        staff_answer.text
    );
    assert!(one.text.contains("Northwind"), "{}", one.text);
    assert!(
        stranger_answer.text.contains("customer-success team only"),
        "{}",
        stranger_answer.text
    );
    assert!(!stranger_answer.text.contains("Northwind"));
}

#[sqlx::test]
async fn a_clients_free_text_reaches_the_csm_and_the_csms_reply_goes_back(pool: PgPool) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let aigerim = csm_on_telegram(&pool, "Aigerim", 4242).await;
    let northwind = account(&pool, "Northwind", Some(aigerim)).await;
    contact(&pool, northwind, "Dana", Some(6101)).await;

    let bot = run_bot(&pool, &fake, &settings);
    fake.push_text(6101, "Could we move our call to Friday?");
    fake.message(6101, 1).await;
    bot.stop().await;
    // The words are queued right after the bot answers the client; poll briefly for them.
    for _ in 0..20 {
        if deliver_posts(&pool, &fake).await.sent > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let relayed = fake.message(4242, 1).await;
    assert!(
        relayed.text.contains("move our call to Friday"),
        "{}",
        relayed.text
    );

    let bot = run_bot(&pool, &fake, &settings);
    fake.push_reply_from(4242, 4242, relayed.message_id, "Sure, Friday 11:00 works.");
    // The CSM is told it is on its way; the post dispatcher delivers it.
    fake.message(4242, 2).await;
    bot.stop().await;
    assert_eq!(deliver_posts(&pool, &fake).await.sent, 1);
    let to_client = fake.message(6101, 2).await;
    assert!(
        to_client.text.contains("Friday 11:00 works"),
        "{}",
        to_client.text
    );
}

#[sqlx::test]
async fn while_the_csm_talks_with_a_client_the_bot_passes_their_words_on_and_stays_quiet(
    pool: PgPool,
) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let aigerim = csm_on_telegram(&pool, "Aigerim", 4242).await;
    let northwind = account(&pool, "Northwind", Some(aigerim)).await;
    let dana = contact(&pool, northwind, "Dana", Some(6101)).await;
    // A survey went out just before the CSM started talking with Dana.
    let (_, _survey) = sent_nps(&pool, &fake, northwind, dana, 6101).await;
    touchbot::chat::takeover::start(
        &pool,
        dana,
        Some(aigerim),
        Utc::now() - TimeDelta::minutes(5),
        Utc::now() + TimeDelta::hours(4),
    )
    .await
    .unwrap();

    let bot = run_bot(&pool, &fake, &settings);
    fake.push_text(6101, "8");
    fake.push_text(6101, "/help");
    // The help text is the next thing the client sees: nothing was said about the "8".
    let next = fake.message(6101, 2).await;
    bot.stop().await;

    assert!(
        !next.text.contains("8"),
        "the bot answered the score: {}",
        next.text
    );
    let relayed: Vec<String> =
        sqlx::query_scalar!("select body from staff_posts where kind = 'relay'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(relayed.len(), 1, "{relayed:?}");
    assert!(relayed[0].contains("8"), "{relayed:?}");
}

#[sqlx::test]
async fn resolving_with_a_command_in_the_team_chat_updates_the_card(pool: PgPool) {
    let settings = settings();
    let fake = FakeTelegram::start().await;
    let bot = detractor_card_posted(&pool, &fake, &settings).await;
    fake.message(-100777, 1).await;
    let id: i64 = sqlx::query_scalar("select id from escalations")
        .fetch_one(&pool)
        .await
        .unwrap();

    fake.push_text_from(
        -100777,
        4242,
        &format!("/resolve {id} churned:competitor:RivalSoft"),
    );
    fake.wait_until("the card to be edited", |f| {
        !f.calls("editMessageText").is_empty()
    })
    .await;
    bot.stop().await;

    let edited = fake.calls("editMessageText")[0].body["text"].to_string();
    assert!(edited.contains("Resolved by Aigerim"), "{edited}");
    assert!(edited.contains("RivalSoft"), "{edited}");
}
