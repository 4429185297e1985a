//! `/metrics` on serve's listener: the process's counters after real sends through the
//! running dispatcher, and the database's facts read at scrape time.
//!
//! The counters are the process's, shared by the tests of this file: only the first test
//! sends or goes through serve's router.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use touchbot::channel::Channels;
use touchbot::channel::simulated::SimulatedChannel;
use touchbot::config::Settings;
use touchbot::domain::TouchKind;

const PATIENCE: Duration = Duration::from_secs(20);

async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    timeout(PATIENCE, stream.read_to_string(&mut response))
        .await
        .expect("the server answers")
        .unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// The value of one series, as Prometheus would read it from the text.
fn value(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

async fn sql(pool: &PgPool, statement: &'static str) {
    sqlx::raw_sql(statement).execute(pool).await.unwrap();
}

/// Two contacts on the simulated channel with a welcome each, due in the past. They were
/// added before the plan's day: a contact added today (the real today) would get a welcome
/// in today's send window, and the test would pass only by day.
async fn two_due_welcomes(pool: &PgPool, settings: &Settings) {
    sql(
        pool,
        "insert into accounts (name, segment, contract_start) values ('Metrica', 'smb', '2026-03-02');
         insert into contacts (account_id, name, role, channel, address, created_at)
         select id, 'Ann Fast', 'champion', 'simulated', 'ann', timestamptz '2026-03-01 00:00Z' from accounts union all
         select id, 'Bob Slow', 'user', 'simulated', 'bob', timestamptz '2026-03-01 00:00Z' from accounts;",
    )
    .await;
    let account = sqlx::query_scalar::<_, i64>("select id from accounts")
        .fetch_one(pool)
        .await
        .unwrap();
    let planned_at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let plan = touchbot::outbound::planner::replan_account(
        pool,
        &settings.calendar,
        touchbot::domain::AccountId(account),
        planned_at,
    )
    .await
    .unwrap();
    assert_eq!(plan.planned, 2);
}

#[sqlx::test]
async fn a_scrape_after_sends_counts_them_by_channel_and_outcome_with_the_rate_limited_one(
    pool: PgPool,
) {
    let mut settings = Settings::default();
    settings
        .calendar
        .rules
        .retain(|rule| rule.kind == TouchKind::Welcome);
    settings.scheduler.replan_cron = "0 0 0 1 1 * 2099".into();
    settings.calendar.retime_after_hours = 0;
    two_due_welcomes(&pool, &settings).await;
    let sim = Arc::new(SimulatedChannel::new());
    sim.rate_limit("bob", Duration::from_millis(200), 1);
    let channels = Channels::new(settings.dispatcher.rate_limits.clone()).with(sim.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service = touchbot::startup::start(&settings, pool.clone(), channels, listener)
        .await
        .unwrap();
    let addr = service.addr();

    timeout(PATIENCE, sim.wait_for_sent(2))
        .await
        .expect("both welcomes go out, the rate-limited one after its wait");
    let sent_recorded = async {
        loop {
            let (_, text) = http_get(addr, "/metrics").await;
            if value(&text, r#"touchbot_touches{status="sent"}"#) == Some(2.0) {
                return;
            }
            tokio::task::yield_now().await;
        }
    };
    timeout(PATIENCE, sent_recorded)
        .await
        .expect("both sends are recorded");
    let (health, _) = http_get(addr, "/healthz").await;
    let (again, _) = http_get(addr, "/healthz?probe=2").await;
    let (status, scrape) = http_get(addr, "/metrics").await;
    timeout(PATIENCE, service.stop()).await.unwrap().unwrap();

    assert_eq!((health, again, status), (200, 200, 200));
    let sends = |outcome: &str| {
        value(
            &scrape,
            &format!(r#"touchbot_sends_total{{channel="simulated",outcome="{outcome}"}}"#),
        )
    };
    assert_eq!(sends("sent"), Some(2.0), "{scrape}");
    assert_eq!(sends("rate_limited"), Some(1.0), "{scrape}");
    assert_eq!(
        value(
            &scrape,
            r#"touchbot_rate_limited_total{channel="simulated"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &scrape,
            r#"touchbot_http_requests_total{route="/healthz",status="200"}"#
        ),
        Some(2.0),
        "{scrape}"
    );
    assert_eq!(
        value(
            &scrape,
            r#"touchbot_http_request_duration_seconds_count{route="/healthz"}"#
        ),
        Some(2.0)
    );
    assert_eq!(value(&scrape, "touchbot_dispatcher_lag_seconds"), Some(0.0));
    assert!(scrape.contains("# TYPE touchbot_http_request_duration_seconds histogram"));
}

#[sqlx::test]
async fn database_facts_are_read_at_scrape_time(pool: PgPool) {
    sql(
        &pool,
        "insert into accounts (name, segment, contract_start) values ('Facts', 'smb', '2026-01-01');
         insert into contacts (account_id, name, role, channel, address)
         select id, 'Cy', 'user', 'telegram', '42' from accounts;
         insert into touches (account_id, touch_key, rule, kind, category, template, contact_id, due_at)
         select a.id, k, 'r', 'checkin', 'checkin', 'checkin', c.id, now() + d
           from accounts a, contacts c,
                (values ('late', interval '-1 hour'), ('later', interval '-10 minutes'),
                        ('future', interval '2 days')) as t(k, d);
         insert into replies (account_id, contact_id, channel, provider_message_id, received_at, body, kind)
         select a.id, c.id, ch, m, now(), 'hi', 'free_text'
           from accounts a, contacts c,
                (values ('telegram', '42:1'), ('telegram', '42:2'), ('whatsapp', 'wamid.1')) as r(ch, m);
         insert into escalations (account_id, reason, severity, magnitude, evidence, opened_at,
                                  updated_at, notified_level, status, resolved_at)
         select id, reason, 'warning', 1, '', now(), now(), lvl, st, res from accounts,
                (values ('silence', 'csm', 'open', null::timestamptz),
                        ('health_red', 'vp', 'acknowledged', null),
                        ('detractor', 'vp', 'resolved', now())) as e(reason, lvl, st, res);",
    )
    .await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = touchbot::telemetry::router(pool.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (status, scrape) = http_get(addr, "/metrics").await;

    assert_eq!(status, 200);
    assert_eq!(
        value(&scrape, r#"touchbot_touches{status="planned"}"#),
        Some(3.0)
    );
    assert_eq!(
        value(&scrape, r#"touchbot_replies_total{channel="telegram"}"#),
        Some(2.0)
    );
    assert_eq!(
        value(&scrape, r#"touchbot_replies_total{channel="whatsapp"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(&scrape, r#"touchbot_escalations_open{level="csm"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(&scrape, r#"touchbot_escalations_open{level="vp"}"#),
        Some(1.0),
        "{scrape}"
    );
    let lag = value(&scrape, "touchbot_dispatcher_lag_seconds").unwrap();
    assert!(
        (3600.0..3600.0 + PATIENCE.as_secs_f64()).contains(&lag),
        "the oldest due touch is an hour late, not {lag}"
    );
}
