//! `touchbot serve` with its WhatsApp webhook, for end-to-end tests: a world of one account
//! with a WhatsApp contact who was sent an NPS survey, the service pointed at a fake Graph API,
//! and Meta's side of the webhook to post to it.

use std::future::Future;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use sqlx::PgPool;
use tokio::net::TcpListener;
use touchbot::channel::Channels;
use touchbot::channel::ratelimit::{ChannelLimit, RateLimits};
use touchbot::config::Settings;
use touchbot::domain::{AccountId, ContactId, StaffId};
use touchbot::startup::{Service, start};

use super::fake_whatsapp::{FakeWhatsApp, PHONE_NUMBER_ID, Sent, TOKEN};
use super::whatsapp_webhook::{self as meta, APP_SECRET, Meta, VERIFY_TOKEN};

/// Dana's number as WhatsApp writes it (digits) and as touchbot stores it.
pub const DANA: &str = "77011234567";
pub const DANA_E164: &str = "+77011234567";
/// Long enough for a slow CI machine, short enough that a hang fails the test.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub struct App {
    pub service: Service,
    pub fake: FakeWhatsApp,
    pub meta: Meta,
    pub account: AccountId,
    pub dana: ContactId,
    pub csm: StaffId,
    /// The NPS survey sent to Dana an hour ago.
    pub nps: i64,
}

pub fn settings(fake: &FakeWhatsApp) -> Settings {
    let mut s = Settings::default();
    // No calendar of its own: only the touches a test makes are sent.
    s.calendar.rules.clear();
    s.calendar.csat.enabled = false;
    s.calendar.retime_after_hours = 0;
    s.scheduler.replan_cron = "0 0 0 1 1 * 2099".into();
    // WhatsApp's real pace (a message every 6 s to one recipient) would only slow tests down.
    s.dispatcher.rate_limits = RateLimits {
        telegram: ChannelLimit::unlimited(),
        whatsapp: ChannelLimit::unlimited(),
        simulated: ChannelLimit::unlimited(),
    };
    s.whatsapp.api_url = fake.url().to_string();
    s.whatsapp.access_token = Some(TOKEN.into());
    s.whatsapp.phone_number_id = Some(PHONE_NUMBER_ID.into());
    s.whatsapp.app_secret = Some(APP_SECRET.into());
    s.whatsapp.verify_token = Some(VERIFY_TOKEN.into());
    // The NPS survey has its template at Meta (see `serve`), for a touch refused as free text.
    s.whatsapp
        .templates
        .insert("nps".into(), Default::default());
    s.dispatcher.window = s.whatsapp.window();
    s
}

/// Northwind (English, CSM Aigerim), its WhatsApp contact Dana, and an NPS survey sent to
/// her an hour ago; then `serve`.
pub async fn app(pool: &PgPool) -> App {
    let world = world(pool).await;
    serve(pool, world).await
}

pub async fn world(pool: &PgPool) -> (AccountId, ContactId, StaffId, i64) {
    let csm = StaffId(
        sqlx::query_scalar!(
            "insert into staff (name, role) values ('Aigerim Sadykova', 'csm') returning id"
        )
        .fetch_one(pool)
        .await
        .unwrap(),
    );
    let account = sqlx::query_scalar!(
        "insert into accounts (name, segment, contract_start, csm_id, locale)
         values ('Northwind', 'smb', current_date - 100, $1, 'en') returning id",
        csm.0
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let dana = sqlx::query_scalar!(
        "insert into contacts (account_id, name, role, channel, address)
         values ($1, 'Dana Omarova', 'champion', 'whatsapp', $2) returning id",
        account,
        DANA_E164
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let sent_at = Utc::now() - TimeDelta::hours(1);
    let nps = sqlx::query_scalar!(
        "insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at, status, sent_at, provider_message_id)
         values ($1, 'nps-90', 'nps', 'nps', 'survey', 'nps', $2, $3, 'sent', $3, 'wamid.NPS')
         returning id",
        account,
        dana,
        sent_at,
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (AccountId(account), ContactId(dana), csm, nps)
}

pub async fn serve(
    pool: &PgPool,
    (account, dana, csm, nps): (AccountId, ContactId, StaffId, i64),
) -> App {
    let fake = FakeWhatsApp::start().await;
    fake.register_template("touchbot_nps", "en", 1);
    let settings = settings(&fake);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let channels = Channels::new(settings.dispatcher.rate_limits.clone());
    let service = start(&settings, pool.clone(), channels, listener)
        .await
        .expect("the service starts");
    let meta = Meta::new(service.addr());
    App {
        service,
        fake,
        meta,
        account,
        dana,
        csm,
        nps,
    }
}

impl App {
    pub async fn stop(self) {
        tokio::time::timeout(PATIENCE, self.service.stop())
            .await
            .expect("the service stops promptly")
            .expect("the service stops cleanly");
    }

    /// What the bot said to Dana (touches left out), in order.
    pub fn answers(&self) -> Vec<Sent> {
        self.fake
            .sent()
            .into_iter()
            .filter(|s| {
                !s.callback_data
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("touch:")
            })
            .collect()
    }

    /// Waits for the `n`th answer (1-based) and returns it.
    pub async fn answer(&self, n: usize) -> Sent {
        until(&format!("answer {n}"), || async {
            self.answers().len() >= n
        })
        .await;
        self.answers()[n - 1].clone()
    }

    /// Posts a signed notification of Dana's `messages`; Meta must get 200.
    pub async fn dana_says(&self, messages: Vec<serde_json::Value>) {
        let status = self
            .meta
            .post(&meta::messages(DANA, "Dana", messages))
            .await;
        assert_eq!(status, 200);
    }
}

/// Waits until `check` holds, looking every few milliseconds, for at most [`PATIENCE`].
pub async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub async fn all_events_done(pool: &PgPool) {
    until("every WhatsApp event to be handled", || async {
        let left: i64 = sqlx::query_scalar!(
            r#"select count(*) as "n!" from whatsapp_events where done_at is null"#
        )
        .fetch_one(pool)
        .await
        .unwrap();
        left == 0
    })
    .await;
}

pub async fn events(pool: &PgPool) -> i64 {
    sqlx::query_scalar!(r#"select count(*) as "n!" from whatsapp_events"#)
        .fetch_one(pool)
        .await
        .unwrap()
}

pub async fn nps_reply(pool: &PgPool, touch: i64) -> Option<(Option<i16>, Option<String>)> {
    sqlx::query!(
        "select score, comment from replies where touch_id = $1 and kind = 'nps'",
        touch
    )
    .fetch_optional(pool)
    .await
    .unwrap()
    .map(|r| (r.score, r.comment))
}
