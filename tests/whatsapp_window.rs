//! WhatsApp's 24-hour window end to end: the real dispatcher, the real renderer and the real
//! WhatsApp channel against a fake Graph API, with a real PostgreSQL. Inside the window a
//! touch goes as free text; outside, as its registered template, or not at all.

mod common;
mod support;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use touchbot::channel::Channels;
use touchbot::channel::ratelimit::{ChannelLimit, RateLimits};
use touchbot::config::Settings;
use touchbot::domain::{AccountId, ChannelKind, ContactId, TouchId};
use touchbot::inbound::{InboundContent, InboundMessage, record_reply};
use touchbot::messages::{Messages, Vars};
use touchbot::outbound::dispatcher::{DeliveryReport, DispatcherConfig, deliver_due};
use touchbot::outbound::render::{TemplateRenderer, fallback_csm};
use touchbot::outbound::window::{Registered, ServiceWindow};
use touchbot::whatsapp::templates::definitions;
use touchbot::whatsapp::{WhatsAppChannel, WhatsAppSettings};

use support::fake_whatsapp::{FakeWhatsApp, PHONE_NUMBER_ID, TOKEN};

const DANA: &str = "+77011234567";
const YERLAN: &str = "+77017654321";

fn unlimited() -> RateLimits {
    RateLimits {
        telegram: ChannelLimit::unlimited(),
        whatsapp: ChannelLimit::unlimited(),
        simulated: ChannelLimit::unlimited(),
    }
}

/// Templates registered for these message keys, under their default names.
fn window(keys: &[&str]) -> ServiceWindow {
    ServiceWindow {
        templates: keys
            .iter()
            .map(|k| (k.to_string(), Registered::default()))
            .collect(),
        ..ServiceWindow::default()
    }
}

fn whatsapp(fake: &FakeWhatsApp) -> Channels {
    let mut settings = WhatsAppSettings {
        api_url: fake.url().to_string(),
        ..Default::default()
    };
    settings.access_token = Some(TOKEN.into());
    settings.phone_number_id = Some(PHONE_NUMBER_ID.into());
    let channel = WhatsAppChannel::from_settings(&settings).unwrap().unwrap();
    Channels::new(unlimited()).with(Arc::new(channel))
}

async fn deliver(pool: &PgPool, fake: &FakeWhatsApp, keys: &[&str]) -> DeliveryReport {
    let config = DispatcherConfig {
        rate_limits: unlimited(),
        window: window(keys),
        ..common::config()
    };
    let renderer = TemplateRenderer::new(Arc::new(Messages::load().unwrap()));
    deliver_due(pool, &whatsapp(fake), &renderer, &config, "w", Utc::now())
        .await
        .unwrap()
}

/// An account without a CSM, in `locale`.
async fn account(pool: &PgPool, name: &str, locale: &str) -> AccountId {
    let id = sqlx::query_scalar!(
        "insert into accounts (name, segment, contract_start, locale)
         values ($1, 'smb', '2026-01-05', $2) returning id",
        name,
        locale,
    )
    .fetch_one(pool)
    .await
    .unwrap();
    AccountId(id)
}

async fn contact(pool: &PgPool, account: AccountId, name: &str, number: &str) -> ContactId {
    let id = sqlx::query_scalar!(
        "insert into contacts (account_id, name, role, channel, address)
         values ($1, $2, 'champion', 'whatsapp', $3) returning id",
        account.0,
        name,
        number,
    )
    .fetch_one(pool)
    .await
    .unwrap();
    ContactId(id)
}

/// A touch of `kind` with the message `kind`, due a minute ago.
async fn due(pool: &PgPool, account: AccountId, contact: ContactId, kind: &str) -> TouchId {
    let due_at = Utc::now() - TimeDelta::minutes(1);
    common::touch(pool, account, contact, kind, kind, due_at).await
}

async fn dana(pool: &PgPool, locale: &str) -> (AccountId, ContactId) {
    let account = account(pool, "Northwind", locale).await;
    (account, contact(pool, account, "Dana Bekova", DANA).await)
}

fn hours_ago(hours: i64) -> DateTime<Utc> {
    Utc::now() - TimeDelta::hours(hours)
}

#[sqlx::test]
async fn a_contact_who_wrote_an_hour_ago_gets_a_check_in_as_free_text_with_buttons(pool: PgPool) {
    let fake = FakeWhatsApp::start().await;
    let (account, dana) = dana(&pool, "en").await;
    common::wrote_at(&pool, dana, hours_ago(1)).await;
    due(&pool, account, dana, "checkin").await;

    let report = deliver(&pool, &fake, &["checkin"]).await;

    assert_eq!(report.sent, 1, "{report:?}");
    let sent = &fake.sent()[0];
    assert_eq!(sent.kind, "interactive");
    assert_eq!(sent.template, None);
}

