//! The WhatsApp channel end to end: the real dispatcher and the real channel against a fake
//! Graph API, with a real PostgreSQL.

mod common;
mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use touchbot::channel::Channels;
use touchbot::channel::ratelimit::{ChannelLimit, RateLimits};
use touchbot::domain::{AccountId, ChannelKind, ContactId, ContactRole, Segment, TouchId};
use touchbot::messages::Messages;
use touchbot::outbound::dispatcher::{DeliveryReport, DispatcherConfig, deliver_due};
use touchbot::outbound::render::TemplateRenderer;
use touchbot::storage::{accounts, contacts};
use touchbot::whatsapp::{WhatsAppChannel, WhatsAppSettings};

use support::fake_whatsapp::{Failure, FakeWhatsApp, PHONE_NUMBER_ID, TOKEN};

const DANA: &str = "77011234567";

fn unlimited() -> RateLimits {
    RateLimits {
        telegram: ChannelLimit::unlimited(),
        whatsapp: ChannelLimit::unlimited(),
        simulated: ChannelLimit::unlimited(),
    }
}

fn dispatch_config() -> DispatcherConfig {
    DispatcherConfig {
        rate_limits: unlimited(),
        ..common::config()
    }
}

/// The real channel pointed at the fake; it gives up on an answer after a second.
fn whatsapp(fake: &FakeWhatsApp) -> Channels {
    let mut settings = WhatsAppSettings {
        api_url: fake.url().to_string(),
        request_timeout_seconds: 1,
        ..Default::default()
    };
    settings.access_token = Some(TOKEN.into());
    settings.phone_number_id = Some(PHONE_NUMBER_ID.into());
    let channel = WhatsAppChannel::from_settings(&settings).unwrap().unwrap();
    Channels::new(unlimited()).with(Arc::new(channel))
}

async fn deliver(pool: &PgPool, channels: &Channels, now: DateTime<Utc>) -> DeliveryReport {
    let renderer = TemplateRenderer::new(Arc::new(Messages::load().unwrap()));
    deliver_due(
        pool,
        channels,
        &renderer,
        &dispatch_config(),
        "test-worker",
        now,
    )
    .await
    .unwrap()
}

async fn northwind(pool: &PgPool) -> AccountId {
    let new = accounts::NewAccount {
        name: "Northwind".into(),
        segment: Segment::Smb,
        arr_cents: 0,
        contract_start: Utc::now().date_naive(),
        go_live: None,
        renewal_date: None,
        csm_id: None,
        time_zone: "UTC".into(),
        locale: "en".into(),
    };
    accounts::create(pool, &new).await.unwrap().id
}

/// A WhatsApp contact, added as an operator would type the number, who wrote an hour ago:
/// WhatsApp's 24-hour window is open, so touches go as free text (see `whatsapp_window.rs`).
async fn dana(pool: &PgPool, account: AccountId) -> ContactId {
    let new = contacts::NewContact {
        account_id: account,
        name: "Dana".into(),
        role: ContactRole::Champion,
        channel: ChannelKind::Whatsapp,
        address: Some("+7 (701) 123-45-67".into()),
        time_zone: None,
        locale: None,
    };
    let id = contacts::add(pool, &new, Utc::now()).await.unwrap().id;
    common::wrote_at(pool, id, Utc::now() - TimeDelta::hours(1)).await;
    id
}

async fn due_touch(pool: &PgPool, kind: &str) -> (TouchId, DateTime<Utc>) {
    let account = northwind(pool).await;
    let contact = dana(pool, account).await;
    let now = Utc::now();
    let touch = common::touch(
        pool,
        account,
        contact,
        kind,
        kind,
        now - TimeDelta::minutes(1),
    )
    .await;
    (touch, now)
}

#[sqlx::test]
async fn a_whatsapp_contacts_welcome_goes_out_as_text_carrying_the_touchs_key(pool: PgPool) {
    let fake = FakeWhatsApp::start().await;
    let (touch, now) = due_touch(&pool, "welcome").await;

    let report = deliver(&pool, &whatsapp(&fake), now).await;

    assert_eq!(report.sent, 1, "{report:?}");
    let sent = fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, DANA, "the number is stored in E.164");
    assert_eq!(sent[0].kind, "text");
    assert!(sent[0].text.contains("Dana"), "{}", sent[0].text);
    let key = sqlx::query_scalar!("select account_id from touches where id = $1", touch.0)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        sent[0].callback_data.as_deref(),
        Some(format!("touch:{key}:welcome").as_str())
    );
    let state = common::state(&pool, touch).await;
    assert_eq!(state.status, "sent");
    assert_eq!(state.provider_message_id.as_deref(), Some("wamid.FAKE1"));
    assert!(fake.refused().is_empty(), "{:?}", fake.refused());
}

