//! Storing a drainer's batch of inbound messages together (`record_batch`), against a real
//! PostgreSQL: the same rules as one at a time, each message stored once, and a message that
//! cannot be stored holding up none of the others.

use chrono::{DateTime, Duration, TimeZone, Utc};
use sqlx::PgPool;

use touchbot::domain::ChannelKind;
use touchbot::inbound::{
    Answer, Handled, InboundContent, InboundError, InboundMessage, InboundOutcome, record_batch,
};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).unwrap()
}

/// One account with two WhatsApp contacts, `+77010000001` and `+77010000002`, each sent an
/// NPS survey an hour ago; the ids of the two surveys.
async fn world(pool: &PgPool) -> [i64; 2] {
    let account: i64 = sqlx::query_scalar(
        "insert into accounts (name, segment, contract_start, locale)
         values ('Steppe Logistics', 'smb', '2026-01-05', 'en') returning id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let mut touches = [0; 2];
    for (n, touch) in touches.iter_mut().enumerate() {
        *touch = sqlx::query_scalar(
            "with c as (insert into contacts (account_id, name, role, channel, address)
                        values ($1, 'Contact ' || $2, 'champion', 'whatsapp', $3) returning id)
             insert into touches (account_id, touch_key, rule, kind, category, template,
                                  contact_id, due_at, status, sent_at)
             select $1, 'nps@' || c.id, 'nps', 'nps', 'survey', 'nps', c.id, $4, 'sent', $4
               from c returning id",
        )
        .bind(account)
        .bind(n as i64 + 1)
        .bind(address(n))
        .bind(now() - Duration::hours(1))
        .fetch_one(pool)
        .await
        .unwrap();
    }
    touches
}

fn address(n: usize) -> String {
    format!("+7701000000{}", n + 1)
}

fn text(contact: usize, id: &str, words: &str) -> InboundMessage {
    InboundMessage {
        channel: ChannelKind::Whatsapp,
        address: address(contact),
        provider_message_id: id.to_string(),
        content: InboundContent::text(words),
        received_at: now(),
    }
}

fn handled(outcome: &Result<InboundOutcome, InboundError>) -> &Handled {
    match outcome {
        Ok(InboundOutcome::Handled(h)) => h,
        other => panic!("expected a stored message, got {other:?}"),
    }
}

