//! The staff side of the chat against a real PostgreSQL, without any chat platform: manager
//! commands, escalation card buttons, binding the team chat by code, and human takeover with
//! the automation pause and the relay of words between client and CSM.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::{PlainRenderer, config, state, t0, touch};
use serde_json::json;
use sqlx::PgPool;
use touchbot::channel::ratelimit::{ChannelLimit, RateLimits};
use touchbot::channel::simulated::SimulatedChannel;
use touchbot::channel::{Address, Channels};
use touchbot::chat::{
    self, Edit, PressResult, REFUSAL, ReplyOutcome, cards::outcome_buttons,
    identity::BUTTON_REFUSAL, takeover,
};
use touchbot::config::Settings;
use touchbot::domain::{AccountId, ChannelKind, ContactId, EscalationId, StaffId};
use touchbot::outbound::dispatcher::deliver_due;
use touchbot::staff_posts::dispatcher::deliver_due_posts;
use touchbot::storage::team_chat;

const ALICE_TG: i64 = 111;
const MAX_TG: i64 = 222;
const STRANGER_TG: i64 = 999;

/// Alice, a CSM, and Max, her manager, both on Telegram; three accounts of Alice's:
/// Northwind (red, a detractor, renewing in 20 days, a critical escalation open), Northstar
/// (green, a promoter, renewing in 60 days) and Acme (never scored, no renewal date).
struct Scene {
    alice: StaffId,
    northwind: AccountId,
    dana: ContactId,
    escalation: EscalationId,
}

async fn person(pool: &PgPool, name: &str, role: &str, telegram: i64) -> StaffId {
    StaffId(
        sqlx::query_scalar(
            "insert into staff (name, role, telegram_user_id) values ($1, $2, $3) returning id",
        )
        .bind(name)
        .bind(role)
        .bind(telegram)
        .fetch_one(pool)
        .await
        .unwrap(),
    )
}

async fn client(pool: &PgPool, name: &str, csm: StaffId, renewal: Option<&str>) -> AccountId {
    AccountId(
        sqlx::query_scalar(
            "insert into accounts (name, segment, contract_start, renewal_date, csm_id)
             values ($1, 'mid_market', '2025-06-01', $2::date, $3) returning id",
        )
        .bind(name)
        .bind(renewal)
        .bind(csm.0)
        .fetch_one(pool)
        .await
        .unwrap(),
    )
}

async fn contact(pool: &PgPool, account: AccountId, name: &str) -> ContactId {
    ContactId(
        sqlx::query_scalar(
            "insert into contacts (account_id, name, role, channel, address)
             values ($1, $2, 'champion', 'simulated', lower($2)) returning id",
        )
        .bind(account.0)
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap(),
    )
}

async fn health(pool: &PgPool, account: AccountId, at: DateTime<Utc>, score: i16, why: &str) {
    let category = match score {
        80.. => "green",
        50..=79 => "yellow",
        _ => "red",
    };
    let components = json!([{
        "name": "engagement", "weight": 25.0, "effective_weight": 1.0, "value": score,
        "points": null, "explanation": why
    }]);
    sqlx::query(
        "insert into health_scores (account_id, computed_at, score, category, model, components,
                                    summary, cause)
         values ($1, $2, $3, $4, 'weighted', $5, '', 'test')",
    )
    .bind(account.0)
    .bind(at)
    .bind(score)
    .bind(category)
    .bind(components)
    .execute(pool)
    .await
    .unwrap();
}

async fn nps(pool: &PgPool, account: AccountId, contact: ContactId, score: i16, comment: &str) {
    sqlx::query(
        "insert into replies (account_id, contact_id, channel, provider_message_id, received_at,
                              body, kind, score, comment)
         values ($1, $2, 'simulated', gen_random_uuid()::text, $3, $4, 'nps', $5, $6)",
    )
    .bind(account.0)
    .bind(contact.0)
    .bind(now() - Duration::days(5))
    .bind(format!("{score}"))
    .bind(score)
    .bind(comment)
    .execute(pool)
    .await
    .unwrap();
}

