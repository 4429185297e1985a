//! Property tests: whatever a client types or taps, and whatever reaches the webhook, nothing
//! panics; and the webhook never answers a body it cannot read with a 5xx, which Telegram would
//! only retry, again and again, with the same bytes.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use sqlx::PgPool;
use touchbot::inbound::callback::parse_callback;
use touchbot::inbound::parser::{Expecting, parse_reply};

use crate::process::{Options, Running, Touchbot, database_addr, http, post_update};
use crate::support::fake_telegram::{FakeTelegram, text_update};
use crate::{PATIENCE, chat, common};

fn any_expecting() -> impl Strategy<Value = Expecting> {
    prop::sample::select(vec![
        Expecting::Nps,
        Expecting::Csat,
        Expecting::Checkin,
        Expecting::Nothing,
    ])
}

proptest! {
    // Any Unicode at all, control characters and Telegram's longest texts included.
    #[test]
    fn the_reply_parser_answers_any_text_without_panicking(
        text in prop::collection::vec(any::<char>(), 0..4096).prop_map(String::from_iter),
        expecting in any_expecting(),
    ) {
        let _ = parse_reply(&text, expecting);
    }

    #[test]
    fn the_reply_parser_survives_numbers_and_signs_in_any_arrangement(
        text in "[0-9 /.,+\\-−–—!?%из10outof]{0,60}",
        expecting in any_expecting(),
    ) {
        let _ = parse_reply(&text, expecting);
    }

    #[test]
    fn button_data_of_any_shape_is_refused_or_read_without_panicking(
        data in prop_oneof![any::<String>(), "(nps|csat|checkin|lang|x)?:[-0-9a-z]{0,24}(:[-0-9a-z]{0,24})?"],
    ) {
        let _ = parse_callback(&data);
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("update_id".to_string()),
                    Just("message".to_string()),
                    Just("callback_query".to_string()),
                    Just("chat".to_string()),
                    Just("text".to_string()),
                    "[a-z_]{1,10}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Any text, NUL (which PostgreSQL cannot store) included.
const TEXT: &str = ".{0,100}";

/// Bodies Telegram would never send, and real updates bent out of shape.
fn any_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        any_json().prop_map(|v| v.to_string().into_bytes()),
        (
            any::<i64>(),
            any::<i64>(),
            ".{0,200}",
            prop::sample::select(vec![
                "/message/text",
                "/message/chat/id",
                "/message/from",
                "/message/date",
                "/update_id",
            ]),
            any_json()
        )
            .prop_map(|(id, chat_id, text, field, value)| {
                let mut update = text_update(id.rem_euclid(1 << 31), chat_id, &text);
                if let Some(slot) = update.pointer_mut(field) {
                    *slot = value;
                }
                update.to_string().into_bytes()
            }),
        (0usize..3, TEXT).prop_map(|(i, text)| {
            text_update(1 << 30, chat(i), &text)
                .to_string()
                .into_bytes()
        }),
    ]
}

/// The program in webhook mode, with three known contacts (chats `chat(0)`…).
async fn webhook_bot(pool: &PgPool, fake: &FakeTelegram) -> (Touchbot, Running) {
    let account = common::account(pool, "Props").await;
    for i in 0..3 {
        common::contact_on(pool, account, "telegram", &chat(i).to_string()).await;
    }
    let options = Options {
        webhook: true,
        ..Options::default()
    };
    let mut touchbot = Touchbot::new(pool, database_addr(pool), fake, options);
    let running = touchbot.start().await;
    fake.wait_for("the webhook to be set", PATIENCE, |f| {
        !f.calls("setWebhook").is_empty()
    })
    .await;
    (touchbot, running)
}

#[sqlx::test]
async fn a_text_with_a_nul_character_is_answered_below_500(pool: PgPool) {
    let fake = FakeTelegram::start().await;
    let (_touchbot, running) = webhook_bot(&pool, &fake).await;

    let update = text_update(77, chat(0), "8\u{0} fine").to_string();
    let code = post_update(running.addr, update.as_bytes()).await.unwrap();
    let log = running.log();
    running.kill().await;

    assert!(
        code < 500,
        "answered {code}, so Telegram would redeliver it for ever:\n{log}"
    );
    let set_aside = sqlx::query_scalar!(r#"select count(*) as "n!" from inbound_dead_letters"#)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(set_aside, 0, "the message was handled, not set aside");
}

#[sqlx::test]
async fn any_webhook_body_gets_an_answer_below_500_and_the_bot_keeps_running(pool: PgPool) {
    let fake = FakeTelegram::start().await;
    let (_touchbot, mut running) = webhook_bot(&pool, &fake).await;
    let addr = running.addr;

    // The runner is synchronous: it posts from a runtime of its own, while this one keeps the
    // fake answering.
    let outcome = tokio::task::spawn_blocking(move || {
        let posts = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut runner = TestRunner::new(Config {
            failure_persistence: None,
            ..Config::default()
        });
        runner.run(&any_body(), |body| {
            let code = posts.block_on(post_update(addr, &body)).map_err(|e| {
                TestCaseError::fail(format!("the webhook dropped the request: {e}"))
            })?;
            prop_assert!(
                code < 500,
                "answered {} to {:?}",
                code,
                String::from_utf8_lossy(&body)
            );
            Ok(())
        })
    })
    .await
    .unwrap();
    let health = http(addr, "GET", "/healthz", &[], b"").await;
    let alive = running.alive();
    let log = running.log();
    running.kill().await;

    if let Err(failure) = outcome {
        panic!("{failure}\n--- serve's log\n{log}");
    }
    assert!(alive, "serve died:\n{log}");
    assert_eq!(health.unwrap().0, 200, "{log}");
}