/// (provider message id, kind, score, comment, touch id) of every reply, in id order.
async fn replies(pool: &PgPool) -> Vec<(String, String, Option<i16>, Option<String>, Option<i64>)> {
    sqlx::query_as(
        "select provider_message_id, kind, score, comment, touch_id from replies order by id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test]
async fn two_replies_of_one_account_in_a_batch_each_answer_their_own_survey(pool: PgPool) {
    let [first, second] = world(&pool).await;

    let outcomes = record_batch(
        &pool,
        &[
            text(0, "wamid.A", "9 the onboarding was great"),
            text(1, "wamid.B", "3 support is slow"),
        ],
    )
    .await;

    let answers: Vec<&Answer> = outcomes.iter().map(|o| &handled(o).answer).collect();
    assert_eq!(
        answers,
        [
            &Answer::Nps {
                score: 9,
                has_comment: true
            },
            &Answer::Nps {
                score: 3,
                has_comment: true
            }
        ]
    );
    assert!(outcomes.iter().all(|o| !handled(o).duplicate));
    let stored = replies(&pool).await;
    assert_eq!(stored.len(), 2);
    assert_eq!((stored[0].2, stored[0].4), (Some(9), Some(first)));
    assert_eq!((stored[1].2, stored[1].4), (Some(3), Some(second)));
    let steps = count(
        &pool,
        "select count(*) from inbound_followups where step = 'reassess'",
    )
    .await;
    assert_eq!(steps, 2, "each reply counts towards the account's health");
}

#[sqlx::test]
async fn a_message_already_stored_comes_back_as_a_duplicate_and_the_rest_of_its_batch_is_stored(
    pool: PgPool,
) {
    world(&pool).await;
    let first = record_batch(&pool, &[text(0, "wamid.A", "9 great")]).await;

    let again = record_batch(
        &pool,
        &[text(0, "wamid.A", "9 great"), text(1, "wamid.B", "8 fine")],
    )
    .await;

    assert!(handled(&again[0]).duplicate);
    assert_eq!(handled(&again[0]).answer, handled(&first[0]).answer);
    assert_eq!(handled(&again[0]).reply_id, handled(&first[0]).reply_id);
    assert!(!handled(&again[1]).duplicate);
    assert_eq!(replies(&pool).await.len(), 2);
    let signals = count(&pool, "select count(*) from signals where kind = 'reply'").await;
    assert_eq!(signals, 2);
}

#[sqlx::test]
async fn the_same_message_twice_in_one_batch_is_stored_once(pool: PgPool) {
    world(&pool).await;

    let outcomes = record_batch(
        &pool,
        &[text(0, "wamid.A", "9 great"), text(0, "wamid.A", "9 great")],
    )
    .await;

    assert!(!handled(&outcomes[0]).duplicate);
    assert!(handled(&outcomes[1]).duplicate);
    assert_eq!(replies(&pool).await.len(), 1);
}

#[sqlx::test]
async fn a_score_and_its_reason_in_one_batch_make_one_answer_with_its_reason(pool: PgPool) {
    world(&pool).await;

    let outcomes = record_batch(
        &pool,
        &[
            text(0, "wamid.A", "4"),
            text(0, "wamid.B", "nobody answers our tickets"),
        ],
    )
    .await;

    assert_eq!(
        handled(&outcomes[0]).answer,
        Answer::Nps {
            score: 4,
            has_comment: false
        }
    );
    assert!(matches!(
        handled(&outcomes[1]).answer,
        Answer::NpsComment { score: 4, .. }
    ));
    let stored = replies(&pool).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].3.as_deref(), Some("nobody answers our tickets"));
}

#[sqlx::test]
async fn a_message_the_database_refuses_fails_alone_and_the_others_of_its_batch_are_stored(
    pool: PgPool,
) {
    world(&pool).await;
    // Stands in for whatever makes one message unstorable (a row the schema refuses).
    sqlx::query("alter table replies add constraint no_poison check (body <> '7 poison')")
        .execute(&pool)
        .await
        .unwrap();

    let outcomes = record_batch(
        &pool,
        &[
            text(0, "wamid.A", "7 poison"),
            text(1, "wamid.B", "10 love it"),
        ],
    )
    .await;

    assert!(outcomes[0].is_err(), "{:?}", outcomes[0]);
    assert_eq!(
        handled(&outcomes[1]).answer,
        Answer::Nps {
            score: 10,
            has_comment: true
        }
    );
    let stored: Vec<String> = replies(&pool).await.into_iter().map(|r| r.0).collect();
    assert_eq!(stored, ["wamid.B"]);
    let signals = count(&pool, "select count(*) from signals where kind = 'reply'").await;
    assert_eq!(signals, 1, "nothing of the refused message is kept");

    // Once the cause is gone, its redelivery is stored as any other.
    sqlx::query("alter table replies drop constraint no_poison")
        .execute(&pool)
        .await
        .unwrap();
    let again = record_batch(&pool, &[text(0, "wamid.A", "7 poison")]).await;
    assert!(!handled(&again[0]).duplicate);
    assert_eq!(replies(&pool).await.len(), 2);
}

#[sqlx::test]
async fn a_stranger_in_a_batch_is_told_apart_and_nothing_of_theirs_is_stored(pool: PgPool) {
    world(&pool).await;
    let mut stranger = text(0, "wamid.S", "9 hello");
    stranger.address = "+77019999999".into();

    let outcomes = record_batch(&pool, &[stranger, text(1, "wamid.B", "8 fine")]).await;

    assert!(matches!(outcomes[0], Ok(InboundOutcome::UnknownSender)));
    assert!(!handled(&outcomes[1]).duplicate);
    assert_eq!(replies(&pool).await.len(), 1);
}
