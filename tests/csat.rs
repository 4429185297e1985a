//! The CSAT survey after a support ticket, end to end against a real PostgreSQL: the signal
//! re-plans the account, the preview shows the survey, the dispatcher sends it once over the
//! simulated channel, and the contact's answer is stored as their rating.

mod fixtures;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use clap::Parser;
use fixtures::{account, ctx, date, new_account, new_contact};
use sqlx::PgPool;
use touchbot::channel::Channels;
use touchbot::channel::ratelimit::RateLimits;
use touchbot::channel::simulated::SimulatedChannel;
use touchbot::cli::{Cli, Command, run_signal};
use touchbot::domain::{AccountId, ChannelKind, ContactRole, TouchId};
use touchbot::health::store::latest_scores;
use touchbot::inbound::{Answer, InboundContent, InboundMessage, InboundOutcome, receive};
use touchbot::messages::Messages;
use touchbot::outbound::calendar::CalendarConfig;
use touchbot::outbound::dispatcher::{DispatcherConfig, deliver_due};
use touchbot::outbound::preview::preview;
use touchbot::outbound::render::TemplateRenderer;
use touchbot::storage::contacts;

/// Tuesday 10 March 2026, noon UTC: the moment the helpdesk reports the ticket closed.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
}

/// Northwind went live in June 2025, so its own calendar is quiet in March 2026. Its contacts
/// are on the simulated channel: Dana (decision maker), Ivan (champion) and Olga (a user).
async fn northwind(pool: &PgPool) -> AccountId {
    let a = account(pool, new_account("Northwind", date(2025, 6, 2))).await;
    let joined = Utc.with_ymd_and_hms(2025, 6, 2, 9, 0, 0).unwrap();
    for (name, role) in [
        ("Dana", ContactRole::DecisionMaker),
        ("Ivan", ContactRole::Champion),
        ("Olga", ContactRole::User),
    ] {
        let mut new = new_contact(a, name, role, &name.to_lowercase());
        new.channel = ChannelKind::Simulated;
        contacts::add(pool, &new, joined).await.unwrap();
    }
    a
}

/// Runs `touchbot signal add …` at `now()`, as a user would type it.
async fn signal_add(pool: &PgPool, args: &[&str]) {
    signal_add_at(pool, now(), args).await;
}

async fn signal_add_at(pool: &PgPool, at: DateTime<Utc>, args: &[&str]) {
    let cli = Cli::try_parse_from(["touchbot", "signal", "add"].iter().chain(args))
        .unwrap_or_else(|e| panic!("{e}"));
    let Command::Signal(cmd) = cli.command else {
        unreachable!("parsed a signal command")
    };
    run_signal(&ctx(pool, at), cmd).await.unwrap();
}

struct Post {
    sim: Arc<SimulatedChannel>,
    channels: Channels,
    renderer: TemplateRenderer,
}

fn post() -> Post {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = Channels::new(RateLimits::default()).with(sim.clone());
    let renderer = TemplateRenderer::new(Arc::new(Messages::load().unwrap()));
    Post {
        sim,
        channels,
        renderer,
    }
}

impl Post {
    async fn deliver(&self, pool: &PgPool, at: DateTime<Utc>) -> usize {
        let config = DispatcherConfig::default();
        deliver_due(pool, &self.channels, &self.renderer, &config, "w1", at)
            .await
            .unwrap()
            .sent
    }
}

