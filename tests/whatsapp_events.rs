//! The queue of stored WhatsApp events against a real PostgreSQL: one sender's messages are
//! handled in the order they came, and an event that keeps failing is set aside.

use serde_json::json;
use sqlx::PgPool;
use touchbot::whatsapp::events::NewEvent;
use touchbot::whatsapp::queue;

fn message(from: &str, wamid: &str) -> NewEvent {
    NewEvent {
        key: format!("msg:{wamid}"),
        kind: "message",
        payload: json!({"message": {"from": from, "id": wamid, "type": "text",
                                    "text": {"body": "hi"}}, "profile_name": null}),
    }
}

#[sqlx::test]
async fn a_senders_next_message_waits_until_the_one_before_is_done(pool: PgPool) {
    queue::store(
        &pool,
        &[
            message("77011234567", "wamid.A1"),
            message("77011234567", "wamid.A2"),
            message("4915123456789", "wamid.B1"),
        ],
    )
    .await
    .unwrap();

    let first = queue::claim_next(&pool).await.unwrap().unwrap();
    // A1 is being handled: A2 must wait, B1 (another sender) need not.
    let second = queue::claim_next(&pool).await.unwrap().unwrap();
    let none_free = queue::claim_next(&pool).await.unwrap();
    queue::done(&pool, first.id).await.unwrap();
    let third = queue::claim_next(&pool).await.unwrap().unwrap();

    let wamid = |c: &queue::Claimed| c.payload["message"]["id"].as_str().unwrap().to_string();
    assert_eq!(wamid(&first), "wamid.A1");
    assert_eq!(wamid(&second), "wamid.B1");
    assert!(none_free.is_none(), "{none_free:?}");
    assert_eq!(wamid(&third), "wamid.A2");
}

#[sqlx::test]
async fn an_event_that_keeps_failing_is_set_aside_with_its_error_and_frees_its_sender(
    pool: PgPool,
) {
    let events = [
        message("77011234567", "wamid.P1"),
        message("77011234567", "wamid.P2"),
    ];
    queue::store(&pool, &events).await.unwrap();
    let poison = queue::claim_next(&pool).await.unwrap().unwrap();

    let mut set_aside = Vec::new();
    for _ in 0..5 {
        // A pause of 0 s lets it be claimed again at once, as it would be after its pause.
        set_aside.push(
            queue::failed(&pool, poison.id, "boom", 5, 0.0)
                .await
                .unwrap(),
        );
        let again = queue::claim_next(&pool).await.unwrap().unwrap();
        assert_eq!(
            again.payload["message"]["id"],
            if set_aside.ends_with(&[true]) {
                "wamid.P2"
            } else {
                "wamid.P1"
            }
        );
    }
    let row = sqlx::query!(
        "select tries, last_error, done_at is not null as \"done!\" from whatsapp_events
          where id = $1",
        poison.id
    )
    .fetch_one(&pool)
    .await
    .unwrap();

    assert_eq!(set_aside, [false, false, false, false, true]);
    assert_eq!(
        (row.tries, row.last_error.as_deref(), row.done),
        (5, Some("boom"), true)
    );
}