async fn escalation(pool: &PgPool, account: AccountId, owner: StaffId) -> EscalationId {
    EscalationId(
        sqlx::query_scalar(
            "insert into escalations (account_id, reason, severity, magnitude, evidence, owner_id,
                                      opened_at, updated_at, sla_due_at)
             values ($1, 'detractor', 'critical', 3, 'NPS 3 from Dana: \"reports time out\"',
                     $2, $3, $3, $3 + interval '4 hours')
             returning id",
        )
        .bind(account.0)
        .bind(owner.0)
        .bind(now() - Duration::days(2))
        .fetch_one(pool)
        .await
        .unwrap(),
    )
}

fn now() -> DateTime<Utc> {
    t0()
}

async fn scene(pool: &PgPool) -> Scene {
    let alice = person(pool, "Alice", "csm", ALICE_TG).await;
    person(pool, "Max", "cs_manager", MAX_TG).await;
    let northwind = client(pool, "Northwind", alice, Some("2026-03-22")).await;
    let northstar = client(pool, "Northstar", alice, Some("2026-05-01")).await;
    client(pool, "Acme", alice, None).await;
    let dana = contact(pool, northwind, "Dana").await;
    let sam = contact(pool, northstar, "Sam").await;
    health(
        pool,
        northwind,
        now() - Duration::days(100),
        60,
        "engagement 60",
    )
    .await;
    health(
        pool,
        northwind,
        now() - Duration::days(1),
        42,
        "engagement 40: 3 of the last 4 check-ins unanswered",
    )
    .await;
    health(
        pool,
        northstar,
        now() - Duration::days(1),
        88,
        "engagement 90",
    )
    .await;
    nps(pool, northwind, dana, 3, "reports time out").await;
    nps(pool, northstar, sam, 10, "").await;
    let escalation = escalation(pool, northwind, alice).await;
    Scene {
        alice,
        northwind,
        dana,
        escalation,
    }
}

async fn ask(pool: &PgPool, from: i64, text: &str) -> String {
    chat::staff_command(pool, &Settings::default(), from, text, now())
        .await
        .join("\n")
}

async fn press(pool: &PgPool, from: i64, data: &str, at: DateTime<Utc>) -> PressResult {
    chat::press(pool, &Settings::default(), data, from, at).await
}

async fn escalation_state(pool: &PgPool, id: EscalationId) -> (String, Option<i64>, i64) {
    sqlx::query_as(
        "select status, owner_id, (select count(*) from escalation_events where escalation_id = $1)
           from escalations where id = $1",
    )
    .bind(id.0)
    .fetch_one(pool)
    .await
    .unwrap()
}

fn card(result: &PressResult) -> &chat::CardView {
    match &result.edit {
        Edit::Card(view) => view,
        other => panic!("expected the card to be edited, got {other:?}"),
    }
}

#[sqlx::test]
async fn status_by_staff_shows_the_portfolio_figures(pool: PgPool) {
    scene(&pool).await;
    let text = ask(&pool, MAX_TG, "/status").await;
    for part in [
        "Portfolio on 2 Mar 2026: 3 accounts (3 active)",
        "Health: 1 green, 0 yellow, 1 red (1 not scored)",
        "NPS, last 90 days: +0 from 2 answers",
        "Renewals in the next 120 days: 2 (1 red)",
        "Northwind: 2026-03-22, in 20 days, health 42 red",
        "Open escalations: 1",
        "Alice: 3 accounts",
    ] {
        assert!(text.contains(part), "{part:?} missing in:\n{text}");
    }
}

#[sqlx::test]
async fn status_by_a_stranger_is_refused_and_reveals_nothing(pool: PgPool) {
    scene(&pool).await;
    for command in [
        "/status",
        "/status north",
        "/atrisk",
        "/renewals 30",
        "/mine",
    ] {
        let answer =
            chat::staff_command(&pool, &Settings::default(), STRANGER_TG, command, now()).await;
        assert_eq!(answer, vec![REFUSAL.to_string()], "{command}");
        for name in ["Northwind", "Northstar", "Acme", "Alice", "Dana"] {
            assert!(!answer[0].contains(name), "{command} revealed {name}");
        }
    }
}