#[sqlx::test]
async fn a_contact_silent_for_a_day_gets_the_registered_template_with_its_parameters(pool: PgPool) {
    let fake = FakeWhatsApp::start().await;
    fake.register_template("touchbot_welcome", "ru", 3);
    let (account, dana) = dana(&pool, "ru").await;
    common::wrote_at(&pool, dana, hours_ago(25)).await;
    let touch = due(&pool, account, dana, "welcome").await;

    let report = deliver(&pool, &fake, &["welcome"]).await;

    assert_eq!(report.sent, 1, "{report:?}");
    assert!(fake.refused().is_empty(), "{:?}", fake.refused());
    let sent = &fake.sent()[0];
    assert_eq!(sent.kind, "template");
    let template = sent.template.as_ref().unwrap();
    assert_eq!(template.name, "touchbot_welcome");
    assert_eq!(template.language, "ru");
    assert_eq!(
        template.parameters,
        vec!["Dana", "Northwind", fallback_csm("ru")]
    );
    assert_eq!(
        sent.callback_data.as_deref(),
        Some(format!("touch:{}:welcome", account.0).as_str())
    );
    assert_eq!(common::state(&pool, touch).await.status, "sent");
}

#[sqlx::test]
async fn a_template_sends_the_values_in_the_order_touchbot_whatsapp_templates_numbers_them(
    pool: PgPool,
) {
    let fake = FakeWhatsApp::start().await;
    let settings = Settings::default();
    let messages = Messages::load().unwrap();
    let printed = definitions(&messages, &settings.calendar, &settings.whatsapp, "en").unwrap();
    let welcome = printed.iter().find(|d| d.key == "welcome").unwrap();
    fake.register_template(&welcome.name, &welcome.language, welcome.examples.len());
    let (account, dana) = dana(&pool, "en").await;
    due(&pool, account, dana, "welcome").await;

    deliver(&pool, &fake, &["welcome"]).await;

    // The printed body with the sent values in place reads as the message itself.
    let sent = fake.sent()[0].template.clone().expect("sent as a template");
    let mut filled = welcome.body.clone();
    for (i, value) in sent.parameters.iter().enumerate() {
        filled = filled.replace(&format!("{{{{{}}}}}", i + 1), value);
    }
    let vars = Vars::new()
        .contact("Dana")
        .account("Northwind")
        .csm(fallback_csm("en"));
    assert_eq!(filled, messages.render("en", "welcome", &vars).unwrap());
}

#[sqlx::test]
async fn a_check_in_template_carries_the_three_answers_as_quick_reply_payloads(pool: PgPool) {
    let fake = FakeWhatsApp::start().await;
    fake.register_template("touchbot_checkin", "en", 2);
    let (account, dana) = dana(&pool, "en").await;
    let touch = due(&pool, account, dana, "checkin").await;

    deliver(&pool, &fake, &["checkin"]).await;

    assert!(fake.refused().is_empty(), "{:?}", fake.refused());
    let template = fake.sent()[0].template.clone().expect("sent as a template");
    let t = touch.0;
    assert_eq!(
        template.quick_replies,
        vec![
            (0, format!("checkin:{t}:good")),
            (1, format!("checkin:{t}:help")),
            (2, format!("checkin:{t}:manager")),
        ]
    );
}

