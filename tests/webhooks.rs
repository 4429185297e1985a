//! Outgoing event webhooks end to end: a subscription made with the CLI, an event written with
//! what caused it, a signed POST to a local receiver that fails once and then accepts, and the
//! delivery made once per event and subscription.

mod support;

use chrono::{Duration, Utc};
use sqlx::PgPool;
use support::cli::touchbot_ok;
use support::webhook_receiver::{a_receiver, an_nps_answer};
use touchbot::config::Settings;
use touchbot::webhooks::{signature, worker};

#[sqlx::test]
async fn a_signed_event_is_retried_after_the_receiver_fails_and_delivered_once(pool: PgPool) {
    let (url, receiver) = a_receiver(1).await;
    let added = touchbot_ok(&pool, &["webhook", "add", &url, "--events", "nps_answer"]);
    let secret = added
        .split_whitespace()
        .find(|w| w.starts_with("whsec_"))
        .expect("the secret is shown once")
        .to_string();
    an_nps_answer(&pool, 4).await;
    let config = Settings::default().dispatcher;
    let client = worker::client().unwrap();
    let now = Utc::now();

    let first = worker::pass(&pool, &client, &config, "w1", now)
        .await
        .unwrap();
    let too_soon = worker::pass(&pool, &client, &config, "w1", now)
        .await
        .unwrap();
    let later = now + Duration::hours(1);
    let second = worker::pass(&pool, &client, &config, "w1", later)
        .await
        .unwrap();
    let after = worker::pass(&pool, &client, &config, "w1", later)
        .await
        .unwrap();

    assert_eq!((first, too_soon, second, after), (1, 0, 1, 0));
    let seen = receiver.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one failed try, one delivery");
    assert_eq!(seen[0], seen[1], "the retry is the same signed event");
    let (sig, event_id, body) = &seen[1];
    assert_eq!(*sig, signature(&secret, body.as_bytes()));
    let event: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(event["type"], "nps_answer");
    assert_eq!(event["id"].to_string(), *event_id);
    assert_eq!(event["data"]["score"], 4);
    let log = touchbot_ok(&pool, &["webhook", "deliveries"]);
    assert!(
        log.contains("delivered") && log.contains("nps_answer"),
        "{log}"
    );
}

#[sqlx::test]
async fn an_event_exists_only_if_what_caused_it_was_committed(pool: PgPool) {
    touchbot_ok(
        &pool,
        &[
            "webhook",
            "add",
            "https://crm.example.com/h",
            "--events",
            "nps_answer",
        ],
    );
    an_nps_answer(&pool, 9).await;
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "insert into replies (account_id, contact_id, channel, provider_message_id, received_at,
                              body, kind, score)
         select account_id, id, 'simulated', 'rolled-back', now(), '2', 'nps', 2 from contacts",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();

    let scores: Vec<i64> = sqlx::query_scalar(
        "select (e.payload->>'score')::bigint from outgoing_events e
           join webhook_deliveries d on d.event_id = e.id order by e.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(scores, vec![9], "the rolled-back answer left no event");
}

#[sqlx::test]
async fn a_webhook_for_an_unknown_event_is_refused_and_a_removed_one_gets_nothing(pool: PgPool) {
    let db = pool.connect_options().get_database().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_touchbot"))
        .args([
            "webhook",
            "add",
            "https://crm.example.com/h",
            "--events",
            "nps",
        ])
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:5432/{db}"),
        )
        .env_remove("TOUCHBOT_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nps_answer"));

    touchbot_ok(
        &pool,
        &[
            "webhook",
            "add",
            "https://crm.example.com/h",
            "--events",
            "nps_answer",
        ],
    );
    touchbot_ok(&pool, &["webhook", "remove", "1"]);
    an_nps_answer(&pool, 7).await;
    let listed = touchbot_ok(&pool, &["webhook", "list"]);
    assert!(listed.contains("No webhooks"), "{listed}");
    let deliveries: i64 = sqlx::query_scalar("select count(*) from webhook_deliveries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(deliveries, 0);
}

#[sqlx::test]
async fn escalations_unreachable_contacts_and_health_changes_are_events_too(pool: PgPool) {
    touchbot_ok(
        &pool,
        &[
            "webhook",
            "add",
            "https://crm.example.com/h",
            "--events",
            "escalation_opened,escalation_resolved,contact_unreachable,health_category_changed",
        ],
    );
    an_nps_answer(&pool, 8).await;
    sqlx::raw_sql(
        "insert into escalations (account_id, reason, severity, magnitude, evidence, opened_at, updated_at)
         select id, 'silence', 'warning', 1, '', now(), now() from accounts;
         update escalations set status = 'resolved', resolved_at = now(), outcome = 'saved';
         update contacts set unreachable_at = now(), unreachable_reason = 'blocked';
         update contacts set unreachable_reason = 'blocked again';
         insert into health_scores (account_id, computed_at, score, category, model, components, summary, cause)
         select id, now() - make_interval(mins => m), s, c, 'w', '[]', '', 'test' from accounts,
                (values (30, 80, 'green'), (20, 78, 'green'), (10, 35, 'red')) as h(m, s, c);",
    )
    .execute(&pool)
    .await
    .unwrap();

    let kinds: Vec<String> = sqlx::query_scalar(
        "select e.kind from outgoing_events e join webhook_deliveries d on d.event_id = e.id
          order by e.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        kinds,
        [
            "escalation_opened",
            "escalation_resolved",
            "contact_unreachable",
            "health_category_changed"
        ],
        "the NPS answer is not asked for; a green after a green is no change"
    );
    let change: serde_json::Value = sqlx::query_scalar(
        "select payload from outgoing_events where kind = 'health_category_changed'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (change["from"].as_str(), change["to"].as_str()),
        (Some("green"), Some("red"))
    );
}
