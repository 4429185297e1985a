//! `touchbot serve` as a whole: the health endpoint, a clean stop, and due touches going out
//! through the running dispatcher, from the real templates, once each.
//!
//! The service runs on the wall clock, so touches are planned at a fixed instant in the past:
//! by the time the service looks, they are all due.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use touchbot::channel::simulated::SimulatedChannel;
use touchbot::channel::{Channel, Channels, Delivered, Lookup, OutboundMessage, SendError};
use touchbot::config::Settings;
use touchbot::domain::{AccountId, ChannelKind, ContactRole, Segment, TouchKind};
use touchbot::outbound::{outbox, planner};
use touchbot::staff_posts::{NewPost, PostDelivery, PostKind, Recipient, enqueue};
use touchbot::startup::{Service, start};
use touchbot::storage::{accounts, contacts, team_chat};

/// Long enough for a slow CI machine, short enough that a hang fails the test.
const PATIENCE: Duration = Duration::from_secs(20);

/// A Monday before the opening of the send window (10:00 UTC for a UTC account).
fn planned_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// The default settings, with only the welcome rule, so each contact gets exactly one touch,
/// and without the nightly re-plan, which would plan by the wall clock in the middle of a test.
fn settings() -> Settings {
    let mut settings = Settings::default();
    settings
        .calendar
        .rules
        .retain(|rule| rule.kind == TouchKind::Welcome);
    assert_eq!(
        settings.calendar.rules.len(),
        1,
        "the default has a welcome"
    );
    settings.scheduler.replan_cron = "0 0 0 1 1 * 2099".into();
    // Planned in the past on purpose: not a backlog for the calendar to re-time.
    settings.calendar.retime_after_hours = 0;
    settings
}

async fn serve(settings: &Settings, pool: &PgPool, channel: &Arc<SimulatedChannel>) -> Service {
    let channels = Channels::new(settings.dispatcher.rate_limits.clone()).with(channel.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    start(settings, pool.clone(), channels, listener)
        .await
        .expect("the service starts")
}

async fn stop(service: Service) {
    timeout(PATIENCE, service.stop())
        .await
        .expect("stop() returns promptly")
        .expect("the service stops cleanly");
}

/// A plain HTTP/1.1 GET: (status code, body).
async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    timeout(PATIENCE, stream.read_to_string(&mut response))
        .await
        .expect("the server answers and closes the connection")
        .unwrap();
    parse_response(&response)
}

fn parse_response(response: &str) -> (u16, String) {
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status code in {head:?}"));
    (status, body.to_string())
}

async fn account(pool: &PgPool, name: &str) -> AccountId {
    let new = accounts::NewAccount {
        name: name.into(),
        segment: Segment::Smb,
        arr_cents: 0,
        contract_start: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
        go_live: None,
        renewal_date: None,
        csm_id: None,
        time_zone: "UTC".into(),
        locale: "en".into(),
    };
    accounts::create(pool, &new).await.unwrap().id
}

async fn contact(
    pool: &PgPool,
    account: AccountId,
    name: &str,
    channel: ChannelKind,
    address: &str,
) {
    let new = contacts::NewContact {
        account_id: account,
        name: name.into(),
        role: ContactRole::Champion,
        channel,
        address: Some(address.into()),
        time_zone: None,
        locale: None,
    };
    contacts::add(pool, &new, planned_at()).await.unwrap();
}

struct StoredTouch {
    idempotency_key: String,
    status: String,
    provider_message_id: Option<String>,
    sent_at: Option<DateTime<Utc>>,
}

async fn touches(pool: &PgPool, account: AccountId) -> Vec<StoredTouch> {
    sqlx::query!(
        "select touch_key, status, provider_message_id, sent_at from touches
          where account_id = $1 order by id",
        account.0
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| StoredTouch {
        idempotency_key: outbox::idempotency_key(account, &r.touch_key),
        status: r.status,
        provider_message_id: r.provider_message_id,
        sent_at: r.sent_at,
    })
    .collect()
}

#[sqlx::test]
async fn the_health_endpoint_answers_ok_and_stop_closes_the_port(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let service = serve(&settings(), &pool, &sim).await;
    let addr = service.addr();

    let (status, body) = http_get(addr, "/healthz").await;
    let (missing, _) = http_get(addr, "/nothing-here").await;
    stop(service).await;

    assert_ne!(
        addr.port(),
        0,
        "the service reports the port it really bound"
    );
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert_eq!(missing, 404);
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "{addr} still accepts connections after stop()"
    );
}