#[sqlx::test]
async fn without_a_template_two_touches_are_skipped_and_the_team_is_told_once(pool: PgPool) {
    let fake = FakeWhatsApp::start().await;
    let (northwind, dana) = dana(&pool, "en").await;
    let steppe = account(&pool, "Steppe Logistics", "en").await;
    let yerlan = contact(&pool, steppe, "Yerlan", YERLAN).await;
    let first = due(&pool, northwind, dana, "welcome").await;
    let second = due(&pool, steppe, yerlan, "welcome").await;

    let report = deliver(&pool, &fake, &["nps"]).await;

    assert_eq!(report.skipped, 2, "{report:?}");
    assert_eq!(fake.requests(), 0, "nothing is sent to WhatsApp");
    for touch in [first, second] {
        let state = common::state(&pool, touch).await;
        assert_eq!(state.status, "skipped");
        assert_eq!(
            state.status_reason.as_deref(),
            Some("outside WhatsApp's 24-hour window and no template configured for 'welcome'")
        );
    }
    let posts =
        sqlx::query!("select body, staff_id from staff_posts where kind = 'template_missing'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(posts.len(), 1, "one notice per message, not per touch");
    assert_eq!(posts[0].staff_id, None, "to the team chat");
    assert!(
        posts[0].body.contains("touchbot_welcome"),
        "{}",
        posts[0].body
    );
    assert!(
        posts[0].body.contains("touchbot whatsapp templates"),
        "{}",
        posts[0].body
    );
}

#[sqlx::test]
async fn a_touch_whatsapp_refused_as_free_text_goes_as_its_template_even_inside_the_window(
    pool: PgPool,
) {
    let fake = FakeWhatsApp::start().await;
    fake.register_template("touchbot_nps", "en", 1);
    let (account, dana) = dana(&pool, "en").await;
    common::wrote_at(&pool, dana, hours_ago(1)).await;
    let touch = due(&pool, account, dana, "nps").await;
    // As a 131047 status leaves it: marked template-only and back in the queue.
    sqlx::query!(
        "update touches set template_only = true, status = 'planned' where id = $1",
        touch.0
    )
    .execute(&pool)
    .await
    .unwrap();

    let report = deliver(&pool, &fake, &["nps"]).await;

    assert_eq!(report.sent, 1, "{report:?}");
    let template = fake.sent()[0].template.clone().expect("sent as a template");
    assert_eq!(template.name, "touchbot_nps");
    assert_eq!(template.parameters, vec!["Dana"]);
    assert!(
        template.quick_replies.is_empty(),
        "NPS is typed, not tapped"
    );
}

#[sqlx::test]
async fn a_template_meta_does_not_have_fails_that_touch_with_what_to_do(pool: PgPool) {
    let fake = FakeWhatsApp::start().await;
    let (account, dana) = dana(&pool, "en").await;
    let touch = due(&pool, account, dana, "nps").await;

    let report = deliver(&pool, &fake, &["nps"]).await;

    assert_eq!(report.failed, 1, "{report:?}");
    let state = common::state(&pool, touch).await;
    assert_eq!(state.status, "failed");
    let reason = state.status_reason.or(state.last_error).unwrap_or_default();
    assert!(reason.contains("132001"), "{reason}");
    assert!(reason.contains("touchbot whatsapp templates"), "{reason}");
    let unreachable = sqlx::query_scalar!(
        "select unreachable_at is not null from contacts where id = $1",
        dana.0
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(unreachable, Some(false), "the contact is still reachable");
}

fn message_from(number: &str, id: &str, at: DateTime<Utc>) -> InboundMessage {
    InboundMessage {
        channel: ChannelKind::Whatsapp,
        address: number.to_string(),
        provider_message_id: id.to_string(),
        content: InboundContent::text("Hello, a quick question about our invoice"),
        received_at: at,
    }
}

async fn last_inbound(pool: &PgPool, contact: ContactId) -> Option<DateTime<Utc>> {
    sqlx::query_scalar!(
        "select last_inbound_at from contacts where id = $1",
        contact.0
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn a_reply_opens_the_window_and_a_late_older_message_does_not_close_it(pool: PgPool) {
    let fake = FakeWhatsApp::start().await;
    let (account, dana) = dana(&pool, "en").await;
    let wrote = hours_ago(2);

    record_reply(&pool, &message_from(DANA, "wamid.IN1", wrote))
        .await
        .unwrap();
    record_reply(&pool, &message_from(DANA, "wamid.IN0", hours_ago(30)))
        .await
        .unwrap();
    due(&pool, account, dana, "welcome").await;
    let report = deliver(&pool, &fake, &[]).await;

    let stored = last_inbound(&pool, dana).await.unwrap();
    assert_eq!(stored.timestamp_micros(), wrote.timestamp_micros());
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(fake.sent()[0].kind, "text", "free text: the window is open");
}

fn templates_printout(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_touchbot"))
        .args(["whatsapp", "templates"])
        .args(args)
        .env_remove("TOUCHBOT_CONFIG")
        .output()
        .expect("the binary runs")
}

#[test]
fn the_printed_definitions_number_the_english_and_russian_texts_for_meta() {
    let out = templates_printout(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let en = &text[..text
        .find("Templates for locale ru")
        .expect("a Russian part")];
    let ru = &text[en.len()..];

    assert!(en.starts_with("Templates for locale en"), "{en}");
    let nps = &en[en.find("touchbot_nps\n").expect("the NPS template")..];
    assert!(
        nps.contains("  category:  MARKETING\n  language:  en\n"),
        "{nps}"
    );
    assert!(
        nps.contains("    Hi {{1}}, one quick question:")
            && nps.contains("Just reply with a number from 0 to 10"),
        "WhatsApp's wording, with a number to type: {nps}"
    );
    assert!(nps.contains("  quick replies: none\n"), "{nps}");
    assert!(
        en.contains(
            "    Hi {{1}}, {{2}} days are left until the {{3}} renewal on {{4}}.\n    \
             Is there anything we should settle before then? Reply here and {{5}} will take \
             care of it.\n  examples:  {{1}} = Aigerim; {{2}} = 30; {{3}} = Steppe Logistics; \
             {{4}} = March 1, 2027; {{5}} = Dina Sadykova\n"
        ),
        "{en}"
    );

    let checkin = &ru[ru.find("touchbot_checkin_week_1\n").expect("a check-in")..];
    assert!(
        checkin.contains("  category:  UTILITY\n  language:  ru\n"),
        "{checkin}"
    );
    assert!(
        checkin.contains("    Добрый день, {{1}}! Первая неделя позади."),
        "{checkin}"
    );
    assert!(
        checkin.contains("  quick replies: [Всё хорошо] [Нужна помощь] [Позовите менеджера]\n"),
        "{checkin}"
    );
    assert!(!text.contains("warning:"), "Meta's body rules hold: {text}");
    assert!(text.contains("may re-categorise"), "{text}");
}

#[test]
fn an_unknown_locale_is_refused_with_the_ones_there_are() {
    let out = templates_printout(&["--locale", "kk"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("use one of: en, ru"), "{err}");
}
