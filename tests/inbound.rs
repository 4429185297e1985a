//! Recording what contacts send back, against a real PostgreSQL (one fresh database per test).

use chrono::{DateTime, Duration, TimeZone, Utc};
use sqlx::PgPool;

use touchbot::domain::{ChannelKind, TouchId};
use touchbot::inbound::{
    Answer, CheckinAnswer, Handled, InboundContent, InboundMessage, InboundOutcome, record_reply,
};
use touchbot::messages::Messages;

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
        "insert into accounts (name, segment, contract_start, csm_id, locale)
         values ('Steppe Logistics', 'smb', '2026-01-05', $1, 'ru') returning id",
        csm_id
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let contact_id = contact(pool, account_id, "Aigerim Nurlanova", ADDRESS).await;
    World {
        account_id,
        contact_id,
    }
}

async fn contact(pool: &PgPool, account_id: i64, name: &str, address: &str) -> i64 {
    sqlx::query_scalar!(
        "insert into contacts (account_id, name, role, channel, address)
         values ($1, $2, 'champion', 'telegram', $3) returning id",
        account_id,
        name,
        address
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A touch of `kind` sent to the contact `ago` before `now()`.
async fn sent_touch(pool: &PgPool, w: &World, kind: &str, ago: Duration) -> TouchId {
    let category = match kind {
        "nps" | "csat" => "survey",
        _ => "checkin",
    };
    let sent_at = now() - ago;
    let id = sqlx::query_scalar!(
        "insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at, status, sent_at)
         values ($1, $2, $3, $3, $4, $3, $5, $6, 'sent', $6) returning id",
        w.account_id,
        format!("{kind}@{sent_at}"),
        kind,
        category,
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

fn tap(id: &str, data: &str, at: DateTime<Utc>) -> InboundMessage {
    InboundMessage {
        content: InboundContent::Button(data.to_string()),
        ..text(id, "", at)
    }
}

async fn record(pool: &PgPool, message: &InboundMessage) -> Handled {
    match record_reply(pool, message).await.unwrap() {
        InboundOutcome::Handled(handled) => handled,
        InboundOutcome::UnknownSender => panic!("the sender should be known"),
    }
}

#[derive(Debug, PartialEq)]
struct Reply {
    touch_id: Option<i64>,
    kind: String,
    score: Option<i16>,
    comment: Option<String>,
}

async fn replies(pool: &PgPool) -> Vec<Reply> {
    sqlx::query_as!(
        Reply,
        "select touch_id, kind, score, comment from replies order by id"
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn reply_signals(pool: &PgPool) -> i64 {
    sqlx::query_scalar!(r#"select count(*) as "n!" from signals where kind = 'reply'"#)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn an_nps_reply_links_to_the_survey_and_stores_score_and_comment(pool: PgPool) {
    let w = world(&pool).await;
    let survey = sent_touch(&pool, &w, "nps", Duration::days(2)).await;

    let handled = record(&pool, &text("m1", "9, great support", now())).await;

    assert_eq!(
        handled.answer,
        Answer::Nps {
            score: 9,
            has_comment: true
        }
    );
    assert_eq!(handled.send_back(), vec!["nps-thanks-promoter"]);
    assert_eq!(handled.touch_id, Some(survey));
    assert!(!handled.duplicate);
    assert_eq!(
        (handled.locale.as_str(), handled.contact_first_name.as_str()),
        ("ru", "Aigerim")
    );
    assert_eq!(handled.csm_name.as_deref(), Some("Dina Sadykova"));
    assert_eq!(
        replies(&pool).await,
        vec![Reply {
            touch_id: Some(survey.0),
            kind: "nps".into(),
            score: Some(9),
            comment: Some("great support".into())
        }]
    );
    assert_eq!(reply_signals(&pool).await, 1);

    // The caller can render the answer in the contact's language straight from the outcome.
    let answer = Messages::load()
        .unwrap()
        .render(&handled.locale, handled.send_back()[0], &handled.vars())
        .unwrap();
    assert!(answer.starts_with("Спасибо, Aigerim!"), "{answer}");
}

#[sqlx::test]
async fn a_redelivered_message_changes_nothing_and_returns_the_same_outcome(pool: PgPool) {
    let w = world(&pool).await;
    sent_touch(&pool, &w, "nps", Duration::hours(3)).await;
    let message = text("m1", "4", now());

    let first = record(&pool, &message).await;
    let again = record(&pool, &message).await;

    assert!(again.duplicate);
    assert_eq!(again.answer, first.answer);
    assert_eq!(again.reply_id, first.reply_id);
    assert_eq!(again.touch_id, first.touch_id);
    assert_eq!(replies(&pool).await.len(), 1);
    assert_eq!(reply_signals(&pool).await, 1);
}

#[sqlx::test]
async fn a_bare_score_asks_why_and_the_next_text_becomes_its_comment(pool: PgPool) {
    let w = world(&pool).await;
    let survey = sent_touch(&pool, &w, "nps", Duration::hours(5)).await;

    let scored = record(&pool, &text("m1", "3", now())).await;
    assert_eq!(scored.send_back(), vec!["nps-ask-why"]);

    let reason = text(
        "m2",
        "Onboarding took too long",
        now() + Duration::minutes(4),
    );
    let commented = record(&pool, &reason).await;
    assert_eq!(
        commented.answer,
        Answer::NpsComment {
            reply_id: scored.reply_id.unwrap(),
            score: 3
        }
    );
    assert_eq!(commented.send_back(), vec!["nps-thanks-detractor"]);

    // A redelivery of the reason must not turn into a new conversation.
    assert!(record(&pool, &reason).await.duplicate);
    assert_eq!(
        replies(&pool).await,
        vec![Reply {
            touch_id: Some(survey.0),
            kind: "nps".into(),
            score: Some(3),
            comment: Some("Onboarding took too long".into())
        }]
    );
    assert_eq!(reply_signals(&pool).await, 2);

    // The reason was asked once: the next message is a message of its own.
    let later = record(
        &pool,
        &text("m3", "And one more thing", now() + Duration::minutes(9)),
    )
    .await;
    assert_eq!(later.answer, Answer::FreeText);
    assert_eq!(replies(&pool).await.len(), 2);
}

#[sqlx::test]
async fn text_a_day_after_a_bare_score_is_not_taken_as_its_reason(pool: PgPool) {
    let w = world(&pool).await;
    sent_touch(&pool, &w, "nps", Duration::hours(1)).await;
    record(&pool, &text("m1", "8", now())).await;

    let late = record(
        &pool,
        &text("m2", "Can we add two users?", now() + Duration::hours(25)),
    )
    .await;

    assert_eq!(late.answer, Answer::FreeText);
    assert_eq!(late.send_back(), vec!["fallback-forwarded"]);
    assert_eq!(replies(&pool).await[0].comment, None);
}

#[sqlx::test]
async fn opting_out_stops_surveys_and_checkins_but_keeps_renewal_notices(pool: PgPool) {
    let w = world(&pool).await;
    sent_touch(&pool, &w, "nps", Duration::hours(1)).await;

    let stopped = record(&pool, &text("m1", "стоп", now())).await;
    assert_eq!(stopped.answer, Answer::OptOut);
    assert_eq!(stopped.send_back(), vec!["optout-confirm"]);

    let consents = sqlx::query!(
        "select category, opted_out, changed_at, source from contact_consents
         where contact_id = $1 order by category",
        w.contact_id
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let summary: Vec<(&str, bool)> = consents
        .iter()
        .map(|c| (c.category.as_str(), c.opted_out))
        .collect();
    // No renewal row: the default (receive) stands.
    assert_eq!(summary, vec![("checkin", true), ("survey", true)]);
    assert!(
        consents
            .iter()
            .all(|c| c.changed_at == now() && c.source == "reply:telegram")
    );
    // "стоп" answered no survey.
    assert_eq!(replies(&pool).await[0].score, None);

    let back = record(&pool, &text("m2", "/start", now() + Duration::days(1))).await;
    assert_eq!(back.answer, Answer::OptIn { changed: true });
    assert_eq!(back.send_back(), vec!["optin-confirm"]);
    let still_out: i64 = sqlx::query_scalar!(
        r#"select count(*) as "n!" from contact_consents where contact_id = $1 and opted_out"#,
        w.contact_id
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(still_out, 0);

    let again = record(&pool, &text("m3", "/start", now() + Duration::days(2))).await;
    assert_eq!(again.answer, Answer::OptIn { changed: false });
    assert!(again.send_back().is_empty());
}

#[sqlx::test]
async fn a_message_from_an_unknown_sender_stores_nothing(pool: PgPool) {
    let w = world(&pool).await;
    sent_touch(&pool, &w, "nps", Duration::hours(1)).await;
    let stranger = InboundMessage {
        address: "999".into(),
        ..text("m1", "10", now())
    };

    let outcome = record_reply(&pool, &stranger).await.unwrap();

    assert_eq!(outcome, InboundOutcome::UnknownSender);
    assert!(replies(&pool).await.is_empty());
    assert_eq!(reply_signals(&pool).await, 0);
}

#[sqlx::test]
async fn a_non_score_answer_to_a_survey_is_asked_again_once_and_stores_no_score(pool: PgPool) {
    let w = world(&pool).await;
    let survey = sent_touch(&pool, &w, "nps", Duration::hours(1)).await;

    let unclear = record(&pool, &text("m1", "I'd give it an 8 maybe", now())).await;
    assert_eq!(unclear.answer, Answer::Unclear);
    assert_eq!(unclear.send_back(), vec!["nps-reask"]);
    assert_eq!(
        replies(&pool).await,
        vec![Reply {
            touch_id: Some(survey.0),
            kind: "unclear".into(),
            score: None,
            comment: None
        }]
    );

    // Asked once; a second puzzle goes to the CSM instead of a second re-ask.
    let puzzle = record(
        &pool,
        &text("m2", "what scale?", now() + Duration::minutes(1)),
    )
    .await;
    assert_eq!(puzzle.answer, Answer::FreeText);
    assert!(puzzle.needs_csm());

    // The survey is still open for a plain number.
    let scored = record(&pool, &text("m3", "8", now() + Duration::minutes(2))).await;
    assert_eq!(scored.touch_id, Some(survey));
    assert_eq!(
        scored.answer,
        Answer::Nps {
            score: 8,
            has_comment: false
        }
    );
}

#[sqlx::test]
async fn a_tapped_score_answers_its_own_survey_and_the_first_answer_stands(pool: PgPool) {
    let w = world(&pool).await;
    // Tapped long after the text window: the button names its survey, so it still counts.
    let survey = sent_touch(&pool, &w, "nps", Duration::days(20)).await;

    let first = record(&pool, &tap("cb1", &format!("nps:{}:10", survey.0), now())).await;
    assert_eq!(first.touch_id, Some(survey));
    assert_eq!(first.send_back(), vec!["nps-ask-why"]);

    let second = record(&pool, &tap("cb2", &format!("nps:{}:2", survey.0), now())).await;
    assert_eq!(second.answer, Answer::AlreadyAnswered);
    assert!(second.send_back().is_empty());
    let scores: Vec<Option<i16>> = replies(&pool).await.into_iter().map(|r| r.score).collect();
    assert_eq!(scores, vec![Some(10)]);
}

#[sqlx::test]
async fn a_button_for_someone_elses_survey_or_of_the_wrong_kind_is_ignored(pool: PgPool) {
    let w = world(&pool).await;
    let other = World {
        contact_id: contact(&pool, w.account_id, "Timur", "2002").await,
        ..w
    };
    let theirs = sent_touch(&pool, &other, "nps", Duration::hours(1)).await;
    let checkin = sent_touch(&pool, &w, "checkin", Duration::hours(1)).await;

    for (id, data) in [
        ("cb1", format!("nps:{}:9", theirs.0)),
        ("cb2", format!("nps:{}:9", checkin.0)),
        ("cb3", "nps:abc:9".to_string()),
    ] {
        let handled = record(&pool, &tap(id, &data, now())).await;
        assert_eq!(handled.answer, Answer::StaleButton, "{data}");
    }
    assert!(replies(&pool).await.is_empty());
}

#[sqlx::test]
async fn a_checkin_answer_in_words_reaches_the_csm_when_help_is_needed(pool: PgPool) {
    let w = world(&pool).await;
    let checkin = sent_touch(&pool, &w, "checkin", Duration::days(1)).await;

    let handled = record(&pool, &text("m1", "Нужна помощь с отчётами", now())).await;

    assert_eq!(
        handled.answer,
        Answer::Checkin {
            choice: CheckinAnswer::Help
        }
    );
    assert_eq!(handled.send_back(), vec!["checkin-help-ack"]);
    assert!(handled.needs_csm());
    assert_eq!(replies(&pool).await[0].touch_id, Some(checkin.0));
}

#[sqlx::test]
async fn a_survey_older_than_a_week_no_longer_reads_numbers_as_scores(pool: PgPool) {
    let w = world(&pool).await;
    sent_touch(&pool, &w, "nps", Duration::days(8)).await;

    let handled = record(&pool, &text("m1", "8", now())).await;

    assert_eq!(handled.answer, Answer::FreeText);
    assert_eq!(handled.send_back(), vec!["fallback-forwarded"]);
    assert_eq!(replies(&pool).await[0].touch_id, None);
}

#[sqlx::test]
async fn the_newest_open_touch_decides_what_a_reply_answers(pool: PgPool) {
    let w = world(&pool).await;
    sent_touch(&pool, &w, "checkin", Duration::days(3)).await;
    let csat = sent_touch(&pool, &w, "csat", Duration::hours(2)).await;

    let handled = record(&pool, &text("m1", "5", now())).await;

    assert_eq!(handled.answer, Answer::Csat { score: 5 });
    assert_eq!(handled.touch_id, Some(csat));
    assert_eq!(handled.send_back(), vec!["csat-thanks"]);
}