#[sqlx::test]
async fn an_nps_survey_arrives_as_one_text_listing_the_scores_to_type(pool: PgPool) {
    let fake = FakeWhatsApp::start().await;
    let (_, now) = due_touch(&pool, "nps").await;

    let report = deliver(&pool, &whatsapp(&fake), now).await;

    assert_eq!(report.sent, 1, "{report:?}");
    assert!(fake.refused().is_empty(), "{:?}", fake.refused());
    let sent = &fake.sent()[0];
    assert_eq!(sent.kind, "text");
    assert!(
        sent.text
            .ends_with("\n\n0 · 1 · 2 · 3 · 4 · 5 · 6 · 7 · 8 · 9 · 10"),
        "{}",
        sent.text
    );
}

#[sqlx::test]
async fn a_check_in_arrives_with_its_three_quick_replies_as_buttons(pool: PgPool) {
    let fake = FakeWhatsApp::start().await;
    let (touch, now) = due_touch(&pool, "checkin").await;

    deliver(&pool, &whatsapp(&fake), now).await;

    assert!(fake.refused().is_empty(), "{:?}", fake.refused());
    let sent = &fake.sent()[0];
    assert_eq!(sent.kind, "interactive");
    let titles: Vec<&str> = sent.buttons.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(titles, ["All good", "I need help", "Talk to my manager"]);
    assert!(
        sent.buttons[0].0.contains(&touch.0.to_string()),
        "the button's id names the touch: {:?}",
        sent.buttons
    );
}

#[sqlx::test]
async fn a_throughput_limit_is_retried_later_and_the_touch_is_sent_once(pool: PgPool) {
    let fake = FakeWhatsApp::start().await;
    let (touch, now) = due_touch(&pool, "welcome").await;
    fake.fail(DANA, Failure::THROUGHPUT, 1);
    let channels = whatsapp(&fake);

    let first = deliver(&pool, &channels, now).await;
    let waiting = common::state(&pool, touch).await;
    let later = waiting.next_attempt_at.expect("a time to try again");
    let second = deliver(&pool, &channels, later + TimeDelta::seconds(1)).await;

    assert_eq!(first.sent, 0, "{first:?}");
    assert_eq!(waiting.status, "planned");
    assert_eq!(waiting.tries, 0, "waiting for a rate limit spends no try");
    assert_eq!(second.sent, 1, "{second:?}");
    assert_eq!(fake.sent().len(), 1);
    assert_eq!(common::state(&pool, touch).await.status, "sent");
}

#[sqlx::test]
async fn a_number_not_on_whatsapp_marks_the_contact_unreachable(pool: PgPool) {
    let fake = FakeWhatsApp::start().await;
    let (touch, now) = due_touch(&pool, "welcome").await;
    fake.fail(DANA, Failure::NOT_ON_WHATSAPP, 1);

    deliver(&pool, &whatsapp(&fake), now).await;

    assert_eq!(common::state(&pool, touch).await.status, "failed");
    let reason = sqlx::query_scalar!("select unreachable_reason from contacts")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(reason.as_deref(), Some("unknown_chat"));
}

#[sqlx::test]
async fn a_send_whose_answer_never_comes_is_left_unknown_and_never_resent(pool: PgPool) {
    let fake = FakeWhatsApp::start().await;
    let (touch, now) = due_touch(&pool, "welcome").await;
    fake.fail(DANA, Failure::AcceptThenHang(Duration::from_secs(5)), 1);
    let channels = whatsapp(&fake);

    let first = deliver(&pool, &channels, now).await;
    let a_day_later = deliver(&pool, &channels, now + TimeDelta::days(1)).await;

    assert_eq!(first.unknown, 1, "{first:?}");
    assert_eq!(a_day_later, DeliveryReport::default());
    assert_eq!(common::state(&pool, touch).await.status, "unknown");
    assert_eq!(fake.requests(), 1);
}

#[sqlx::test]
async fn an_unreadable_answer_is_left_unknown(pool: PgPool) {
    let fake = FakeWhatsApp::start().await;
    let (touch, now) = due_touch(&pool, "welcome").await;
    fake.fail(DANA, Failure::AcceptThenGarbage, 1);

    let report = deliver(&pool, &whatsapp(&fake), now).await;

    assert_eq!(report.unknown, 1, "{report:?}");
    assert_eq!(common::state(&pool, touch).await.status, "unknown");
}

