//! The conversation core without any chat platform, against a real PostgreSQL: what a contact
//! is answered and what is done after their message, as every adapter (Telegram, WhatsApp)
//! gets it. The contact here writes on WhatsApp, delivered through a simulated channel.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use sqlx::PgPool;

use touchbot::channel::Channels;
use touchbot::channel::ratelimit::RateLimits;
use touchbot::channel::simulated::SimulatedChannel;
use touchbot::config::Settings;
use touchbot::domain::{ChannelKind, ContactId};
use touchbot::inbound::conversation::command_word;
use touchbot::inbound::{
    Answer, Arrival, ContactRef, Conversation, Done, InboundContent, InboundMessage, Reply,
    contact_by_address, converse, deliver_answers, joining,
};
use touchbot::messages::Messages;

const NUMBER: &str = "+77011234567";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).unwrap()
}

struct World {
    settings: Settings,
    messages: Messages,
    whatsapp: Arc<SimulatedChannel>,
    channels: Channels,
    contact_id: i64,
}

impl World {
    fn conversation<'a>(&'a self, pool: &'a PgPool) -> Conversation<'a> {
        Conversation {
            pool,
            settings: &self.settings,
            messages: &self.messages,
        }
    }
}

/// An English-speaking account with a CSM and one WhatsApp contact, sent an NPS survey
/// yesterday.
async fn world(pool: &PgPool) -> World {
    let csm_id = sqlx::query_scalar!(
        "insert into staff (name, role) values ('Dina Sadykova', 'csm') returning id"
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let account_id = sqlx::query_scalar!(
        "insert into accounts (name, segment, contract_start, csm_id, locale)
         values ('Steppe Logistics', 'smb', '2026-01-05', $1, 'en') returning id",
        csm_id
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let contact_id = sqlx::query_scalar!(
        "insert into contacts (account_id, name, role, channel, address)
         values ($1, 'Aigerim Nurlanova', 'champion', 'whatsapp', $2) returning id",
        account_id,
        NUMBER
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let sent_at = now() - Duration::days(1);
    sqlx::query!(
        "insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at, status, sent_at)
         values ($1, 'nps-90', 'nps', 'nps', 'survey', 'nps', $2, $3, 'sent', $3)",
        account_id,
        contact_id,
        sent_at,
    )
    .execute(pool)
    .await
    .unwrap();
    let whatsapp = Arc::new(SimulatedChannel::new().with_kind(ChannelKind::Whatsapp));
    World {
        settings: Settings::default(),
        messages: Messages::load().unwrap(),
        channels: Channels::new(RateLimits::default()).with(whatsapp.clone()),
        whatsapp,
        contact_id,
    }
}

fn text(id: &str, body: &str) -> InboundMessage {
    InboundMessage {
        channel: ChannelKind::Whatsapp,
        address: NUMBER.to_string(),
        provider_message_id: id.to_string(),
        content: InboundContent::text(body),
        received_at: now(),
    }
}

async fn the_contact(pool: &PgPool) -> ContactRef {
    contact_by_address(pool, ChannelKind::Whatsapp, NUMBER)
        .await
        .unwrap()
        .expect("the contact is found by their number")
}

/// The contact writes `body`; the reply is delivered as an adapter would, and returned with
/// the texts the contact saw.
async fn writes(pool: &PgPool, w: &World, id: &str, body: &str) -> (Reply, Vec<String>) {
    let contact = the_contact(pool).await;
    let conversation = w.conversation(pool);
    let arrival = Arrival {
        channel: ChannelKind::Whatsapp,
        message: Some(text(id, body)),
        command: None,
        tap: false,
        contact: Some(&contact),
        stranger_locale: "en",
        address: NUMBER,
        display_name: None,
    };
    let reply = converse(&conversation, arrival).await.unwrap();
    deliver_answers(&conversation, &w.channels, &reply.queued)
        .await
        .unwrap();
    let seen = w
        .whatsapp
        .sent()
        .into_iter()
        .map(|s| s.message.text)
        .collect();
    (reply, seen)
}

fn answer(reply: &Reply) -> &Answer {
    match &reply.done {
        Done::Received(handled) => &handled.answer,
        other => panic!("the message should have been received, got {other:?}"),
    }
}

#[sqlx::test]
async fn an_nps_answer_with_a_reason_is_thanked_by_name(pool: PgPool) {
    let w = world(&pool).await;

    let (reply, seen) = writes(&pool, &w, "wamid.1", "9, the reports save us hours").await;

    assert_eq!(
        answer(&reply),
        &Answer::Nps {
            score: 9,
            has_comment: true
        }
    );
    assert_eq!(seen.len(), 1);
    assert!(seen[0].starts_with("Thank you, Aigerim!"), "{seen:?}");
    assert!(seen[0].contains("Dina Sadykova"), "{seen:?}");
}

#[sqlx::test]
async fn a_bare_score_gets_the_why_question_and_the_reason_then_gets_the_thanks(pool: PgPool) {
    let w = world(&pool).await;

    let (_, after_score) = writes(&pool, &w, "wamid.1", "8").await;
    let (reply, after_reason) = writes(&pool, &w, "wamid.2", "onboarding was slow").await;

    assert_eq!(
        after_score,
        vec!["Thank you! What's the main reason for your score? A few words are plenty."]
    );
    assert!(matches!(
        answer(&reply),
        Answer::NpsComment { score: 8, .. }
    ));
    assert_eq!(after_reason.len(), 2);
    assert!(
        after_reason[1].contains("We'll keep working"),
        "{after_reason:?}"
    );
}

#[sqlx::test]
async fn the_same_message_delivered_twice_is_answered_once(pool: PgPool) {
    let w = world(&pool).await;

    writes(&pool, &w, "wamid.1", "10").await;
    let (again, seen) = writes(&pool, &w, "wamid.1", "10").await;

    assert!(again.queued.is_empty());
    assert_eq!(seen.len(), 1, "{seen:?}");
}

#[sqlx::test]
async fn during_a_takeover_nothing_is_answered_and_the_words_go_to_the_csm(pool: PgPool) {
    let w = world(&pool).await;
    touchbot::chat::takeover::start(
        &pool,
        ContactId(w.contact_id),
        None,
        now() - Duration::hours(1),
        now() + Duration::hours(4),
    )
    .await
    .unwrap();

    let (reply, seen) = writes(&pool, &w, "wamid.1", "3, can we talk about the price?").await;

    assert_eq!(answer(&reply), &Answer::Relayed);
    assert!(seen.is_empty(), "the bot stays quiet: {seen:?}");
    let relayed: i64 = sqlx::query_scalar("select count(*) from staff_posts where kind = 'relay'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(relayed, 1, "the words went to the CSM");
}

#[sqlx::test]
async fn stop_opts_the_contact_out_of_surveys_and_confirms_in_whatsapps_words(pool: PgPool) {
    let w = world(&pool).await;

    let (reply, seen) = writes(&pool, &w, "wamid.1", "stop").await;

    assert_eq!(answer(&reply), &Answer::OptOut);
    assert_eq!(seen.len(), 1);
    assert!(seen[0].starts_with("Done: no more surveys"), "{seen:?}");
    assert!(seen[0].contains("just write START"), "{seen:?}");
    assert!(
        !seen[0].contains('/'),
        "no slash commands on WhatsApp: {seen:?}"
    );
    let surveys_off: bool = sqlx::query_scalar(
        "select opted_out from contact_consents where contact_id = $1 and category = 'survey'",
    )
    .bind(w.contact_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(surveys_off);
}

#[sqlx::test]
async fn start_after_stop_confirms_and_both_changes_are_kept_with_their_channel(pool: PgPool) {
    let w = world(&pool).await;

    writes(&pool, &w, "wamid.1", "stop").await;
    let (reply, seen) = writes(&pool, &w, "wamid.2", "START").await;

    assert_eq!(answer(&reply), &Answer::OptIn { changed: true });
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[1].starts_with("Good to have you back, Aigerim!"),
        "{seen:?}"
    );
    assert!(seen[1].contains("Write STOP"), "{seen:?}");
    let history: Vec<(String, bool, String)> = sqlx::query_as(
        "select category, opted_out, source from consent_changes
         where contact_id = $1 order by changed_at, id",
    )
    .bind(w.contact_id)
    .fetch_all(&pool)
    .await
    .unwrap();
    let source = "reply:whatsapp".to_string();
    assert_eq!(
        history,
        vec![
            ("survey".to_string(), true, source.clone()),
            ("checkin".to_string(), true, source.clone()),
            ("survey".to_string(), false, source.clone()),
            ("checkin".to_string(), false, source),
        ]
    );
}

#[sqlx::test]
async fn a_text_that_is_no_score_is_asked_again_without_mentioning_buttons(pool: PgPool) {
    let w = world(&pool).await;

    let (reply, seen) = writes(&pool, &w, "wamid.1", "hmm, hard to say").await;

    assert_eq!(answer(&reply), &Answer::Unclear);
    assert_eq!(
        seen,
        vec![
            "Sorry, I couldn't read that as a score. Please reply with one number from 0 (not \
             likely at all) to 10 (extremely likely)."
        ]
    );
}

#[sqlx::test]
async fn a_stranger_is_answered_politely_once_kept_for_review_and_nothing_they_say_is_stored(
    pool: PgPool,
) {
    let w = world(&pool).await;
    let conversation = w.conversation(&pool);
    let arrival = |id: &str| Arrival {
        channel: ChannelKind::Telegram,
        message: Some(InboundMessage {
            channel: ChannelKind::Telegram,
            address: "5551".to_string(),
            ..text(id, "hello?")
        }),
        command: None,
        tap: false,
        contact: None,
        stranger_locale: "ru",
        address: "5551",
        display_name: Some("Someone"),
    };

    let first = converse(&conversation, arrival("5551:1")).await.unwrap();
    let second = converse(&conversation, arrival("5551:2")).await.unwrap();

    assert_eq!(first.done, Done::Stranger);
    assert_eq!(first.say.len(), 1);
    assert!(first.say[0].body.starts_with("Здравствуйте!"), "{first:?}");
    assert!(first.queued.is_empty());
    assert_eq!(second.done, Done::Stranger);
    assert!(second.say.is_empty(), "answered again: {second:?}");
    let stored: i64 = sqlx::query_scalar("select count(*) from replies")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
    let kept: (String, Option<String>, i32) = sqlx::query_as(
        "select channel, display_name, messages from strangers where address = '5551'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(kept, ("telegram".into(), Some("Someone".into()), 2));
}

#[sqlx::test]
async fn a_tap_on_an_answered_survey_is_told_so_and_changes_nothing(pool: PgPool) {
    let w = world(&pool).await;
    writes(&pool, &w, "wamid.1", "10, great").await;
    let touch: i64 = sqlx::query_scalar("select id from touches")
        .fetch_one(&pool)
        .await
        .unwrap();
    let contact = the_contact(&pool).await;
    let arrival = Arrival {
        channel: ChannelKind::Whatsapp,
        message: Some(InboundMessage {
            content: InboundContent::Button(format!("nps:{touch}:2")),
            ..text("wamid.2", "")
        }),
        command: None,
        tap: true,
        contact: Some(&contact),
        stranger_locale: "en",
        address: NUMBER,
        display_name: None,
    };

    let reply = converse(&w.conversation(&pool), arrival).await.unwrap();

    assert_eq!(answer(&reply), &Answer::AlreadyAnswered);
    let note = reply.toast.and_then(|t| t.note).unwrap_or_default();
    assert_eq!(note, "You've already answered this one. Thank you!");
    assert!(reply.queued.is_empty());
}

#[sqlx::test]
async fn help_said_as_a_word_on_whatsapp_gets_whatsapps_help_and_stores_nothing(pool: PgPool) {
    let w = world(&pool).await;
    let contact = the_contact(&pool).await;
    let arrival = Arrival {
        channel: ChannelKind::Whatsapp,
        // WhatsApp has no commands: the word alone is one, as its adapter reads it.
        message: Some(text("wamid.1", "Help")),
        command: command_word("Help").map(String::from),
        tap: false,
        contact: Some(&contact),
        stranger_locale: "en",
        address: NUMBER,
        display_name: None,
    };

    let reply = converse(&w.conversation(&pool), arrival).await.unwrap();

    assert_eq!(reply.done, Done::Command);
    assert_eq!(reply.say.len(), 1);
    assert!(reply.say[0].body.contains("Write STOP"), "{reply:?}");
    assert!(!reply.say[0].body.contains("/stop"), "{reply:?}");
    let stored: i64 = sqlx::query_scalar("select count(*) from replies")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[sqlx::test]
async fn opening_ones_own_link_again_says_already_connected(pool: PgPool) {
    let w = world(&pool).await;
    let account: i64 = sqlx::query_scalar("select account_id from contacts")
        .fetch_one(&pool)
        .await
        .unwrap();
    let dana: i64 = sqlx::query_scalar(
        "insert into contacts (account_id, name, role, channel)
         values ($1, 'Dana Abenova', 'user', 'telegram') returning id",
    )
    .bind(account)
    .fetch_one(&pool)
    .await
    .unwrap();
    let invite = touchbot::storage::invites::issue(&pool, ContactId(dana), 14, now())
        .await
        .unwrap();
    let conversation = w.conversation(&pool);
    let join = || {
        joining::join(
            &conversation,
            ChannelKind::Telegram,
            "5005",
            &invite.code,
            "en",
            now(),
        )
    };

    let first = join().await.unwrap();
    let again = join().await.unwrap();

    assert_eq!(first.done, Done::Joined);
    assert_eq!(first.say.len(), 1);
    assert_eq!(
        again.say[0].body,
        "You're already connected, Dana. Nothing more to do."
    );
    let bound = contact_by_address(&pool, ChannelKind::Telegram, "5005")
        .await
        .unwrap()
        .map(|c| c.id);
    assert_eq!(bound, Some(ContactId(dana)));
}