#[sqlx::test]
async fn the_api_and_its_openapi_document_answer_on_the_service_port(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let service = serve(&settings(), &pool, &sim).await;
    let addr = service.addr();

    let (doc, body) = http_get(addr, "/api/openapi.json").await;
    let (accounts, refusal) = http_get(addr, "/api/v1/accounts").await;
    stop(service).await;

    assert_eq!(doc, 200);
    assert!(body.contains("/api/v1/accounts"), "{body}");
    assert_eq!(
        (accounts, refusal.as_str()),
        (401, r#"{"error":"unauthorized"}"#)
    );
}

#[sqlx::test]
async fn an_idle_keep_alive_connection_does_not_hold_up_stop(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let service = serve(&settings(), &pool, &sim).await;
    let addr = service.addr();
    // A load balancer keeps its health-check connection open between probes.
    let mut probe = TcpStream::connect(addr).await.unwrap();
    probe
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = timeout(PATIENCE, probe.read(&mut buf))
        .await
        .expect("the probe is answered")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    stop(service).await;

    assert!(TcpStream::connect(addr).await.is_err());
}

#[sqlx::test]
async fn a_due_welcome_goes_out_from_the_real_templates_and_is_marked_sent(pool: PgPool) {
    let mut settings = settings();
    // Dana has never written: WhatsApp takes the welcome only as its approved template.
    settings
        .whatsapp
        .templates
        .insert("welcome".into(), Default::default());
    settings.dispatcher.window = settings.whatsapp.window();
    let sim = Arc::new(SimulatedChannel::new().with_kind(ChannelKind::Whatsapp));
    let northwind = account(&pool, "Northwind").await;
    contact(
        &pool,
        northwind,
        "Dana Bekova",
        ChannelKind::Whatsapp,
        "+77011234567",
    )
    .await;
    let plan = planner::replan_account(&pool, &settings.calendar, northwind, planned_at())
        .await
        .unwrap();
    assert_eq!(plan.planned, 1, "one welcome is planned");

    let service = serve(&settings, &pool, &sim).await;
    timeout(PATIENCE, sim.wait_for_sent(1))
        .await
        .expect("the running service delivers the due welcome");
    // stop() lets the in-flight send finish recording its outcome.
    stop(service).await;

    let sent = sim.sent();
    assert_eq!(sent.len(), 1);
    let message = &sent[0].message;
    assert_eq!(message.to.address, "+77011234567");
    assert!(
        message.text.contains("Hi Dana,") && message.text.contains("Northwind"),
        "not the welcome template for Dana at Northwind: {:?}",
        message.text
    );
    assert!(
        !message.text.contains("Bekova"),
        "greets by first name only"
    );
    let template = message.template.as_ref().expect("sent as its template");
    assert_eq!(template.name, "touchbot_welcome");
    assert_eq!(template.parameters[0], "Dana");
    let stored = touches(&pool, northwind).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].idempotency_key, message.idempotency_key);
    assert_eq!(stored[0].status, "sent");
    assert_eq!(
        stored[0].provider_message_id.as_deref(),
        Some(sent[0].provider_message_id.as_str())
    );
    assert!(stored[0].sent_at.is_some());
}

