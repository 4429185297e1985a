//! Sends the deliveries of outgoing events on the delivery engine: claimed under a lease like
//! touches (a claim whose lease ran out is simply claimed again, so a worker that died lets its
//! deliveries go), retried with the outbox's backoff, given up after the dispatcher's
//! `max_attempts`. There is no `sending` state: a receiver may see an event twice after a
//! crash between its answer and the record of it; it dedupes on the event id.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

use super::signature;
use crate::channel::Delivered;
use crate::delivery::policy::{AfterSend, backoff_at};
use crate::delivery::queue::{
    self, Handed, Lease, MarkRows, Plan, Queue, SettleRows, Table, seconds,
};
use crate::delivery::{Worker, worker};
use crate::domain::WebhookDeliveryId;
use crate::outbound::dispatcher::DispatcherConfig;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The `webhook_deliveries` table.
pub struct DeliveryTable;

/// One delivery to make: the exact body is signed and sent.
#[derive(Debug, Clone)]
pub struct Due {
    id: WebhookDeliveryId,
    event_id: i64,
    kind: String,
    url: String,
    secret: String,
    body: String,
}

/// What sends webhook deliveries: the HTTP client and the retry rules.
pub struct Webhooks<'a> {
    pub client: &'a reqwest::Client,
    pub config: &'a DispatcherConfig,
}

/// Sends due deliveries until `shutdown`, polling every `poll_interval_seconds`.
#[tracing::instrument(skip_all, fields(worker = worker_id))]
pub async fn run(
    pool: PgPool,
    config: DispatcherConfig,
    worker_id: String,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let client = client()?;
    let webhooks = Webhooks {
        client: &client,
        config: &config,
    };
    worker::run(&webhooks, &pool, &config, &worker_id, shutdown).await;
    Ok(())
}

pub fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("touchbot/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client for webhooks")
}

/// Claims one batch of deliveries due at `now`, posts each, records each answer. Returns how
/// many were tried.
pub async fn pass(
    pool: &PgPool,
    client: &reqwest::Client,
    config: &DispatcherConfig,
    worker_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let webhooks = Webhooks { client, config };
    let report = Worker::at(&webhooks, pool, config, now)
        .deliver_batch(worker_id, now)
        .await?;
    Ok(report.claimed)
}

impl Queue for Webhooks<'_> {
    type Table = DeliveryTable;
    type Message = Due;
    type FollowUp = ();

    fn prepare(
        &self,
        row: &Due,
        _lease: Lease<WebhookDeliveryId>,
        _now: DateTime<Utc>,
    ) -> Plan<Due, ()> {
        Plan::Send(row.clone())
    }

    async fn send(&self, d: &Due, tries: i32, now: DateTime<Utc>) -> Handed {
        let (code, error) = match post(self.client, d).await {
            Ok(status) => {
                let delivered = Delivered {
                    provider_message_id: String::new(),
                };
                let after = AfterSend::Sent(delivered);
                return Handed {
                    after,
                    code: Some(status),
                };
            }
            Err(refused) => refused,
        };
        let give_up = tries >= self.config.max_attempts;
        tracing::warn!(delivery = %d.id, tries, give_up, error, "a webhook delivery failed");
        let after = if give_up {
            AfterSend::Fail {
                reason: error,
                refused: None,
            }
        } else {
            AfterSend::Retry {
                at: backoff_at(self.config, tries, now),
                error,
                counts: true,
            }
        };
        Handed { after, code }
    }
}

/// Posts the signed event: the receiver's status when it took it, else that status (if it
/// answered at all) and what went wrong.
#[tracing::instrument(skip_all, fields(delivery = %d.id, event = d.event_id))]
async fn post(client: &reqwest::Client, d: &Due) -> Result<i32, (Option<i32>, String)> {
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
        Ok(r) if r.status().is_success() => Ok(i32::from(r.status().as_u16())),
        Ok(r) => Err((
            Some(i32::from(r.status().as_u16())),
            format!("the receiver answered {}", r.status()),
        )),
        // The URL stays out of the message: it may carry a token of the receiver's.
        Err(e) if e.is_timeout() => Err((None, "the receiver did not answer in time".into())),
        Err(e) if e.is_connect() => Err((None, "the receiver could not be reached".into())),
        Err(_) => Err((None, "the request to the receiver failed".into())),
    }
}

impl Table for DeliveryTable {
    type Id = WebhookDeliveryId;
    type Row = Due;
    const NOTIFY: Option<&'static str> = None;

