//! Outgoing event webhooks: integrators subscribe a URL to kinds of events (an NPS answer, an
//! escalation opened or resolved, a contact unreachable, an account's health category
//! changing) and receive each as a signed JSON POST.
//!
//! Events are written by database triggers on the row that caused them (migration 0016), in
//! the same transaction, with one delivery row per interested subscription; `worker` sends
//! the deliveries with the outbox's lease and backoff rules.

pub mod worker;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use rand::Rng as _;
use serde::Serialize;
use sha2::Sha256;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::domain::DeliveryStatus;
use crate::storage::StoreError;

/// The kinds of events a subscription can ask for, as stored and as sent in `type`.
pub const EVENT_KINDS: &[&str] = &[
    "nps_answer",
    "escalation_opened",
    "escalation_resolved",
    "contact_unreachable",
    "health_category_changed",
];

/// The header carrying `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Touchbot-Signature";

/// A subscription as listed: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Subscription {
    pub id: i64,
    pub url: String,
    /// The event kinds sent to it.
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// A new subscription and its secret, which is shown this once.
pub struct Created {
    pub subscription: Subscription,
    pub secret: String,
}

/// `sha256=<hex>` for `body` under `secret`: what the receiver recomputes and compares.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The event kinds asked for, each once; comma-separated lists are split. An unknown or
/// missing kind is the `events` field's problem, listing the known ones.
pub fn parse_events(events: &[String]) -> Result<Vec<String>, StoreError> {
    let mut out: Vec<String> = Vec::new();
    for e in events.iter().flat_map(|e| e.split(',')).map(str::trim) {
        if e.is_empty() {
            continue;
        }
        if !EVENT_KINDS.contains(&e) {
            return Err(StoreError::field(
                "events",
                format!(
                    "'{e}' is not an event kind; choose from {}",
                    EVENT_KINDS.join(", ")
                ),
            ));
        }
        if !out.iter().any(|o| o == e) {
            out.push(e.to_string());
        }
    }
    if out.is_empty() {
        return Err(StoreError::field(
            "events",
            format!(
                "name at least one event to send, from {}",
                EVENT_KINDS.join(", ")
            ),
        ));
    }
    Ok(out)
}

/// The receiver's address, which must be a full http(s) URL.
pub fn parse_url(raw: &str) -> Result<String, StoreError> {
    let url = url::Url::parse(raw.trim()).map_err(|e| {
        StoreError::field(
            "url",
            format!(
                "'{raw}' is not an address ({e}); give the full https:// address to post events to"
            ),
        )
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(StoreError::field(
            "url",
            format!("'{raw}' must be an https:// (or http://) address"),
        ));
    }
    Ok(url.to_string())
}

/// Subscribes `url` to `events` (comma-separated lists are split); returns its secret once.
pub async fn add(pool: &PgPool, url: &str, events: &[String]) -> Result<Created, StoreError> {
    let url = parse_url(url)?;
    let events = parse_events(events)?;
    let secret = format!("whsec_{}", hex::encode(rand::rng().random::<[u8; 24]>()));
    let row = sqlx::query!(
        "insert into webhook_subscriptions (url, events, secret) values ($1, $2, $3)
         returning id, created_at",
        url,
        &events,
        secret
    )
    .fetch_one(pool)
    .await?;
    Ok(Created {
        subscription: Subscription {
            id: row.id,
            url,
            events,
            created_at: row.created_at,
        },
        secret,
    })
}

pub async fn list(pool: &PgPool) -> Result<Vec<Subscription>, StoreError> {
    Ok(sqlx::query_as!(
        Subscription,
        "select id, url, events, created_at from webhook_subscriptions
          where removed_at is null order by id"
    )
    .fetch_all(pool)
    .await?)
}

/// Stops a subscription: deliveries not yet made are cancelled; the log stays.
pub async fn remove(pool: &PgPool, id: i64) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query!(
        "update webhook_subscriptions set removed_at = now() where id = $1 and removed_at is null",
        id
    )
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: "webhook",
            name: id.to_string(),
            hint: "'touchbot webhook list' shows the webhooks and their ids",
        });
    }
    let cancelled = sqlx::query!(
        "update webhook_deliveries set status = 'cancelled', updated_at = now()
          where subscription_id = $1 and status = 'planned'",
        id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(cancelled.rows_affected())
}

/// True when a subscription with this id was ever made (a removed one keeps its log).
pub async fn known(pool: &PgPool, id: i64) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"select exists (select 1 from webhook_subscriptions where id = $1) as "known!""#,
        id
    )
    .fetch_one(pool)
    .await?)
}

/// One line of the delivery log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub event_id: i64,
    /// The event's kind, as in `events`.
    pub kind: String,
    pub subscription_id: i64,
    /// planned, claimed, delivered, failed or cancelled.
    pub status: String,
    pub tries: i32,
    /// The receiver's HTTP status on the last try; absent when it could not be reached.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Which deliveries to read: `None` is no restriction; `before` is a delivery id (the pages
/// run newest first).
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub subscription: Option<i64>,
    pub status: Option<DeliveryStatus>,
    pub before: Option<i64>,
}

/// The newest `limit` deliveries matching `filter`, newest first.
pub async fn deliveries(
    pool: &PgPool,
    filter: &DeliveryFilter,
    limit: i64,
) -> Result<Vec<Delivery>, StoreError> {
    Ok(sqlx::query_as!(
        Delivery,
        "select d.id, d.event_id, e.kind, d.subscription_id, d.status, d.tries, d.last_status,
                d.last_error, d.next_attempt_at, d.delivered_at
           from webhook_deliveries d join outgoing_events e on e.id = d.event_id
          where ($1::int8 is null or d.subscription_id = $1)
            and ($2::text is null or d.status = $2)
            and ($3::int8 is null or d.id < $3)
          order by d.id desc limit $4",
        filter.subscription,
        filter.status.map(DeliveryStatus::as_str),
        filter.before,
        limit
    )
    .fetch_all(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_event_kind_is_refused_with_the_known_ones() {
        let e = parse_events(&["nps_answer,nps".into()]).unwrap_err();
        assert!(e.to_string().contains("escalation_opened"), "{e}");
        assert_eq!(
            parse_events(&["nps_answer, escalation_opened".into(), "nps_answer".into()]).unwrap(),
            vec!["nps_answer", "escalation_opened"]
        );
    }

    #[test]
    fn a_signature_is_the_hex_hmac_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn an_address_without_a_scheme_is_refused() {
        assert!(parse_url("crm.example.com/hook").is_err());
        assert!(parse_url("ftp://crm.example.com/").is_err());
    }
}