#[sqlx::test]
async fn status_with_an_ambiguous_part_of_a_name_lists_the_candidates(pool: PgPool) {
    scene(&pool).await;
    let text = ask(&pool, MAX_TG, "/status north").await;
    assert!(text.contains("'north' matches several accounts"), "{text}");
    assert!(
        text.contains("Northwind (id") && text.contains("Northstar (id"),
        "{text}"
    );
    assert!(text.contains("more of the name"), "{text}");

    let text = ask(&pool, MAX_TG, "/status zzz").await;
    assert!(text.contains("No account matches 'zzz'"), "{text}");
    assert!(text.contains("/status lists the portfolio"), "{text}");
}

#[sqlx::test]
async fn status_with_a_unique_part_of_a_name_shows_the_account_in_full(pool: PgPool) {
    let s = scene(&pool).await;
    sqlx::query(
        "update contacts set unreachable_at = $2, unreachable_reason = 'blocked' where id = $1",
    )
    .bind(contact(&pool, s.northwind, "Oleg").await.0)
    .bind(now())
    .execute(&pool)
    .await
    .unwrap();
    touch(
        &pool,
        s.northwind,
        s.dana,
        "nps-180",
        "nps",
        now() + Duration::days(3),
    )
    .await;

    let text = ask(&pool, ALICE_TG, "/status NORTHW").await;
    for part in [
        "Northwind — mid market, active; CSM Alice",
        "Health 42 red",
        "  - engagement 40: 3 of the last 4 check-ins unanswered",
        "Trend over 90 days: down 18 (60 → 42)",
        "Last NPS: 3 from Dana on 25 Feb 2026 — \"reports time out\"",
        "Renewal: 2026-03-22, in 20 days",
        "Next touches:\n• Thu 5 Mar 09:00 UTC — nps to Dana",
        "Dana, champion, simulated — reachable",
        "Oleg, champion, simulated — unreachable (blocked)",
        "Open escalations:\n• Detractor NPS, critical, day 3, owner Alice #esc",
    ] {
        assert!(text.contains(part), "{part:?} missing in:\n{text}");
    }
}

#[sqlx::test]
async fn renewals_30_lists_only_the_renewals_within_30_days(pool: PgPool) {
    scene(&pool).await;
    let text = ask(&pool, MAX_TG, "/renewals 30").await;
    assert!(
        text.starts_with("Renewals in the next 30 days: 1 (1 red)"),
        "{text}"
    );
    assert!(text.contains("Northwind: 2026-03-22, in 20 days, health 42 red — CSM Alice"));
    assert!(!text.contains("Northstar"), "{text}");

    let text = ask(&pool, MAX_TG, "/renewals").await;
    assert!(
        text.contains("Northwind") && text.contains("Northstar"),
        "{text}"
    );

    let text = ask(&pool, MAX_TG, "/renewals 7").await;
    assert_eq!(text, "No active account renews in the next 7 days.");

    let text = ask(&pool, MAX_TG, "/renewals abc").await;
    assert!(text.contains("'abc' is not a number of days"), "{text}");
    assert!(text.contains("e.g. /renewals 30"), "{text}");
}

#[sqlx::test]
async fn atrisk_nps_and_mine_answer_from_the_same_figures(pool: PgPool) {
    scene(&pool).await;
    let text = ask(&pool, MAX_TG, "/atrisk").await;
    assert!(text.starts_with("At risk: 1 account"), "{text}");
    assert!(text.contains("🔴 Northwind — health 42 red"), "{text}");
    assert!(
        text.contains("Detractor NPS, critical, day 3, owner Alice"),
        "{text}"
    );
    assert!(!text.contains("Northstar"), "{text}");

    let text = ask(&pool, MAX_TG, "/nps 30").await;
    assert!(
        text.starts_with("NPS, last 30 days: +0 from 2 answers"),
        "{text}"
    );
    assert!(
        text.contains("Northwind, Dana: 3 — \"reports time out\""),
        "{text}"
    );

    let text = ask(&pool, ALICE_TG, "/mine").await;
    assert!(text.starts_with("Alice's portfolio"), "{text}");
    let weakest = text.find("• Northwind").unwrap();
    let stronger = text.find("• Northstar").unwrap();
    let unscored = text.find("• Acme").unwrap();
    assert!(weakest < stronger && stronger < unscored, "{text}");

    let text = ask(&pool, MAX_TG, "/mine").await;
    assert!(text.contains("no accounts are assigned to you"), "{text}");
}

