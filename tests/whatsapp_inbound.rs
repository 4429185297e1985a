//! The WhatsApp webhook end to end, for messages: `touchbot serve` against a real PostgreSQL,
//! Meta's signed notifications posted to `/webhooks/whatsapp`, and the bot's answers received
//! by a fake Graph API.

mod support;

use sqlx::PgPool;

use support::cli::touchbot_ok;
use support::whatsapp_app::{DANA, all_events_done, app, events, nps_reply, until};
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

#[sqlx::test]
async fn an_unknown_number_is_answered_once_and_listed_for_staff(pool: PgPool) {
    let app = app(&pool).await;
    let stranger = "4915123456789";

    for wamid in ["wamid.U1", "wamid.U2"] {
        let body = meta::messages(
            stranger,
            "Max Muster",
            vec![text(stranger, wamid, "Hello?")],
        );
        assert_eq!(app.meta.post(&body).await, 200);
    }
    all_events_done(&pool).await;
    let answers = app.answers();
    let listed = touchbot_ok(&pool, &["inbound", "strangers"]);
    app.stop().await;

    assert_eq!(answers.len(), 1, "answered once: {answers:?}");
    assert_eq!(answers[0].to, stranger);
    assert!(answers[0].text.starts_with("Hello!"), "{}", answers[0].text);
    let row = listed
        .lines()
        .find(|l| l.contains("+4915123456789"))
        .unwrap_or_else(|| panic!("the stranger is listed:\n{listed}"));
    assert!(
        row.contains("whatsapp") && row.contains("Max Muster"),
        "{row}"
    );
    let last = row.trim_end_matches(|c: char| c == '│' || c.is_whitespace());
    assert!(last.ends_with(" 2"), "two messages: {row}");
    let replies: i64 = sqlx::query_scalar!(r#"select count(*) as "n!" from replies"#)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(replies, 0, "nothing a stranger says is stored");
}

#[sqlx::test]
async fn stop_is_confirmed_and_the_next_survey_is_not_sent(pool: PgPool) {
    let app = app(&pool).await;

    app.dana_says(vec![text(DANA, "wamid.S1", "stop")]).await;
    let confirmed = app.answer(1).await;
    let survey = sqlx::query_scalar!(
        "insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at)
         values ($1, 'nps-180', 'nps', 'nps', 'survey', 'nps', $2, now() - interval '1 minute')
         returning id",
        app.account.0,
        app.dana.0,
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let outcome = || async {
        sqlx::query!(
            "select status, status_reason from touches where id = $1",
            survey
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    until("the dispatcher to settle the survey", || async {
        !["planned", "claimed", "sending"].contains(&outcome().await.status.as_str())
    })
    .await;
    let survey = outcome().await;
    app.stop().await;

    assert!(
        confirmed.text.contains("no more surveys") && confirmed.text.contains("write START"),
        "{}",
        confirmed.text
    );
    assert_eq!(survey.status, "skipped");
    assert!(
        survey
            .status_reason
            .unwrap_or_default()
            .contains("opted out"),
        "skipped for the opt-out"
    );
}

#[sqlx::test]
async fn while_the_csm_talks_with_the_client_their_words_go_to_the_csm_and_the_bot_is_quiet(
    pool: PgPool,
) {
    let app = app(&pool).await;
    let now = chrono::Utc::now();
    touchbot::chat::takeover::start(
        &pool,
        app.dana,
        Some(app.csm),
        now - chrono::TimeDelta::minutes(5),
        now + chrono::TimeDelta::hours(4),
    )
    .await
    .unwrap();

    app.dana_says(vec![
        text(DANA, "wamid.K1", "8"),
        text(DANA, "wamid.K2", "Can we move our call to Friday?"),
    ])
    .await;
    all_events_done(&pool).await;
    let relayed: Vec<String> =
        sqlx::query_scalar!("select body from staff_posts where kind = 'relay' order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let answers = app.answers();
    let scored = nps_reply(&pool, app.nps).await;
    app.stop().await;

    assert!(answers.is_empty(), "the bot said something: {answers:?}");
    assert_eq!(relayed.len(), 2, "{relayed:?}");
    assert!(relayed[0].contains('8'), "{relayed:?}");
    assert!(
        relayed[1].contains("move our call to Friday"),
        "{relayed:?}"
    );
    assert!(
        relayed.iter().all(|r| r.contains("Northwind")),
        "{relayed:?}"
    );
    assert_eq!(scored, None, "a bare 8 during a takeover is no score");
}

#[sqlx::test]
async fn a_detractor_score_puts_a_card_before_the_team_that_the_csm_takes(pool: PgPool) {
    let app = app(&pool).await;
    sqlx::query!(
        "update staff set telegram_user_id = 4242 where id = $1",
        app.csm.0
    )
    .execute(&pool)
    .await
    .unwrap();

    app.dana_says(vec![text(DANA, "wamid.C1", "2")]).await;
    app.answer(1).await;
    let card = sqlx::query!(
        "select body, buttons from staff_posts where kind = 'escalation' order by id limit 1"
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let take = card.buttons[0][0]["data"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let settings = touchbot::config::Settings::default();
    touchbot::chat::cards::press(&pool, &settings, &take, 4242, chrono::Utc::now()).await;
    let status: String = sqlx::query_scalar!("select status from escalations")
        .fetch_one(&pool)
        .await
        .unwrap();
    app.stop().await;

    assert!(card.body.contains("Northwind"), "{}", card.body);
    assert!(take.starts_with("esc:"), "{take}");
    assert_eq!(status, "acknowledged");
}

#[sqlx::test]
async fn a_detractor_is_escalated_even_when_a_colleague_praises_us_in_the_same_notification(
    pool: PgPool,
) {
    let app = app(&pool).await;
    let boris = boris(&app, &pool).await;

    // Both replies arrive in one notification, so they are handled in one batch.
    app.dana_says(vec![
        text(DANA, "wamid.M1", "2 nobody answers our tickets"),
        text(boris, "wamid.M2", "10 love it"),
    ])
    .await;
    all_events_done(&pool).await;
    let reasons: Vec<String> = sqlx::query_scalar("select reason from escalations")
        .fetch_all(&pool)
        .await
        .unwrap();
    let answered: Vec<String> = app.answers().into_iter().map(|a| a.to).collect();
    app.stop().await;

    assert_eq!(reasons, ["detractor"]);
    assert_eq!(answered.len(), 2, "{answered:?}");
    assert!(answered.contains(&DANA.to_string()) && answered.contains(&boris.to_string()));
}

/// Boris, a second contact of Dana's account on WhatsApp, sent an NPS survey an hour ago;
/// his number as WhatsApp writes it.
async fn boris(app: &support::whatsapp_app::App, pool: &PgPool) -> &'static str {
    let boris = "77017654321";
    sqlx::query(
        "with c as (insert into contacts (account_id, name, role, channel, address)
                    values ($1, 'Boris Ivanov', 'user', 'whatsapp', $2) returning id)
         insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at, status, sent_at, provider_message_id)
         select $1, 'nps-90-boris', 'nps', 'nps', 'survey', 'nps', c.id,
                now() - interval '1 hour', 'sent', now() - interval '1 hour', 'wamid.NPS2'
           from c",
    )
    .bind(app.account.0)
    .bind(format!("+{boris}"))
    .execute(pool)
    .await
    .unwrap();
    boris
}

#[sqlx::test]
async fn a_reply_the_database_refuses_fails_alone_and_the_other_of_its_batch_is_answered(
    pool: PgPool,
) {
    let app = app(&pool).await;
    let boris = boris(&app, &pool).await;
    // Stands in for whatever makes one reply unstorable (a row the schema refuses).
    sqlx::query("alter table replies add constraint no_poison check (body <> '7 poison')")
        .execute(&pool)
        .await
        .unwrap();

    app.dana_says(vec![
        text(DANA, "wamid.M1", "7 poison"),
        text(boris, "wamid.M2", "10 love it"),
    ])
    .await;
    let answer = app.answer(1).await;
    until("the refused reply's failure to be recorded", || async {
        let tries: i32 = sqlx::query_scalar(
            "select tries from whatsapp_events where event_key = 'msg:wamid.M1'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        tries > 0
    })
    .await;
    let stored: Vec<String> = sqlx::query_scalar("select provider_message_id from replies")
        .fetch_all(&pool)
        .await
        .unwrap();
    let answers = app.answers();
    app.stop().await;

    assert_eq!(answer.to, boris);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(stored, ["wamid.M2"]);
}
