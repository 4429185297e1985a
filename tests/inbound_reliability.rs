//! Inbound messages under faults and races, against a real PostgreSQL: what follows a reply is
//! never skipped by a redelivery, a takeover is checked before a text is read, and a touch
//! keeps one answer however many taps race for it.

use chrono::{DateTime, Duration, TimeZone, Utc};
use sqlx::PgPool;

use touchbot::config::Settings;
use touchbot::domain::{AccountId, ChannelKind, ContactId, TouchId};
use touchbot::inbound::signals::{RawSignal, parse_signal};
use touchbot::inbound::{
    Answer, Handled, InboundContent, InboundMessage, InboundOutcome, Judge, followups, receive,
    record_reply, signal_store,
};

const ADDRESS: &str = "1001";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).unwrap()
}

struct World {
    account_id: i64,
    contact_id: i64,
}

/// An account with a CSM and one Telegram contact at `ADDRESS`.
async fn world(pool: &PgPool) -> World {
    let csm_id = sqlx::query_scalar!(
        "insert into staff (name, role) values ('Dina Sadykova', 'csm') returning id"
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let account_id = sqlx::query_scalar!(
        "insert into accounts (name, segment, contract_start, csm_id)
         values ('Steppe Logistics', 'smb', '2026-01-05', $1) returning id",
        csm_id
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let contact_id = sqlx::query_scalar!(
        "insert into contacts (account_id, name, role, channel, address)
         values ($1, 'Aigerim Nurlanova', 'champion', 'telegram', $2) returning id",
        account_id,
        ADDRESS
    )
    .fetch_one(pool)
    .await
    .unwrap();
    World {
        account_id,
        contact_id,
    }
}

/// An NPS survey sent to the contact `ago` before `now()`.
async fn sent_survey(pool: &PgPool, w: &World, key: &str, ago: Duration) -> TouchId {
    let sent_at = now() - ago;
    let id = sqlx::query_scalar!(
        "insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at, status, sent_at)
         values ($1, $2, 'nps', 'nps', 'survey', 'nps', $3, $4, 'sent', $4) returning id",
        w.account_id,
        key,
        w.contact_id,
        sent_at,
    )
    .fetch_one(pool)
    .await
    .unwrap();
    TouchId(id)
}

fn text(id: &str, body: &str, at: DateTime<Utc>) -> InboundMessage {
    InboundMessage {
        channel: ChannelKind::Telegram,
        address: ADDRESS.to_string(),
        provider_message_id: id.to_string(),
        content: InboundContent::Text(body.to_string()),
        received_at: at,
    }
}

fn tap(id: &str, data: &str) -> InboundMessage {
    InboundMessage {
        content: InboundContent::Button(data.to_string()),
        ..text(id, "", now())
    }
}

fn handled(outcome: InboundOutcome) -> Handled {
    match outcome {
        InboundOutcome::Handled(handled) => handled,
        InboundOutcome::UnknownSender => panic!("the sender should be known"),
    }
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn talking_with_the_csm(pool: &PgPool, w: &World) {
    touchbot::chat::takeover::start(
        pool,
        ContactId(w.contact_id),
        None,
        now() - Duration::hours(1),
        now() + Duration::hours(4),
    )
    .await
    .unwrap();
}

#[sqlx::test]
async fn a_redelivered_message_finishes_what_its_first_delivery_left_undone(pool: PgPool) {
    let settings = Settings::default();
    let w = world(&pool).await;
    let message = text("m1", "Could we move the training to Friday?", now());
    // The first delivery stored the message, then the process died before anything followed.
    handled(record_reply(&pool, &message).await.unwrap());
    let scored_before = count(&pool, "select count(*) from health_scores").await;

    let again = handled(
        receive(&pool, Judge::from(&settings), &message, now())
            .await
            .unwrap(),
    );
    let scored = count(&pool, "select count(*) from health_scores").await;
    let relayed = count(
        &pool,
        "select count(*) from staff_posts where kind = 'relay'",
    )
    .await;
    receive(&pool, Judge::from(&settings), &message, now())
        .await
        .unwrap();

    assert!(again.duplicate);
    assert_eq!(scored_before, 0);
    assert_eq!(scored, 1, "the account was reassessed on the redelivery");
    assert_eq!(relayed, 1, "the words reached the CSM on the redelivery");
    assert_eq!(
        count(&pool, "select count(*) from health_scores").await,
        1,
        "a third delivery finds nothing left to do"
    );
    assert_eq!(
        count(
            &pool,
            "select count(*) from staff_posts where kind = 'relay'"
        )
        .await,
        1
    );
    let _ = w;
}

#[sqlx::test]
async fn a_signal_fed_again_after_a_crash_is_still_reassessed(pool: PgPool) {
    let settings = Settings::default();
    let w = world(&pool).await;
    let raw = RawSignal {
        kind: "active_users".into(),
        value: Some(40.0),
        occurred_at: now(),
        key: Some("crm-7".into()),
        ..RawSignal::default()
    };
    let signal = parse_signal(AccountId(w.account_id), &raw).unwrap();
    // Stored, then the command died before the reassessment.
    let first = signal_store::store_with_followups(&pool, &signal, "cli")
        .await
        .unwrap();

    let again = signal_store::store_with_followups(&pool, &signal, "cli")
        .await
        .unwrap();
    let done = followups::run_for(&pool, &settings, &signal.idempotency_key, now())
        .await
        .unwrap();

    assert!(first.is_some());
    assert_eq!(again, None, "the signal is stored once");
    assert!(done.reassessed.is_some(), "the reassessment still ran");
    assert_eq!(count(&pool, "select count(*) from health_scores").await, 1);
}

#[sqlx::test]
async fn during_a_takeover_a_score_with_words_is_passed_on_and_not_stored_as_an_nps(pool: PgPool) {
    let settings = Settings::default();
    let w = world(&pool).await;
    sent_survey(&pool, &w, "nps-90", Duration::days(1)).await;
    talking_with_the_csm(&pool, &w).await;

    let said = handled(
        receive(
            &pool,
            Judge::from(&settings),
            &text("m1", "3, all in finance", now()),
            now(),
        )
        .await
        .unwrap(),
    );

    assert_eq!(said.answer, Answer::Relayed);
    assert!(said.send_back().is_empty(), "the bot stays quiet");
    let kinds: Vec<(String, Option<i16>, Option<i64>)> =
        sqlx::query_as("select kind, score, touch_id from replies")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(kinds, vec![("free_text".to_string(), None, None)]);
    assert_eq!(
        count(&pool, "select count(*) from escalations").await,
        0,
        "no detractor alarm"
    );
    assert_eq!(
        count(
            &pool,
            "select count(*) from staff_posts where kind = 'relay'"
        )
        .await,
        1,
        "the words went to the CSM"
    );
}

#[sqlx::test]
async fn during_a_takeover_talk_after_a_bare_score_does_not_become_its_reason(pool: PgPool) {
    let w = world(&pool).await;
    sent_survey(&pool, &w, "nps-90", Duration::days(1)).await;
    let scored = handled(
        record_reply(&pool, &text("m1", "8", now() - Duration::hours(2)))
            .await
            .unwrap(),
    );
    talking_with_the_csm(&pool, &w).await;

    let talk = handled(
        record_reply(
            &pool,
            &text("m2", "sure, Tuesday works for the call", now()),
        )
        .await
        .unwrap(),
    );

    assert_eq!(
        scored.answer,
        Answer::Nps {
            score: 8,
            has_comment: false
        }
    );
    assert_eq!(talk.answer, Answer::Relayed);
    let comment: Option<String> =
        sqlx::query_scalar("select comment from replies where kind = 'nps'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(comment, None);
}

#[sqlx::test]
async fn a_touch_keeps_one_answer_whatever_writes_it(pool: PgPool) {
    let w = world(&pool).await;
    let survey = sent_survey(&pool, &w, "nps-90", Duration::days(1)).await;
    let insert = |id: &'static str, score: i16| {
        sqlx::query(
            "insert into replies (account_id, contact_id, touch_id, channel, provider_message_id,
                                  received_at, body, kind, score)
             values ($1, $2, $3, 'telegram', $4, now(), '', 'nps', $5)",
        )
        .bind(w.account_id)
        .bind(w.contact_id)
        .bind(survey.0)
        .bind(id)
        .bind(score)
        .execute(&pool)
    };

    let first = insert("a", 2).await;
    let second = insert("b", 9).await;

    assert!(first.is_ok());
    let error = second.expect_err("a second answer to the same touch is refused");
    assert!(
        error.to_string().contains("replies_one_answer_per_touch"),
        "{error}"
    );
}

#[sqlx::test]
async fn two_taps_on_one_survey_handled_at_once_store_one_answer(pool: PgPool) {
    let w = world(&pool).await;
    for round in 0..5 {
        let survey = sent_survey(&pool, &w, &format!("nps-{round}"), Duration::days(1)).await;
        let (low, high) = (
            tap(&format!("cb:{round}a"), &format!("nps:{}:2", survey.0)),
            tap(&format!("cb:{round}b"), &format!("nps:{}:9", survey.0)),
        );
        let (a, b) = tokio::join!(record_reply(&pool, &low), record_reply(&pool, &high));
        let answers = [handled(a.unwrap()).answer, handled(b.unwrap()).answer];

        let stored: i64 = sqlx::query_scalar("select count(*) from replies where touch_id = $1")
            .bind(survey.0)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(stored, 1, "round {round}: {answers:?}");
        assert_eq!(
            answers
                .iter()
                .filter(|a| **a == Answer::AlreadyAnswered)
                .count(),
            1,
            "round {round}: {answers:?}"
        );
    }
}

#[sqlx::test]
async fn steps_left_behind_by_a_crash_are_done_by_the_sweep(pool: PgPool) {
    let settings = Settings::default();
    world(&pool).await;
    // Stored, then the process died: nobody will deliver this message again.
    handled(
        record_reply(&pool, &text("m1", "Could we move the training?", now()))
            .await
            .unwrap(),
    );
    sqlx::query("update inbound_followups set created_at = now() - interval '1 minute'")
        .execute(&pool)
        .await
        .unwrap();

    let done = followups::sweep(&pool, &settings, now()).await.unwrap();
    let again = followups::sweep(&pool, &settings, now()).await.unwrap();

    assert_eq!(done, 2, "the reassessment and the forward to the CSM");
    assert_eq!(again, 0);
    assert_eq!(count(&pool, "select count(*) from health_scores").await, 1);
    assert_eq!(
        count(
            &pool,
            "select count(*) from staff_posts where kind = 'relay'"
        )
        .await,
        1
    );
}