    /// A delivery whose claim ran out is claimed again: there is no `sending` to protect.
    async fn claim_due(
        db: &PgPool,
        worker: &str,
        now: DateTime<Utc>,
        lease: TimeDelta,
        n: i64,
    ) -> Result<Vec<Lease<WebhookDeliveryId>>, sqlx::Error> {
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
                 from due
                where d.id = due.id
            returning d.id, d.attempt"#,
            now,
            n,
            worker,
            seconds(lease)
        )
        .fetch_all(db)
        .await?;
        Ok(queue::leases(
            rows.into_iter()
                .map(|r| (WebhookDeliveryId(r.id), r.attempt)),
        ))
    }

    async fn load(db: &PgPool, ids: &[i64]) -> Result<Vec<(WebhookDeliveryId, Due)>, sqlx::Error> {
        let rows = sqlx::query!(
            r#"select d.id as "id!", e.id as "event_id!", e.kind as "kind!",
                      e.payload as "payload!", e.occurred_at as "occurred_at!",
                      s.url as "url!", s.secret as "secret!"
                 from webhook_deliveries d
                 join outgoing_events e on e.id = d.event_id
                 join webhook_subscriptions s on s.id = d.subscription_id
                where d.id = any($1)"#,
            ids
        )
        .fetch_all(db)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let body = serde_json::json!({
                    "id": r.event_id,
                    "type": r.kind,
                    "occurred_at": r.occurred_at,
                    "data": r.payload,
                });
                let id = WebhookDeliveryId(r.id);
                let due = Due {
                    id,
                    event_id: r.event_id,
                    kind: r.kind,
                    url: r.url,
                    secret: r.secret,
                    body: body.to_string(),
                };
                (id, due)
            })
            .collect())
    }

    /// Counts the try and renews the lease; the row stays `claimed`.
    async fn mark_sending(
        db: &mut PgConnection,
        marks: &MarkRows,
        lease_for: TimeDelta,
    ) -> Result<Vec<(i64, i32)>, sqlx::Error> {
        let rows = sqlx::query!(
            "update webhook_deliveries d
                set tries = d.tries + 1, lease_until = now() + make_interval(secs => $3),
                    updated_at = now()
               from unnest($1::int8[], $2::int4[]) as v(id, attempt)
              where d.id = v.id and d.attempt = v.attempt and d.status = 'claimed'
                and d.lease_until > now()
              returning d.id, d.tries",
            &marks.ids,
            &marks.attempts,
            seconds(lease_for),
        )
        .fetch_all(db)
        .await?;
        Ok(rows.into_iter().map(|r| (r.id, r.tries)).collect())
    }

    /// Fenced by `attempt`: a worker whose claim was taken over records nothing.
    async fn settle(db: &mut PgConnection, rows: &SettleRows) -> Result<Vec<i64>, sqlx::Error> {
        sqlx::query_scalar!(
            r#"
            update webhook_deliveries d
               set status = case v.kind when 'sent' then 'delivered' when 'fail' then 'failed'
                                        else 'planned' end,
                   last_status = case when v.kind = 'release' then d.last_status else v.code end,
                   last_error = case when v.kind = 'release' then d.last_error else v.text end,
                   next_attempt_at = coalesce(v.at, d.next_attempt_at),
                   delivered_at = case when v.kind = 'sent' then now() else d.delivered_at end,
                   lease_owner = null, lease_until = null, updated_at = now()
              from unnest($1::int8[], $2::int4[], $3::text[], $4::text[], $5::timestamptz[],
                          $6::int4[])
                   as v(id, attempt, kind, text, at, code)
             where d.id = v.id and d.attempt = v.attempt and d.status = 'claimed'
               and v.kind in ('release', 'sent', 'retry', 'fail')
            returning d.id
            "#,
            &rows.ids,
            &rows.attempts,
            &rows.kinds,
            &delivered_texts(rows) as &[Option<String>],
            &rows.ats as &[Option<DateTime<Utc>>],
            &rows.codes as &[Option<i32>],
        )
        .fetch_all(db)
        .await
    }

    async fn release_claims_of(
        db: &PgPool,
        worker: &str,
        _now: DateTime<Utc>,
    ) -> Result<u64, sqlx::Error> {
        let done = sqlx::query!(
            "update webhook_deliveries
                set status = 'planned', lease_owner = null, lease_until = null, updated_at = now()
              where status = 'claimed' and lease_owner = $1",
            worker,
        )
        .execute(db)
        .await?;
        Ok(done.rows_affected())
    }

    async fn next_due_at(
        db: &PgPool,
        _now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        sqlx::query_scalar!(
            "select min(case when status = 'planned' then next_attempt_at else lease_until end)
               from webhook_deliveries where status in ('planned', 'claimed')"
        )
        .fetch_one(db)
        .await
    }
}

/// The error each row keeps: a delivered one keeps none (the engine's text there is the
/// provider's id, which a webhook does not have).
fn delivered_texts(rows: &SettleRows) -> Vec<Option<String>> {
    rows.kinds
        .iter()
        .zip(&rows.texts)
        .map(|(kind, text)| if kind == "sent" { None } else { text.clone() })
        .collect()
}
