//! The WhatsApp webhook end to end, for delivery statuses and for events a crash left undone:
//! `touchbot serve` against a real PostgreSQL and a fake Graph API, Meta's signed statuses
//! posted to `/webhooks/whatsapp`.

mod support;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use sqlx::PgPool;
use touchbot::messages::Messages;
use touchbot::whatsapp::worker::Worker;

use support::whatsapp_app::{App, DANA, all_events_done, app, serve, settings, until, world};
use support::whatsapp_webhook::{self as meta, failed, status, text};

fn key(app: &App, touch_key: &str) -> String {
    format!("touch:{}:{touch_key}", app.account.0)
}

/// A status as Meta dates it, at `at`.
fn at(mut status: serde_json::Value, at: DateTime<Utc>) -> serde_json::Value {
    status["timestamp"] = json!(at.timestamp().to_string());
    status
}

async fn post_statuses(app: &App, statuses: Vec<serde_json::Value>) {
    assert_eq!(app.meta.post(&meta::statuses(statuses)).await, 200);
}

#[derive(Debug)]
struct Touch {
    status: String,
    status_reason: Option<String>,
    provider_message_id: Option<String>,
    delivered_at: Option<DateTime<Utc>>,
    read_at: Option<DateTime<Utc>>,
    template_only: bool,
}