async fn survey_id(pool: &PgPool, account: AccountId) -> (TouchId, String) {
    let row = sqlx::query!(
        "select id, status from touches where account_id = $1 and touch_key = 'csat@T-1'",
        account.0
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (TouchId(row.id), row.status)
}

fn from_olga(id: &str, content: InboundContent, at: DateTime<Utc>) -> InboundMessage {
    InboundMessage {
        channel: ChannelKind::Simulated,
        address: "olga".into(),
        provider_message_id: id.into(),
        content,
        received_at: at,
    }
}

/// Olga opens T-1; the helpdesk closes it at noon without a rating.
async fn olga_s_ticket_closed(pool: &PgPool) {
    signal_add(
        pool,
        &[
            "--account",
            "Northwind",
            "--kind",
            "ticket_opened",
            "--ticket",
            "T-1",
            "--severity",
            "normal",
            "--contact",
            "olga",
            "--at",
            "2026-03-09T08:00:00Z",
        ],
    )
    .await;
    signal_add(
        pool,
        &[
            "--account",
            "Northwind",
            "--kind",
            "ticket_closed",
            "--ticket",
            "T-1",
        ],
    )
    .await;
}

#[sqlx::test]
async fn a_closed_ticket_is_surveyed_once_and_the_raisers_4_is_stored_as_their_rating(
    pool: PgPool,
) {
    let a = northwind(&pool).await;
    olga_s_ticket_closed(&pool).await;

    // The preview lists the survey for Olga, who raised the ticket, an hour after the closing.
    let rows = preview(&pool, &CalendarConfig::default(), a, now())
        .await
        .unwrap();
    let survey = rows
        .iter()
        .find(|r| r.touch_key == "csat@T-1")
        .unwrap_or_else(|| panic!("no survey in {rows:#?}"));
    assert_eq!(survey.kind, "csat");
    assert_eq!(survey.recipient, "Olga (user)");
    assert_eq!(survey.status, "planned");
    assert_eq!(survey.due_at, now() + Duration::hours(1));
    assert_eq!(
        survey.notes,
        [format!(
            "contact {} raised ticket T-1",
            olga(&pool, a).await
        )]
    );
    // `signal add` stored it in the outbox already.
    let (touch, status) = survey_id(&pool, a).await;
    assert_eq!(status, "planned");

    // Nothing goes before it is due; then exactly once, with the 1-5 buttons.
    let post = post();
    assert_eq!(post.deliver(&pool, now() + Duration::minutes(30)).await, 0);
    assert_eq!(post.deliver(&pool, now() + Duration::hours(1)).await, 1);
    assert_eq!(post.deliver(&pool, now() + Duration::hours(2)).await, 0);
    let sent = post.sim.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message.to.address, "olga");
    assert!(
        sent[0].message.text.contains("support request"),
        "{}",
        sent[0].message.text
    );
    let buttons: Vec<&str> = sent[0].message.buttons[0]
        .iter()
        .map(|b| b.data.as_str())
        .collect();
    assert_eq!(buttons.len(), 5);
    assert_eq!(buttons[3], format!("csat:{touch}:4"));
    assert_eq!(survey_id(&pool, a).await.1, "sent");

    // Re-planning later leaves the survey alone: it went out.
    signal_add(
        &pool,
        &[
            "--account",
            "Northwind",
            "--kind",
            "ticket_closed",
            "--ticket",
            "T-1",
            "--key",
            "helpdesk-resync",
        ],
    )
    .await;
    assert_eq!(survey_id(&pool, a).await.1, "sent");
    assert_eq!(post.deliver(&pool, now() + Duration::days(1)).await, 0);

    // Olga answers "4": stored as her CSAT, linked to the survey, and health reads it.
    let at = now() + Duration::hours(3);
    let outcome = receive(
        &pool,
        touchbot::inbound::Judge::from(&touchbot::config::Settings::default()),
        &from_olga("sim-in-1", InboundContent::Text("4".into()), at),
        at,
    )
    .await
    .unwrap();
    let InboundOutcome::Handled(handled) = outcome else {
        panic!("Olga is a known contact: {outcome:?}")
    };
    assert_eq!(handled.answer, Answer::Csat { score: 4 });
    assert_eq!(handled.touch_id, Some(touch));
    let reply = sqlx::query!("select kind, score, touch_id from replies")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        (reply.kind.as_str(), reply.score, reply.touch_id),
        ("csat", Some(4), Some(touch.0))
    );
    let health = latest_scores(&pool, at, Some(a)).await.unwrap();
    let support = health[&a]
        .components
        .iter()
        .find(|c| c.name == "support")
        .unwrap();
    assert!(
        support.explanation.contains("average CSAT 4.0 of 5"),
        "{}",
        support.explanation
    );
}

#[sqlx::test]
async fn a_tap_on_the_surveys_button_is_stored_as_the_rating(pool: PgPool) {
    let a = northwind(&pool).await;
    olga_s_ticket_closed(&pool).await;
    let post = post();
    assert_eq!(post.deliver(&pool, now() + Duration::hours(1)).await, 1);
    let (touch, _) = survey_id(&pool, a).await;

    let at = now() + Duration::hours(2);
    let tap = InboundContent::Button(format!("csat:{touch}:5"));
    receive(
        &pool,
        touchbot::inbound::Judge::from(&touchbot::config::Settings::default()),
        &from_olga("sim-in-1", tap, at),
        at,
    )
    .await
    .unwrap();
    let reply = sqlx::query!("select kind, score, touch_id from replies")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        (reply.kind.as_str(), reply.score, reply.touch_id),
        ("csat", Some(5), Some(touch.0))
    );
}

#[sqlx::test]
async fn a_ticket_closed_with_the_helpdesks_rating_plans_no_survey(pool: PgPool) {
    let a = northwind(&pool).await;
    signal_add(
        &pool,
        &[
            "--account",
            "Northwind",
            "--kind",
            "ticket_closed",
            "--ticket",
            "T-1",
            "--contact",
            "Olga",
            "--csat",
            "5",
        ],
    )
    .await;
    let rows = preview(&pool, &CalendarConfig::default(), a, now())
        .await
        .unwrap();
    assert!(
        !rows.iter().any(|r| r.kind == "csat"),
        "{:#?}",
        rows.iter().map(|r| &r.touch_key).collect::<Vec<_>>()
    );
}

async fn olga(pool: &PgPool, account: AccountId) -> i64 {
    contacts::find(pool, account, "Olga").await.unwrap().id.0
}

#[sqlx::test]
async fn a_ticket_opened_again_before_its_survey_went_out_takes_the_survey_back(pool: PgPool) {
    let a = northwind(&pool).await;
    olga_s_ticket_closed(&pool).await;
    assert_eq!(survey_id(&pool, a).await.1, "planned");

    let later = now() + Duration::minutes(20);
    signal_add_at(
        &pool,
        later,
        &[
            "--account",
            "Northwind",
            "--kind",
            "ticket_opened",
            "--ticket",
            "T-1",
            "--severity",
            "high",
        ],
    )
    .await;
    assert_eq!(survey_id(&pool, a).await.1, "cancelled");
    assert_eq!(post().deliver(&pool, now() + Duration::hours(1)).await, 0);
}
