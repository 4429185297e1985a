//! Sends the deliveries of outgoing events: claimed under a lease like touches (a worker that
//! died lets them go when the lease runs out), retried with the outbox's backoff, given up
//! after the dispatcher's `max_attempts`. A receiver may see an event twice after a crash
//! between its answer and the record of it; it dedupes on the event id.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::watch;

use super::signature;
use crate::delivery::policy::backoff_at;
use crate::outbound::dispatcher::DispatcherConfig;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One delivery to make: the exact body is signed and sent.
struct Due {
    id: i64,
    attempt: i32,
    tries: i32,
    event_id: i64,
    kind: String,
    url: String,
    secret: String,
    body: String,
}

/// What the receiver's answer means for the delivery.
enum Outcome {
    Delivered(u16),
    Refused(Option<u16>, String),
}

/// Sends due deliveries until `shutdown`, polling every `poll_interval_seconds`.
#[tracing::instrument(skip_all, fields(worker = worker_id))]
pub async fn run(
    pool: PgPool,
    config: DispatcherConfig,
    worker_id: String,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let client = client()?;
    let poll = Duration::from_secs(config.poll_interval_seconds.max(1));
    while !*shutdown.borrow() {
        let sent = match pass(&pool, &client, &config, &worker_id, Utc::now()).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "webhook deliveries could not be sent"
                );
                0
            }
        };
        if sent == 0 {
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
    Ok(())
}

pub fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("touchbot/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client for webhooks")
}

/// Claims the deliveries due at `now`, posts each, records each answer. Returns how many
/// were tried.
pub async fn pass(
    pool: &PgPool,
    client: &reqwest::Client,
    config: &DispatcherConfig,
    worker_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let due = claim(pool, config, worker_id, now).await?;
    let n = due.len();
    for d in due {
        let outcome = post(client, &d).await;
        record(pool, config, &d, outcome, now)
            .await
            .with_context(|| format!("recording webhook delivery {}", d.id))?;
    }
    Ok(n)
}

async fn claim(
    pool: &PgPool,
    config: &DispatcherConfig,
    worker_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Due>> {
    let rows = sqlx::query!(
        r#"with due as (
               select id from webhook_deliveries
                where (status = 'planned' and next_attempt_at <= $1)
                   or (status = 'claimed' and lease_until < now())
                order by next_attempt_at, id limit $2
                for update skip locked)
           update webhook_deliveries d
              set status = 'claimed', attempt = d.attempt + 1, lease_owner = $3,
                  lease_until = now() + make_interval(secs => $4), updated_at = now()
             from due, outgoing_events e, webhook_subscriptions s
            where d.id = due.id and e.id = d.event_id and s.id = d.subscription_id
        returning d.id, d.attempt, d.tries, e.id as event_id, e.kind, e.payload,
                  e.occurred_at, s.url, s.secret"#,
        now,
        config.batch_size,
        worker_id,
        config.lease_seconds as f64
    )
    .fetch_all(pool)
    .await
    .context("claiming due webhook deliveries")?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let body = serde_json::json!({
                "id": r.event_id,
                "type": r.kind,
                "occurred_at": r.occurred_at,
                "data": r.payload,
            });
            Due {
                id: r.id,
                attempt: r.attempt,
                tries: r.tries,
                event_id: r.event_id,
                kind: r.kind,
                url: r.url,
                secret: r.secret,
                body: body.to_string(),
            }
        })
        .collect())
}

#[tracing::instrument(skip_all, fields(delivery = d.id, event = d.event_id))]
async fn post(client: &reqwest::Client, d: &Due) -> Outcome {
    let answer = client
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            super::SIGNATURE_HEADER,
            signature(&d.secret, d.body.as_bytes()),
        )
        .header("X-Touchbot-Event", &d.kind)
        .header("X-Touchbot-Event-Id", d.event_id.to_string())
        .body(d.body.clone())
        .send()
        .await;
    match answer {
        Ok(r) if r.status().is_success() => Outcome::Delivered(r.status().as_u16()),
        Ok(r) => Outcome::Refused(
            Some(r.status().as_u16()),
            format!("the receiver answered {}", r.status()),
        ),
        // The URL stays out of the message: it may carry a token of the receiver's.
        Err(e) if e.is_timeout() => {
            Outcome::Refused(None, "the receiver did not answer in time".into())
        }
        Err(e) if e.is_connect() => {
            Outcome::Refused(None, "the receiver could not be reached".into())
        }
        Err(_) => Outcome::Refused(None, "the request to the receiver failed".into()),
    }
}

/// Fenced by `attempt`: a worker whose lease was taken over records nothing.
async fn record(
    pool: &PgPool,
    config: &DispatcherConfig,
    d: &Due,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    match outcome {
        Outcome::Delivered(status) => {
            sqlx::query!(
                "update webhook_deliveries
                    set status = 'delivered', tries = tries + 1, last_status = $3,
                        last_error = null, delivered_at = now(), lease_owner = null,
                        lease_until = null, updated_at = now()
                  where id = $1 and attempt = $2 and status = 'claimed'",
                d.id,
                d.attempt,
                i32::from(status)
            )
            .execute(pool)
            .await?;
        }
        Outcome::Refused(status, error) => {
            let tries = d.tries + 1;
            let give_up = tries >= config.max_attempts;
            tracing::warn!(
                delivery = d.id,
                tries,
                give_up,
                error,
                "a webhook delivery failed"
            );
            sqlx::query!(
                "update webhook_deliveries
                    set status = case when $5 then 'failed' else 'planned' end, tries = $3,
                        last_status = $4, last_error = $6, next_attempt_at = $7,
                        lease_owner = null, lease_until = null, updated_at = now()
                  where id = $1 and attempt = $2 and status = 'claimed'",
                d.id,
                d.attempt,
                tries,
                status.map(i32::from),
                give_up,
                error,
                backoff_at(config, tries, now)
            )
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}