async fn touch(pool: &PgPool, id: i64) -> Touch {
    sqlx::query_as!(
        Touch,
        "select status, status_reason, provider_message_id, delivered_at, read_at, template_only
           from touches where id = $1",
        id
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn a_send_left_unknown_is_settled_as_sent_by_its_status_with_nobody_involved(pool: PgPool) {
    let app = app(&pool).await;
    let checkin = sqlx::query_scalar!(
        "insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at, status, status_reason)
         values ($1, 'checkin-14', 'checkin', 'checkin', 'checkin', 'checkin', $2,
                 now() - interval '1 hour', 'unknown', 'the answer to the send was lost')
         returning id",
        app.account.0,
        app.dana.0,
    )
    .fetch_one(&pool)
    .await
    .unwrap();

    let callback = key(&app, "checkin-14");
    post_statuses(
        &app,
        vec![status("wamid.LOST", "sent", DANA, Some(&callback))],
    )
    .await;
    all_events_done(&pool).await;
    let settled = touch(&pool, checkin).await;
    app.stop().await;

    assert_eq!(settled.status, "sent");
    assert_eq!(settled.provider_message_id.as_deref(), Some("wamid.LOST"));
}

#[sqlx::test]
async fn a_status_that_overtakes_the_record_of_its_send_waits_and_then_settles_it(pool: PgPool) {
    let app = app(&pool).await;
    // Handed to WhatsApp by a dispatcher that has not recorded the answer yet (or died).
    let checkin = sqlx::query_scalar!(
        "insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at, status, lease_owner, lease_until)
         values ($1, 'checkin-14', 'checkin', 'checkin', 'checkin', 'checkin', $2,
                 now() - interval '1 hour', 'sending', 'worker-that-died', now() + interval '1 hour')
         returning id",
        app.account.0,
        app.dana.0,
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let callback = key(&app, "checkin-14");

    post_statuses(
        &app,
        vec![status("wamid.EARLY", "sent", DANA, Some(&callback))],
    )
    .await;
    until("the early status to be put off", || async {
        sqlx::query_scalar!(
            r#"select coalesce(done_at is null and tries = 0
                                and claimed_until < now() + interval '30 seconds', false) as "off!"
                 from whatsapp_events"#
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    })
    .await;
    let while_sending = touch(&pool, checkin).await;
    // The lease rescue finds the send's outcome unknown; the status is looked at again.
    sqlx::query!(
        "update touches set status = 'unknown', lease_owner = null where id = $1",
        checkin
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query!("update whatsapp_events set claimed_until = now()")
        .execute(&pool)
        .await
        .unwrap();
    post_statuses(&app, vec![status("wamid.OTHER", "delivered", DANA, None)]).await;
    all_events_done(&pool).await;
    let settled = touch(&pool, checkin).await;
    app.stop().await;

    assert_eq!(while_sending.status, "sending");
    assert_eq!(settled.status, "sent");
    assert_eq!(settled.provider_message_id.as_deref(), Some("wamid.EARLY"));
}

#[sqlx::test]
async fn delivered_and_read_are_kept_with_their_first_time(pool: PgPool) {
    let app = app(&pool).await;
    let callback = key(&app, "nps-90");
    let t = Utc::now() - TimeDelta::minutes(30);
    let delivered = at(status("wamid.NPS", "delivered", DANA, Some(&callback)), t);
    let read = at(
        status("wamid.NPS", "read", DANA, None),
        t + TimeDelta::minutes(5),
    );

    post_statuses(&app, vec![delivered.clone(), read]).await;
    // The same status again, dated later, is the same status.
    post_statuses(&app, vec![at(delivered, t + TimeDelta::minutes(20))]).await;
    all_events_done(&pool).await;
    let nps = touch(&pool, app.nps).await;
    let stored: i64 = sqlx::query_scalar!(r#"select count(*) as "n!" from whatsapp_events"#)
        .fetch_one(&pool)
        .await
        .unwrap();
    app.stop().await;

    assert_eq!(stored, 2);
    assert_eq!(nps.status, "sent");
    assert_eq!(nps.delivered_at.map(|d| d.timestamp()), Some(t.timestamp()));
    assert_eq!(
        nps.read_at.map(|d| d.timestamp()),
        Some((t + TimeDelta::minutes(5)).timestamp())
    );
}

#[sqlx::test]
async fn a_read_status_alone_also_counts_as_delivered(pool: PgPool) {
    let app = app(&pool).await;

    post_statuses(&app, vec![status("wamid.NPS", "read", DANA, None)]).await;
    all_events_done(&pool).await;
    let nps = touch(&pool, app.nps).await;
    app.stop().await;

    assert!(nps.read_at.is_some());
    assert_eq!(nps.delivered_at, nps.read_at);
}

#[sqlx::test]
async fn a_touch_refused_for_the_closed_window_goes_again_as_its_template(pool: PgPool) {
    let app = app(&pool).await;
    let callback = key(&app, "nps-90");

    let refused = failed(
        "wamid.NPS",
        DANA,
        Some(&callback),
        131047,
        "Re-engagement message",
    );
    post_statuses(&app, vec![refused]).await;
    until("the survey to be sent again", || async {
        app.fake
            .sent()
            .iter()
            .any(|s| s.callback_data.as_deref() == Some(callback.as_str()))
    })
    .await;
    let nps = touch(&pool, app.nps).await;
    let again = app.fake.sent();
    app.stop().await;

    assert!(nps.template_only, "{nps:?}");
    let template = again[0].template.as_ref().expect("sent as a template");
    assert_eq!(template.name, "touchbot_nps");
}

#[sqlx::test]
async fn a_number_that_cannot_receive_fails_the_touch_and_makes_the_contact_unreachable(
    pool: PgPool,
) {
    let app = app(&pool).await;
    let callback = key(&app, "nps-90");

    let refused = failed(
        "wamid.NPS",
        DANA,
        Some(&callback),
        131026,
        "Message undeliverable",
    );
    // An answer to Dana comes back too; it is no touch and changes nothing.
    let answer = status(
        "wamid.ANSWER",
        "delivered",
        DANA,
        Some("answer:reply:wamid.T1:0"),
    );
    post_statuses(&app, vec![refused, answer]).await;
    all_events_done(&pool).await;
    let nps = touch(&pool, app.nps).await;
    let unreachable = sqlx::query_scalar!(
        "select unreachable_reason from contacts where id = $1",
        app.dana.0
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let errors: i64 = sqlx::query_scalar!(
        r#"select count(*) as "n!" from whatsapp_events where last_error is not null"#
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    app.stop().await;

    assert_eq!(nps.status, "failed");
    let reason = nps.status_reason.unwrap_or_default();
    assert!(
        reason.contains("Message undeliverable") && reason.contains("131026"),
        "{reason}"
    );
    assert_eq!(unreachable.as_deref(), Some("unknown_chat"));
    assert_eq!(errors, 0);
}

#[sqlx::test]
async fn a_message_stored_but_never_handled_is_handled_by_the_next_start(pool: PgPool) {
    // The webhook stored it and answered 200, then the process died.
    let world = world(&pool).await;
    let payload = json!({ "message": text(DANA, "wamid.CRASH", "9"), "profile_name": "Dana" });
    sqlx::query!(
        "insert into whatsapp_events (event_key, kind, payload, received_at)
         values ('msg:wamid.CRASH', 'message', $1, now())",
        payload
    )
    .execute(&pool)
    .await
    .unwrap();

    let app = serve(&pool, world).await;
    let answer = app.answer(1).await;
    all_events_done(&pool).await;
    let score: Option<i16> =
        sqlx::query_scalar!("select score from replies where touch_id = $1", app.nps)
            .fetch_one(&pool)
            .await
            .unwrap();
    app.stop().await;

    assert_eq!(score, Some(9));
    assert_eq!(answer.to, DANA);
}

#[sqlx::test]
async fn a_message_set_aside_is_handled_when_staff_replay_it(pool: PgPool) {
    let app = app(&pool).await;
    let payload = json!({ "message": text(DANA, "wamid.POISON", "10"), "profile_name": "Dana" });
    // It failed five times (a bug since fixed) and was set aside.
    sqlx::query!(
        "insert into whatsapp_events (event_key, kind, payload, received_at, done_at, tries,
                                      last_error)
         values ('msg:wamid.POISON', 'message', $1, now(), now(), 5, 'boom')",
        payload
    )
    .execute(&pool)
    .await
    .unwrap();
    let worker = Worker::new(
        pool.clone(),
        Arc::new(settings(&app.fake)),
        Arc::new(Messages::load().unwrap()),
    )
    .unwrap();

    worker.replay("msg:wamid.POISON").await.unwrap();
    let again = worker.replay("msg:wamid.POISON").await;
    let answer = app.answer(1).await;
    let score: Option<i16> =
        sqlx::query_scalar!("select score from replies where touch_id = $1", app.nps)
            .fetch_one(&pool)
            .await
            .unwrap();
    app.stop().await;

    assert_eq!(score, Some(10));
    assert_eq!(answer.to, DANA);
    let again = again.expect_err("a handled event is not replayed twice");
    assert!(again.to_string().contains("not set aside"), "{again}");
}
