//! The WhatsApp webhook end to end, for messages: `touchbot serve` against a real PostgreSQL,
//! Meta's signed notifications posted to `/webhooks/whatsapp`, and the bot's answers received
//! by a fake Graph API.

mod support;

use sqlx::PgPool;

use support::whatsapp_app::{DANA, all_events_done, app, events, nps_reply};
use support::whatsapp_webhook::{
    self as meta, APP_SECRET, VERIFY_TOKEN, button_reply, image, list_reply, quick_reply, sign,
    text,
};

#[sqlx::test]
async fn meta_is_answered_the_challenge_only_with_our_verify_token(pool: PgPool) {
    let app = app(&pool).await;

    let good = app.meta.verify(VERIFY_TOKEN, "1158201444").await;
    let bad = app.meta.verify("someone-elses-token", "1158201444").await;
    app.stop().await;

    assert_eq!(good, (200, "1158201444".to_string()));
    assert_eq!(bad.0, 403);
    assert!(!bad.1.contains("1158201444"));
}

#[sqlx::test]
async fn a_forged_or_missing_signature_is_refused_and_nothing_is_stored(pool: PgPool) {
    let app = app(&pool).await;
    let body = meta::messages(DANA, "Dana", vec![text(DANA, "wamid.F1", "9")]);
    let other = meta::messages(DANA, "Dana", vec![text(DANA, "wamid.F2", "0")]);

    let forged = app
        .meta
        .post_with(&body, Some(sign(&body, "not-the-app-secret")))
        .await;
    let borrowed = app
        .meta
        .post_with(&body, Some(sign(&other, APP_SECRET)))
        .await;
    let missing = app.meta.post_with(&body, None).await;
    let stored = events(&pool).await;
    let scored = nps_reply(&pool, app.nps).await;
    let answered = app.fake.requests();
    app.stop().await;

    assert_eq!((forged, borrowed, missing), (401, 401, 401));
    assert_eq!(stored, 0);
    assert_eq!(scored, None);
    assert_eq!(answered, 0);
}

#[sqlx::test]
async fn a_signed_body_that_is_no_notification_is_acknowledged_and_nothing_is_stored(pool: PgPool) {
    let app = app(&pool).await;

    let status = app.meta.post(b"{\"entry\": [{\"changes\": ").await;
    let oversized = app.meta.post(&vec![b' '; 2 << 20]).await;
    let stored = events(&pool).await;
    app.stop().await;

    assert_eq!(status, 200, "Meta would send it again for a week");
    assert_eq!(oversized, 413);
    assert_eq!(stored, 0);
}

#[sqlx::test]
async fn a_typed_score_is_recorded_and_the_why_question_asked_and_its_answer_kept(pool: PgPool) {
    let app = app(&pool).await;

    app.dana_says(vec![text(DANA, "wamid.T1", "7")]).await;
    let why = app.answer(1).await;
    app.dana_says(vec![text(
        DANA,
        "wamid.T2",
        "Onboarding took longer than promised",
    )])
    .await;
    let thanks = app.answer(2).await;
    let reply = nps_reply(&pool, app.nps).await;
    app.stop().await;

    assert_eq!(why.to, DANA);
    assert!(why.text.contains("main reason"), "{}", why.text);
    assert!(
        thanks.text.contains("We'll keep working"),
        "{}",
        thanks.text
    );
    assert_eq!(
        reply,
        Some((
            Some(7),
            Some("Onboarding took longer than promised".to_string())
        ))
    );
}

#[sqlx::test]
async fn a_tap_on_a_reply_button_or_a_list_row_is_an_nps_answer(pool: PgPool) {
    let app = app(&pool).await;
    let nine = format!("nps:{}:9", app.nps);

    app.dana_says(vec![button_reply(DANA, "wamid.B1", &nine, "9")])
        .await;
    let first = app.answer(1).await;
    // A second tap, from an old list, changes nothing: the survey has its answer.
    let two = format!("nps:{}:2", app.nps);
    app.dana_says(vec![list_reply(DANA, "wamid.B2", &two, "2")])
        .await;
    all_events_done(&pool).await;
    let reply = nps_reply(&pool, app.nps).await;
    app.stop().await;

    assert!(first.text.contains("main reason"), "{}", first.text);
    assert_eq!(reply.map(|r| r.0), Some(Some(9)));
}

#[sqlx::test]
async fn a_tap_on_a_templates_quick_reply_is_an_nps_answer(pool: PgPool) {
    let app = app(&pool).await;
    let ten = format!("nps:{}:10", app.nps);

    app.dana_says(vec![quick_reply(DANA, "wamid.Q1", &ten, "10")])
        .await;
    app.answer(1).await;
    let reply = nps_reply(&pool, app.nps).await;
    app.stop().await;

    assert_eq!(reply.map(|r| r.0), Some(Some(10)));
}

#[sqlx::test]
async fn the_same_message_delivered_ten_times_is_answered_once(pool: PgPool) {
    let app = app(&pool).await;
    let body = meta::messages(
        DANA,
        "Dana",
        vec![text(DANA, "wamid.D1", "8, it works well")],
    );

    for _ in 0..10 {
        assert_eq!(app.meta.post(&body).await, 200);
    }
    app.answer(1).await;
    all_events_done(&pool).await;
    let replies: i64 = sqlx::query_scalar!(r#"select count(*) as "n!" from replies"#)
        .fetch_one(&pool)
        .await
        .unwrap();
    let stored = events(&pool).await;
    let answers = app.answers();
    app.stop().await;

    assert_eq!(stored, 1);
    assert_eq!(replies, 1);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert!(answers[0].text.contains("Thank you"), "{}", answers[0].text);
}

#[sqlx::test]
async fn an_image_is_not_read_nor_answered(pool: PgPool) {
    let app = app(&pool).await;

    app.dana_says(vec![image(DANA, "wamid.I1")]).await;
    all_events_done(&pool).await;
    let reply = nps_reply(&pool, app.nps).await;
    let answers = app.answers();
    app.stop().await;

    assert_eq!(reply, None);
    assert!(answers.is_empty(), "{answers:?}");
}
