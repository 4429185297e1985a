//! The team's commands and buttons on Telegram under faults and in the wrong place: the real
//! teloxide client against the fake Bot API, with a real database.

mod support;

use chrono::Utc;
use sqlx::PgPool;
use touchbot::config::Settings;
use touchbot::domain::{AccountId, ChannelKind, Segment, StaffId, StaffRole};
use touchbot::escalation::EscalationConfig;
use touchbot::inbound::signal_store;
use touchbot::inbound::signals::{RawSignal, parse_signal};
use touchbot::storage::{accounts, staff, team_chat};

use support::bot::RunningBot;
use support::fake_telegram::{BOT_USERNAME, Failure, FakeTelegram};

const TEAM_CHAT: i64 = -100777;
const CLIENT_GROUP: i64 = -100555;
const AIGERIM: i64 = 4242;

async fn run_bot(pool: &PgPool, fake: &FakeTelegram) -> RunningBot {
    let mut settings = Settings::default();
    settings.telegram.bot_username = Some(BOT_USERNAME.into());
    settings.telegram.poll_timeout_seconds = 1;
    support::bot::run_bot(pool, fake, &settings)
}

/// Aigerim (Telegram user 4242) is Northwind's CSM; the team chat is bound.
async fn northwind(pool: &PgPool) -> AccountId {
    let aigerim: StaffId = staff::add(
        pool,
        &staff::NewStaff {
            name: "Aigerim".into(),
            role: StaffRole::Csm,
            telegram_user_id: Some(AIGERIM),
            locale: "en".into(),
            manager_id: None,
        },
    )
    .await
    .unwrap()
    .id;
    let new = accounts::NewAccount {
        name: "Northwind".into(),
        segment: Segment::Smb,
        arr_cents: 0,
        contract_start: Utc::now().date_naive(),
        go_live: None,
        renewal_date: None,
        csm_id: Some(aigerim),
        time_zone: "UTC".into(),
        locale: "en".into(),
    };
    let id = accounts::create(pool, &new).await.unwrap().id;
    team_chat::bind(
        pool,
        ChannelKind::Telegram,
        &TEAM_CHAT.to_string(),
        None,
        Utc::now(),
    )
    .await
    .unwrap();
    id
}

#[sqlx::test]
async fn staff_commands_in_a_group_shared_with_a_client_show_no_portfolio(pool: PgPool) {
    let fake = FakeTelegram::start().await;
    northwind(&pool).await;
    let bot = run_bot(&pool, &fake).await;

    fake.push_text_from(CLIENT_GROUP, AIGERIM, "/status");
    let elsewhere = fake.message(CLIENT_GROUP, 1).await;
    fake.push_text_from(CLIENT_GROUP, AIGERIM, "/mine");
    let mine = fake.message(CLIENT_GROUP, 2).await;
    fake.push_text_from(TEAM_CHAT, AIGERIM, "/status");
    let in_team = fake.message(TEAM_CHAT, 1).await;
    fake.push_text(AIGERIM, "/status");
    let in_private = fake.message(AIGERIM, 1).await;
    bot.stop().await;

    for answer in [&elsewhere, &mine] {
        assert!(
            answer.text.contains("only in the team chat"),
            "{}",
            answer.text
        );
        assert!(!answer.text.contains("Northwind"), "{}", answer.text);
        assert!(!answer.text.contains("account"), "{}", answer.text);
    }
    assert_eq!(fake.sent_to(CLIENT_GROUP).len(), 2);
    assert!(in_team.text.contains("1 account"), "{}", in_team.text);
    assert!(in_private.text.contains("1 account"), "{}", in_private.text);
}

#[sqlx::test]
async fn a_failed_answer_to_a_tap_does_not_repeat_the_cards_action(pool: PgPool) {
    let fake = FakeTelegram::start().await;
    let northwind = northwind(&pool).await;
    let raw = RawSignal {
        kind: "sponsor_left".into(),
        occurred_at: Utc::now(),
        ..RawSignal::default()
    };
    signal_store::store(&pool, &parse_signal(northwind, &raw).unwrap(), "test")
        .await
        .unwrap();
    touchbot::escalation::engine::run(&pool, &EscalationConfig::default(), Utc::now(), None)
        .await
        .unwrap();
    let id = sqlx::query_scalar!("select id from escalations order by id limit 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    // Telegram refuses the answers (an expired query would), more often than the bot retries.
    fake.fail("answerCallbackQuery", None, Failure::ChatNotFound, 10);
    let bot = run_bot(&pool, &fake).await;

    fake.push_tap_from(TEAM_CHAT, AIGERIM, 1, &format!("esc:{id}:take"));
    fake.push_text(AIGERIM, "/help");
    fake.message(AIGERIM, 1).await;
    bot.stop().await;

    let taken = sqlx::query_scalar!(
        r#"select count(*) as "n!" from escalation_events
            where escalation_id = $1 and kind = 'acknowledged'"#,
        id
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(taken, 1, "the tap was applied more than once");
    assert!(!fake.calls("answerCallbackQuery").is_empty());
}