#[sqlx::test]
async fn an_expired_token_is_retried_later_rather_than_failing_the_touch(pool: PgPool) {
    let fake = FakeWhatsApp::start().await;
    let (touch, now) = due_touch(&pool, "welcome").await;
    fake.fail(DANA, Failure::TOKEN_EXPIRED, 1);

    deliver(&pool, &whatsapp(&fake), now).await;

    let state = common::state(&pool, touch).await;
    assert_eq!(state.status, "planned");
    assert!(
        state
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("access token"),
        "{state:?}"
    );
    assert!(!format!("{state:?}").contains(TOKEN));
}

fn database_url(pool: &PgPool) -> String {
    let db = pool
        .connect_options()
        .get_database()
        .expect("the test database has a name")
        .to_string();
    format!("postgres://postgres@127.0.0.1:5432/{db}")
}

#[sqlx::test]
async fn serve_with_the_whatsapp_variables_logs_the_channel_live_and_never_the_token(pool: PgPool) {
    let fake = FakeWhatsApp::start().await;
    due_touch(&pool, "welcome").await;
    // The token is refused once, so the refusal is logged too.
    fake.fail(DANA, Failure::TOKEN_EXPIRED, 1);
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_touchbot"))
        .arg("serve")
        .env("DATABASE_URL", database_url(&pool))
        .env("WHATSAPP_ACCESS_TOKEN", TOKEN)
        .env("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
        .env("WHATSAPP_APP_SECRET", "app-secret-value")
        .env("WHATSAPP_VERIFY_TOKEN", "verify-token-value")
        .env("TOUCHBOT_WHATSAPP__API_URL", fake.url())
        .env("TOUCHBOT_SERVER__PORT", "0")
        .env("TOUCHBOT_LOG", "touchbot=debug")
        .env_remove("TELOXIDE_TOKEN")
        .env_remove("TOUCHBOT_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("touchbot serve starts");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while fake.requests() == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = child.id().expect("still running").to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    let log = String::from_utf8_lossy(&out.stderr);

    assert_eq!(fake.requests(), 1, "{log}");
    assert!(log.contains("live channels: whatsapp"), "{log}");
    assert!(log.contains("WhatsApp refused the access token"), "{log}");
    for secret in [
        TOKEN,
        PHONE_NUMBER_ID,
        "app-secret-value",
        "verify-token-value",
    ] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
    }
}

#[sqlx::test]
async fn a_recipient_over_the_pair_rate_is_held_back_and_sent_later_without_spending_a_try(
    pool: PgPool,
) {
    let fake = FakeWhatsApp::start().await;
    let (touch, now) = due_touch(&pool, "welcome").await;
    fake.fail(DANA, Failure::PAIR_RATE, 1);
    let channels = whatsapp(&fake);

    deliver(&pool, &channels, now).await;
    let waiting = common::state(&pool, touch).await;
    let later = waiting.next_attempt_at.expect("a time to try again");
    deliver(&pool, &channels, later + TimeDelta::seconds(1)).await;

    assert_eq!((waiting.status.as_str(), waiting.tries), ("planned", 0));
    assert!(later > now, "held back: {later} after {now}");
    assert_eq!(common::state(&pool, touch).await.status, "sent");
    assert_eq!(fake.sent().len(), 1);
}

#[sqlx::test]
async fn a_wrong_phone_number_id_is_retried_and_the_error_says_what_to_check(pool: PgPool) {
    let fake = FakeWhatsApp::start().await;
    let (touch, now) = due_touch(&pool, "welcome").await;
    let mut settings = WhatsAppSettings {
        api_url: fake.url().to_string(),
        ..Default::default()
    };
    settings.access_token = Some(TOKEN.into());
    settings.phone_number_id = Some("999".into());
    let channel = WhatsAppChannel::from_settings(&settings).unwrap().unwrap();
    let channels = Channels::new(unlimited()).with(Arc::new(channel));

    deliver(&pool, &channels, now).await;

    let state = common::state(&pool, touch).await;
    assert_eq!(state.status, "planned", "{state:?}");
    assert!(
        state
            .last_error
            .unwrap_or_default()
            .contains("WHATSAPP_PHONE_NUMBER_ID"),
        "the error says what to check"
    );
    assert!(fake.sent().is_empty());
}
