//! `touchbot outbox …` through the real binary, against a fresh database per test.

use std::process::Output;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::PgPool;
use touchbot::domain::TouchId;

/// Runs the binary on the test's database, with no configuration from the environment.
async fn touchbot(pool: &PgPool, args: &[&str]) -> Output {
    let database = pool
        .connect_options()
        .get_database()
        .expect("the test database has a name")
        .to_string();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_touchbot"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TOUCHBOT_") {
            command.env_remove(key);
        }
    }
    command
        .args(args)
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:5432/{database}"),
        )
        .output()
        .await
        .expect("the touchbot binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

/// A user error: exit code 2, and a message on stderr.
#[track_caller]
fn assert_refused(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    stderr(out)
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
}

/// Two accounts, each with a WhatsApp contact, and touches in the states an operator meets.
struct Outbox {
    unknown: TouchId,
    failed: TouchId,
    planned: TouchId,
    sent: TouchId,
    other_planned: TouchId,
}

async fn account_with_contact(pool: &PgPool, name: &str, contact: &str, phone: &str) -> (i64, i64) {
    let account = sqlx::query_scalar!(
        "insert into accounts (name, segment, contract_start) values ($1, 'smb', '2026-03-02')
         returning id",
        name
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let contact = sqlx::query_scalar!(
        "insert into contacts (account_id, name, role, channel, address)
         values ($1, $2, 'champion', 'whatsapp', $3) returning id",
        account,
        contact,
        phone,
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (account, contact)
}

#[allow(clippy::too_many_arguments)]
async fn touch(
    pool: &PgPool,
    (account, contact): (i64, i64),
    key: &str,
    status: &str,
    attempt: i32,
    status_reason: Option<&str>,
    last_error: Option<&str>,
    due_at: DateTime<Utc>,
) -> TouchId {
    let id = sqlx::query_scalar!(
        "insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at, status, attempt, status_reason, last_error, lease_owner)
         values ($1, $2, 'checkin', 'checkin', 'checkin', 'checkin-week-1', $3, $4, $5, $6, $7,
                 $8, case when $5 = 'unknown' then 'host-a-41' end)
         returning id",
        account,
        key,
        contact,
        due_at,
        status,
        attempt,
        status_reason,
        last_error,
    )
    .fetch_one(pool)
    .await
    .unwrap();
    TouchId(id)
}

const UNCLEAR: &str = "the worker stopped while sending and this channel cannot tell";
const BLOCKED: &str = "whatsapp refused it for good (blocked): the user blocked the bot";

async fn outbox(pool: &PgPool) -> Outbox {
    let acme = account_with_contact(pool, "Acme", "Dana Bekova", "77011234567").await;
    let globex = account_with_contact(pool, "Globex", "Arman", "77017654321").await;
    let hour = chrono::TimeDelta::hours(1);
    Outbox {
        unknown: touch(
            pool,
            acme,
            "checkin-1",
            "unknown",
            1,
            Some(UNCLEAR),
            None,
            t0(),
        )
        .await,
        failed: touch(
            pool,
            acme,
            "checkin-2",
            "failed",
            1,
            Some(BLOCKED),
            Some(BLOCKED),
            t0() + hour,
        )
        .await,
        planned: touch(
            pool,
            acme,
            "checkin-3",
            "planned",
            2,
            None,
            Some("temporary failure: timeout"),
            t0() + hour * 2,
        )
        .await,
        sent: touch(pool, acme, "checkin-0", "sent", 1, None, None, t0() - hour).await,
        other_planned: touch(pool, globex, "checkin-1", "planned", 0, None, None, t0()).await,
    }
}

struct State {
    status: String,
    status_reason: Option<String>,
    next_attempt_at: Option<DateTime<Utc>>,
    sent_at: Option<DateTime<Utc>>,
    provider_message_id: Option<String>,
}

async fn state(pool: &PgPool, id: TouchId) -> State {
    sqlx::query_as!(
        State,
        "select status, status_reason, next_attempt_at, sent_at, provider_message_id
           from touches where id = $1",
        id.0
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The first column of each table row: the touch ids listed, in order.
fn listed_ids(text: &str) -> Vec<i64> {
    text.lines()
        .filter_map(|line| {
            line.trim_start_matches(['│', ' '])
                .split_whitespace()
                .next()
        })
        .filter_map(|cell| cell.parse().ok())
        .collect()
}

#[sqlx::test]
async fn list_shows_the_unknown_and_failed_touches_with_their_reasons(pool: PgPool) {
    let o = outbox(&pool).await;

    let out = touchbot(&pool, &["outbox", "list"]).await;

    assert_success(&out);
    let text = stdout(&out);
    assert_eq!(listed_ids(&text), [o.unknown.0, o.failed.0], "{text}");
    for expected in [
        "Acme",
        "Dana Bekova (whatsapp)",
        "checkin-1",
        "2026-03-02 10:00",
        "unknown",
        "failed",
        "cannot tell",
        "blocked",
        "touchbot outbox mark-sent ID",
        "touchbot outbox requeue ID",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
}

#[sqlx::test]
async fn list_filters_by_status_and_account_and_speaks_json(pool: PgPool) {
    let o = outbox(&pool).await;

    let all_planned = touchbot(&pool, &["outbox", "list", "--status", "planned"]).await;
    let acme_planned = touchbot(
        &pool,
        &[
            "outbox",
            "list",
            "--status",
            "planned",
            "--account",
            "acme",
            "--json",
        ],
    )
    .await;

    assert_success(&all_planned);
    assert_eq!(
        listed_ids(&stdout(&all_planned)),
        [o.other_planned.0, o.planned.0]
    );
    assert_success(&acme_planned);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&acme_planned)).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["id"], o.planned.0);
    assert_eq!(rows[0]["account"], "Acme");
    assert_eq!(rows[0]["recipient"], "Dana Bekova");
    assert_eq!(rows[0]["status"], "planned");
    assert_eq!(rows[0]["attempt"], 2);
    assert_eq!(rows[0]["last_error"], "temporary failure: timeout");
}

#[sqlx::test]
async fn an_empty_list_says_nothing_waits(pool: PgPool) {
    let out = touchbot(&pool, &["outbox", "list"]).await;

    assert_success(&out);
    assert_eq!(stdout(&out).trim(), "No unknown or failed touches.");
}

#[sqlx::test]
async fn list_for_an_account_that_does_not_exist_is_refused(pool: PgPool) {
    outbox(&pool).await;

    let out = touchbot(&pool, &["outbox", "list", "--account", "Initech"]).await;

    let message = assert_refused(&out);
    assert!(
        message.contains("no account matches 'Initech'"),
        "{message}"
    );
    assert!(message.contains("touchbot account list"), "{message}");
}

#[sqlx::test]
async fn requeue_puts_unknown_and_failed_touches_back_in_the_queue(pool: PgPool) {
    let o = outbox(&pool).await;

    let unknown = touchbot(&pool, &["outbox", "requeue", &o.unknown.to_string()]).await;
    let failed = touchbot(&pool, &["outbox", "requeue", &o.failed.to_string()]).await;

    for (out, id) in [(&unknown, o.unknown), (&failed, o.failed)] {
        assert_success(out);
        assert!(stdout(out).contains(&format!("Touch {id} is back in the queue")));
        let s = state(&pool, id).await;
        assert_eq!(s.status, "planned");
        assert_eq!(s.status_reason.as_deref(), Some("requeued by an operator"));
        assert!(s.next_attempt_at.is_some(), "due again at once");
    }
    let left = touchbot(&pool, &["outbox", "list"]).await;
    assert_eq!(
        stdout(&left).trim(),
        "No unknown or failed touches.",
        "nothing waits any more"
    );
}

#[sqlx::test]
async fn requeue_refuses_a_sent_or_planned_touch_and_says_why(pool: PgPool) {
    let o = outbox(&pool).await;

    let sent = touchbot(&pool, &["outbox", "requeue", &o.sent.to_string()]).await;
    let planned = touchbot(&pool, &["outbox", "requeue", &o.planned.to_string()]).await;

    let message = assert_refused(&sent);
    assert!(message.contains("is 'sent'"), "{message}");
    assert!(message.contains("already sent"), "{message}");
    assert!(
        message.contains("Only unknown or failed touches"),
        "{message}"
    );
    let message = assert_refused(&planned);
    assert!(message.contains("already waiting to be sent"), "{message}");
    assert_eq!(state(&pool, o.sent).await.status, "sent");
    assert_eq!(state(&pool, o.planned).await.status, "planned");
}

#[sqlx::test]
async fn requeue_of_a_touch_that_does_not_exist_points_to_the_list(pool: PgPool) {
    outbox(&pool).await;

    let out = touchbot(&pool, &["outbox", "requeue", "987654"]).await;

    let message = assert_refused(&out);
    assert!(message.contains("no touch matches '987654'"), "{message}");
    assert!(message.contains("touchbot outbox list"), "{message}");
}

#[sqlx::test]
async fn mark_sent_settles_an_unknown_touch_for_good(pool: PgPool) {
    let o = outbox(&pool).await;

    let out = touchbot(
        &pool,
        &[
            "outbox",
            "mark-sent",
            &o.unknown.to_string(),
            "--message-id",
            "wamid.HBgL",
        ],
    )
    .await;

    assert_success(&out);
    assert!(stdout(&out).contains("recorded as sent"));
    let s = state(&pool, o.unknown).await;
    assert_eq!(s.status, "sent");
    assert!(s.sent_at.is_some());
    assert_eq!(s.provider_message_id.as_deref(), Some("wamid.HBgL"));
    assert!(
        s.status_reason
            .unwrap()
            .contains("confirmed by an operator")
    );
    // Settled: it can neither be requeued nor confirmed a second time.
    let again = touchbot(&pool, &["outbox", "requeue", &o.unknown.to_string()]).await;
    assert!(assert_refused(&again).contains("already sent"));
}

#[sqlx::test]
async fn mark_sent_refuses_a_failed_touch_and_suggests_requeue(pool: PgPool) {
    let o = outbox(&pool).await;

    let out = touchbot(&pool, &["outbox", "mark-sent", &o.failed.to_string()]).await;

    let message = assert_refused(&out);
    assert!(message.contains("is 'failed'"), "{message}");
    assert!(
        message.contains(&format!("touchbot outbox requeue {}", o.failed)),
        "{message}"
    );
    assert!(message.contains("Only an unknown touch"), "{message}");
    assert_eq!(state(&pool, o.failed).await.status, "failed");
}

#[sqlx::test]
async fn mark_sent_of_a_touch_that_does_not_exist_is_refused(pool: PgPool) {
    let out = touchbot(&pool, &["outbox", "mark-sent", "42"]).await;

    let message = assert_refused(&out);
    assert!(message.contains("no touch matches '42'"), "{message}");
}