#[sqlx::test]
async fn a_card_button_pressed_by_staff_edits_the_card_to_say_who_did_what(pool: PgPool) {
    let s = scene(&pool).await;
    let id = s.escalation;
    let at = now() + Duration::minutes(42);

    let taken = press(&pool, ALICE_TG, &format!("esc:{id}:take"), at).await;
    assert_eq!(taken.notice, "Taken: it is yours now.");
    let view = card(&taken);
    assert!(
        view.text.contains("Detractor NPS · Northwind"),
        "{}",
        view.text
    );
    assert!(
        view.text.contains("Health: 42 (red), down 18 in 30 days"),
        "{}",
        view.text
    );
    assert!(
        view.text.contains("Taken by Alice at 09:42 UTC, Mon 2 Mar"),
        "{}",
        view.text
    );
    assert!(!view.text.contains("First response due"), "{}", view.text);
    assert_eq!(view.buttons, touchbot::escalation::card::card_buttons(id));
    let (status, owner, _) = escalation_state(&pool, id).await;
    assert_eq!((status.as_str(), owner), ("acknowledged", Some(s.alice.0)));

    let snoozed = press(&pool, MAX_TG, &format!("esc:{id}:snooze"), at).await;
    assert!(
        card(&snoozed)
            .text
            .contains("Snoozed by Max at 09:42 UTC, Mon 2 Mar, until 09:42 UTC, Tue 3 Mar"),
        "{}",
        card(&snoozed).text
    );
}

#[sqlx::test]
async fn a_card_button_pressed_by_a_stranger_is_refused_and_nothing_changes(pool: PgPool) {
    let s = scene(&pool).await;
    let before = escalation_state(&pool, s.escalation).await;
    for action in ["take", "contacted", "snooze", "resolve", "resolve:saved"] {
        let result = press(
            &pool,
            STRANGER_TG,
            &format!("esc:{}:{action}", s.escalation),
            now(),
        )
        .await;
        assert_eq!(result.notice, BUTTON_REFUSAL);
        assert_eq!(result.edit, Edit::Keep);
    }
    assert_eq!(escalation_state(&pool, s.escalation).await, before);
}

#[sqlx::test]
async fn resolve_asks_for_the_outcome_and_records_the_one_tapped(pool: PgPool) {
    let s = scene(&pool).await;
    let id = s.escalation;

    let asked = press(&pool, ALICE_TG, &format!("esc:{id}:resolve"), now()).await;
    assert_eq!(card(&asked).buttons, outcome_buttons(id));
    assert!(card(&asked).text.ends_with("Choose the outcome below."));
    assert_eq!(escalation_state(&pool, id).await.0, "open");

    let back = press(&pool, ALICE_TG, &format!("esc:{id}:back"), now()).await;
    assert_eq!(
        card(&back).buttons,
        touchbot::escalation::card::card_buttons(id)
    );

    let named = press(
        &pool,
        ALICE_TG,
        &format!("esc:{id}:resolve:churned:competitor"),
        now(),
    )
    .await;
    assert!(
        named
            .notice
            .contains(&format!("/resolve {id} churned:competitor:")),
        "{}",
        named.notice
    );
    assert_eq!(named.edit, Edit::Keep);
    assert_eq!(escalation_state(&pool, id).await.0, "open");

    let resolved = press(&pool, ALICE_TG, &format!("esc:{id}:resolve:saved"), now()).await;
    assert_eq!(resolved.notice, "Resolved as saved.");
    let view = card(&resolved);
    assert!(
        view.text
            .contains("Resolved by Alice as saved at 09:00 UTC, Mon 2 Mar")
    );
    assert!(view.buttons.is_empty(), "no buttons once resolved");
    let outcome: Option<String> =
        sqlx::query_scalar("select outcome from escalations where id = $1")
            .bind(id.0)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(outcome.as_deref(), Some("saved"));

    let late = press(&pool, MAX_TG, &format!("esc:{id}:take"), now()).await;
    assert!(late.notice.contains("already resolved"), "{}", late.notice);
    assert!(card(&late).buttons.is_empty());
}