#[sqlx::test]
async fn two_services_on_one_database_send_each_touch_exactly_once(pool: PgPool) {
    const CONTACTS: usize = 30;
    let mut settings = settings();
    // Small batches, so the two services take turns claiming instead of one taking all.
    settings.dispatcher.batch_size = 2;
    settings.dispatcher.workers = 2;
    let first = Arc::new(SimulatedChannel::new());
    let second = Arc::new(SimulatedChannel::new());
    let a = serve(&settings, &pool, &first).await;
    let b = serve(&settings, &pool, &second).await;

    // Planned while both run: the one statement storing the plan wakes both at once.
    let acme = account(&pool, "Acme").await;
    for i in 0..CONTACTS {
        contact(
            &pool,
            acme,
            &format!("user-{i}"),
            ChannelKind::Simulated,
            &format!("user-{i}"),
        )
        .await;
    }
    let plan = planner::replan_account(&pool, &settings.calendar, acme, planned_at())
        .await
        .unwrap();
    assert_eq!(plan.planned, CONTACTS);

    let delivered = || first.sent().len() + second.sent().len();
    timeout(PATIENCE, async {
        while delivered() < CONTACTS {
            let (one, two) = (first.sent().len(), second.sent().len());
            tokio::select! {
                _ = first.wait_for_sent(one + 1) => {}
                _ = second.wait_for_sent(two + 1) => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only {} of {CONTACTS} delivered", delivered()));
    stop(a).await;
    stop(b).await;

    let stored = touches(&pool, acme).await;
    assert_eq!(stored.len(), CONTACTS);
    let all: Vec<_> = first.sent().into_iter().chain(second.sent()).collect();
    assert_eq!(all.len(), CONTACTS, "a touch was delivered twice");
    for touch in &stored {
        let key = &touch.idempotency_key;
        let deliveries = all
            .iter()
            .filter(|s| &s.message.idempotency_key == key)
            .count();
        let attempts = first.send_attempts(key) + second.send_attempts(key);
        assert_eq!(
            (deliveries, attempts),
            (1, 1),
            "{key}: delivered {deliveries} times in {attempts} sends"
        );
        assert_eq!(touch.status, "sent", "{key}");
    }
}

#[sqlx::test]
async fn a_card_queued_while_serving_reaches_the_team_chat_and_is_marked_sent(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    team_chat::bind(&pool, ChannelKind::Simulated, "cs-team", None, planned_at())
        .await
        .unwrap();
    let service = serve(&settings(), &pool, &sim).await;

    // Queued after start-up: the queue's NOTIFY, not the 30-second poll, brings it out in time.
    let card = NewPost {
        idempotency_key: "esc:1:opened:team".into(),
        kind: PostKind::Escalation,
        escalation_id: None,
        account_id: None,
        recipient: Recipient::TeamChat,
        delivery: PostDelivery::Now,
        body: "Northwind: NPS 2".into(),
        buttons: vec![],
        due_at: Utc::now(),
    };
    let id = enqueue(&pool, &card, Utc::now()).await.unwrap().unwrap();
    timeout(PATIENCE, sim.wait_for_sent(1))
        .await
        .expect("the running service posts the card");
    stop(service).await;

    let sent = sim.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message.to.address, "cs-team");
    assert_eq!(sent[0].message.text, "Northwind: NPS 2");
    let status = sqlx::query_scalar!("select status from staff_posts where id = $1", id.0)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "sent");
}

/// A channel whose every send panics, as a bug in a channel would.
struct Panicking;

#[async_trait::async_trait]
impl Channel for Panicking {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Simulated
    }

    async fn send(&self, _message: &OutboundMessage) -> Result<Delivered, SendError> {
        panic!("a bug in the channel");
    }

    async fn lookup(&self, _idempotency_key: &str) -> Lookup {
        Lookup::Unsupported
    }
}

#[sqlx::test]
async fn the_health_check_fails_with_a_reason_once_the_dispatcher_has_died(pool: PgPool) {
    let settings = settings();
    let acme = account(&pool, "Acme").await;
    contact(&pool, acme, "Ann", ChannelKind::Simulated, "ann").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let channels = Channels::new(settings.dispatcher.rate_limits.clone()).with(Arc::new(Panicking));
    let service = start(&settings, pool.clone(), channels, listener)
        .await
        .unwrap();
    let addr = service.addr();
    let (before, _) = http_get(addr, "/healthz").await;

    // The welcome planned now is due at once; sending it kills the dispatcher.
    planner::replan_account(&pool, &settings.calendar, acme, planned_at())
        .await
        .unwrap();
    let (status, body) = timeout(PATIENCE, async {
        loop {
            let answer = http_get(addr, "/healthz").await;
            if answer.0 != 200 {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the health check notices the dead dispatcher");
    let stopped = timeout(PATIENCE, service.stop()).await.unwrap();

    assert_eq!(before, 200);
    assert_eq!((status, body.as_str()), (503, "the dispatcher stopped"));
    let err = stopped.expect_err("stop() reports the dead dispatcher");
    assert!(
        format!("{err:#}").contains("the dispatcher panicked"),
        "{err:#}"
    );
}