#[sqlx::test]
async fn resolve_by_command_takes_an_outcome_with_a_name(pool: PgPool) {
    let s = scene(&pool).await;
    let text = ask(
        &pool,
        ALICE_TG,
        &format!("/resolve {} churned:competitor:Acme CRM", s.escalation),
    )
    .await;
    assert_eq!(
        text,
        format!(
            "Resolved #esc{} (Northwind, Detractor NPS) as churned (competitor: Acme CRM).",
            s.escalation
        )
    );
    let lifecycle: String = sqlx::query_scalar("select lifecycle from accounts where id = $1")
        .bind(s.northwind.0)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(lifecycle, "churned");
}

#[sqlx::test]
async fn a_bind_code_binds_the_group_once_and_refuses_strangers_reuse_and_expiry(pool: PgPool) {
    scene(&pool).await;
    let code = chat::new_code(&pool, now()).await.unwrap();
    assert_eq!(code.command(), format!("/bind {}", code.code));

    let stranger = chat::bind(&pool, &code.code, -100123, STRANGER_TG, now())
        .await
        .unwrap();
    assert!(!stranger.bound);
    assert!(
        stranger
            .text
            .contains("only a member of the customer-success team")
    );
    let private = chat::bind(&pool, &code.code, ALICE_TG, ALICE_TG, now())
        .await
        .unwrap();
    assert!(!private.bound);
    assert!(
        private.text.contains("not in a private chat"),
        "{}",
        private.text
    );
    assert_eq!(team_chat::get(&pool).await.unwrap(), None);

    let upper = code.code.to_uppercase();
    let bound = chat::bind(&pool, &upper, -100123, ALICE_TG, now())
        .await
        .unwrap();
    assert!(bound.bound, "{}", bound.text);
    let chat = team_chat::get(&pool).await.unwrap().unwrap();
    assert_eq!(
        (chat.channel, chat.address.as_str()),
        (ChannelKind::Telegram, "-100123")
    );

    let again = chat::bind(&pool, &code.code, -100777, MAX_TG, now())
        .await
        .unwrap();
    assert!(!again.bound);
    assert!(again.text.contains("used already"), "{}", again.text);
    assert!(
        again.text.contains("touchbot team bind-code"),
        "{}",
        again.text
    );

    let old = chat::new_code(&pool, now()).await.unwrap();
    let late = chat::bind(
        &pool,
        &old.code,
        -100777,
        ALICE_TG,
        now() + Duration::minutes(61),
    )
    .await
    .unwrap();
    assert!(!late.bound);
    assert!(late.text.contains("expired"), "{}", late.text);

    let unknown = chat::bind(&pool, "nosuchcode", -100777, ALICE_TG, now())
        .await
        .unwrap();
    assert!(
        unknown.text.contains("I don't know that code"),
        "{}",
        unknown.text
    );
    assert_eq!(
        team_chat::get(&pool).await.unwrap().unwrap().address,
        "-100123"
    );
}

#[sqlx::test]
async fn the_team_chat_follows_its_group_to_the_supergroup(pool: PgPool) {
    team_chat::bind(&pool, ChannelKind::Telegram, "-100123", None, now())
        .await
        .unwrap();
    assert!(
        !chat::follow_migration(&pool, -555, -100555, now())
            .await
            .unwrap()
    );
    assert!(
        chat::follow_migration(&pool, -100123, -1009876, now())
            .await
            .unwrap()
    );
    assert_eq!(
        team_chat::get(&pool).await.unwrap().unwrap().address,
        "-1009876"
    );
}

fn unlimited(sim: &Arc<SimulatedChannel>) -> Channels {
    Channels::new(RateLimits {
        telegram: ChannelLimit::unlimited(),
        whatsapp: ChannelLimit::unlimited(),
        simulated: ChannelLimit::unlimited(),
    })
    .with(sim.clone())
}

async fn deliver_touches(pool: &PgPool, sim: &Arc<SimulatedChannel>, at: DateTime<Utc>) {
    deliver_due(pool, &unlimited(sim), &PlainRenderer, &config(), "w1", at)
        .await
        .unwrap();
}

#[sqlx::test]
async fn a_takeover_pauses_a_due_touch_and_handback_resumes_it(pool: PgPool) {
    let s = scene(&pool).await;
    let checkin = touch(&pool, s.northwind, s.dana, "checkin-1", "checkin", now()).await;
    let renewal = touch(&pool, s.northwind, s.dana, "renewal-30", "renewal", now()).await;
    let settings = Settings::default();
    let forwarded = chat::forward_to_csm(&pool, &settings, s.dana, "m1", "Can we talk?", now())
        .await
        .unwrap();
    assert_eq!(forwarded.takeover.until, now() + Duration::hours(48));
    assert!(forwarded.post.is_some());

    let sim = Arc::new(SimulatedChannel::new());
    deliver_touches(&pool, &sim, now() + Duration::minutes(5)).await;
    assert_eq!(state(&pool, checkin).await.status, "planned");
    assert_eq!(
        state(&pool, checkin).await.attempt,
        0,
        "holding back spends no try"
    );
    assert_eq!(
        state(&pool, renewal).await.status,
        "sent",
        "renewal notices keep their date"
    );

    let at = now() + Duration::hours(1);
    assert!(
        takeover::handback(&pool, s.dana, Some(s.alice), at)
            .await
            .unwrap()
    );
    assert_eq!(takeover::active(&pool, s.dana, at).await.unwrap(), None);
    deliver_touches(&pool, &sim, at).await;
    assert_eq!(state(&pool, checkin).await.status, "sent");
}

#[sqlx::test]
async fn a_takeover_ends_by_itself_after_the_configured_hours(pool: PgPool) {
    let s = scene(&pool).await;
    let checkin = touch(&pool, s.northwind, s.dana, "checkin-1", "checkin", now()).await;
    let mut settings = Settings::default();
    settings.takeover.hours = 6;
    chat::forward_to_csm(&pool, &settings, s.dana, "m1", "Hello?", now())
        .await
        .unwrap();
    let sim = Arc::new(SimulatedChannel::new());
    deliver_touches(&pool, &sim, now() + Duration::hours(5)).await;
    assert_eq!(state(&pool, checkin).await.status, "planned");
    deliver_touches(&pool, &sim, now() + Duration::hours(6)).await;
    assert_eq!(state(&pool, checkin).await.status, "sent");
}

#[sqlx::test]
async fn the_clients_words_reach_the_csm_and_a_staff_reply_goes_back_to_the_client(pool: PgPool) {
    let s = scene(&pool).await;
    let settings = Settings::default();
    chat::forward_to_csm(
        &pool,
        &settings,
        s.dana,
        "m1",
        "Can we move the training?",
        now(),
    )
    .await
    .unwrap();
    // Forwarding the same message again posts nothing new.
    let again = chat::forward_to_csm(
        &pool,
        &settings,
        s.dana,
        "m1",
        "Can we move the training?",
        now(),
    )
    .await
    .unwrap();
    assert_eq!(again.post, None);

    let telegram = Arc::new(SimulatedChannel::new().with_kind(ChannelKind::Telegram));
    let report = deliver_due_posts(&pool, &unlimited(&telegram), &config(), "w1", now())
        .await
        .unwrap();
    assert_eq!(report.sent, 1);
    let sent = telegram.sent().pop().unwrap();
    assert_eq!(sent.message.to.address, ALICE_TG.to_string());
    assert!(
        sent.message
            .text
            .starts_with("💬 Dana (champion, Northwind) wrote:\n\"Can we move the training?\""),
        "{}",
        sent.message.text
    );
    assert_eq!(
        sent.message.buttons[0][0].data,
        format!("tko:{}:back", s.dana)
    );

    let chat_id = ALICE_TG.to_string();
    let at = now() + Duration::hours(1);
    let reply = chat::reply_to_client(
        &pool,
        &settings,
        ALICE_TG,
        &chat_id,
        &sent.provider_message_id,
        "r1",
        "Sure, Friday works",
        at,
    )
    .await
    .unwrap();
    let ReplyOutcome::Queued {
        contact,
        fresh,
        confirmation,
        ..
    } = reply
    else {
        panic!("expected a reply to pass on, got {reply:?}");
    };
    assert_eq!(contact, s.dana);
    assert!(fresh);
    assert!(
        confirmation.starts_with("Passing it on to Dana (Northwind)."),
        "{confirmation}"
    );
    // The same staff message again (a redelivered update) queues nothing new.
    let again = chat::reply_to_client(
        &pool,
        &settings,
        ALICE_TG,
        &chat_id,
        &sent.provider_message_id,
        "r1",
        "Sure, Friday works",
        at,
    )
    .await
    .unwrap();
    assert!(
        matches!(again, ReplyOutcome::Queued { fresh: false, .. }),
        "{again:?}"
    );
    let simulated = Arc::new(SimulatedChannel::new());
    let report = deliver_due_posts(&pool, &unlimited(&simulated), &config(), "w1", at)
        .await
        .unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let to_client = simulated.sent();
    assert_eq!(to_client.len(), 1, "the client gets the reply once");
    assert_eq!(
        to_client[0].message.to,
        Address {
            channel: ChannelKind::Simulated,
            address: "dana".into()
        }
    );
    assert_eq!(to_client[0].message.text, "Alice:\nSure, Friday works");
    let current = takeover::active(&pool, s.dana, at).await.unwrap().unwrap();
    assert_eq!(
        current.until,
        at + Duration::hours(48),
        "a reply extends the pause"
    );

    let stranger = chat::reply_to_client(
        &pool,
        &settings,
        STRANGER_TG,
        &chat_id,
        &sent.provider_message_id,
        "r2",
        "hi",
        at,
    )
    .await
    .unwrap();
    assert_eq!(
        stranger,
        ReplyOutcome::Refused {
            notice: REFUSAL.into()
        }
    );
    let unrelated =
        chat::reply_to_client(&pool, &settings, ALICE_TG, &chat_id, "nope", "r3", "hi", at)
            .await
            .unwrap();
    assert_eq!(unrelated, ReplyOutcome::NotARelay);

    let back = press(&pool, ALICE_TG, &format!("tko:{}:back", s.dana), at).await;
    assert_eq!(
        back.notice,
        "Dana is back with the bot: automated touches resume."
    );
    assert_eq!(back.edit, Edit::RemoveButtons);
    let twice = press(&pool, ALICE_TG, &format!("tko:{}:back", s.dana), at).await;
    assert_eq!(twice.notice, "Dana was already back with the bot.");
    let refused = press(&pool, STRANGER_TG, &format!("tko:{}:back", s.dana), at).await;
    assert_eq!(refused.notice, BUTTON_REFUSAL);
}

#[sqlx::test]
async fn team_bind_code_prints_a_code_and_the_message_that_binds_the_group(pool: PgPool) {
    scene(&pool).await;
    let database = pool
        .connect_options()
        .get_database()
        .expect("the test database has a name")
        .to_string();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_touchbot"))
        .args(["team", "bind-code"])
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:5432/{database}"),
        )
        .output()
        .await
        .expect("the touchbot binary runs");
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let command = printed
        .lines()
        .find(|l| l.starts_with("/bind "))
        .unwrap_or_else(|| panic!("no /bind line in:\n{printed}"));
    assert!(printed.contains("works once, until"), "{printed}");

    let code = command.trim_start_matches("/bind ");
    let bound = chat::bind(&pool, code, -100123, ALICE_TG, Utc::now())
        .await
        .unwrap();
    assert!(bound.bound, "{}", bound.text);
}

#[sqlx::test]
async fn a_long_answer_comes_as_several_messages_cut_between_lines(pool: PgPool) {
    let alice = person(&pool, "Alice", "csm", ALICE_TG).await;
    sqlx::query(
        "insert into accounts (name, segment, contract_start, renewal_date, csm_id)
         select 'Account with a rather long name to fill the message, number ' || n, 'smb',
                '2025-06-01', '2026-03-10'::date + n % 100, $1
           from generate_series(1, 150) n",
    )
    .bind(alice.0)
    .execute(&pool)
    .await
    .unwrap();
    let messages =
        chat::staff_command(&pool, &Settings::default(), ALICE_TG, "/renewals", now()).await;
    assert!(messages.len() > 1, "{} message(s)", messages.len());
    for m in &messages {
        assert!(m.encode_utf16().count() <= chat::MAX_MESSAGE);
        assert!(
            m.starts_with("Renewals") || m.starts_with("• Account"),
            "{m}"
        );
    }
    let lines: usize = messages.iter().map(|m| m.lines().count()).sum();
    assert_eq!(
        lines, 151,
        "the heading and one line per renewal, none lost or cut"
    );
}
