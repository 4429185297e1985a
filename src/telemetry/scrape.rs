//! The `/metrics` route: database facts read at scrape time, then the process's counters.

use std::fmt::Write as _;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use sqlx::PgPool;

pub const PATH: &str = "/metrics";

/// `/metrics`, without authentication: keep it on an internal network (see the README).
pub fn router(pool: PgPool) -> Router {
    Router::new().route(PATH, get(scrape)).with_state(pool)
}

#[tracing::instrument(skip(pool))]
async fn scrape(State(pool): State<PgPool>) -> Response {
    match render(&pool).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            // The scraper sees that the scrape failed; the reason is for the operator's log.
            tracing::warn!(error = format!("{e:#}"), "the metrics could not be read");
            (StatusCode::SERVICE_UNAVAILABLE, "metrics unavailable\n").into_response()
        }
    }
}

async fn render(pool: &PgPool) -> anyhow::Result<String> {
    let mut out = String::new();
    let touches = sqlx::query!(
        r#"select status as "status!", count(*) as "n!" from touches group by status order by 1"#
    )
    .fetch_all(pool)
    .await
    .context("counting touches by status")?;
    family(
        &mut out,
        "touchbot_touches",
        "gauge",
        "Touches by status",
        touches
            .iter()
            .map(|r| (format!("status=\"{}\"", r.status), r.n as f64)),
    );
    let replies = sqlx::query!(
        r#"select channel as "channel!", count(*) as "n!" from replies group by channel order by 1"#
    )
    .fetch_all(pool)
    .await
    .context("counting replies by channel")?;
    family(
        &mut out,
        "touchbot_replies_total",
        "counter",
        "Replies received from contacts, by channel",
        replies
            .iter()
            .map(|r| (format!("channel=\"{}\"", label(&r.channel)), r.n as f64)),
    );
    let open = sqlx::query!(
        r#"select coalesce(notified_level, 'none') as "level!", count(*) as "n!"
             from escalations where status <> 'resolved' group by 1 order by 1"#
    )
    .fetch_all(pool)
    .await
    .context("counting open escalations")?;
    family(
        &mut out,
        "touchbot_escalations_open",
        "gauge",
        "Escalations not resolved, by the highest level of the ladder told (none: not yet told)",
        open.iter()
            .map(|r| (format!("level=\"{}\"", r.level), r.n as f64)),
    );
    let lag = dispatcher_lag(pool).await?;
    family(
        &mut out,
        "touchbot_dispatcher_lag_seconds",
        "gauge",
        "Age of the oldest touch due and not yet claimed (0 when none waits)",
        std::iter::once((String::new(), lag)),
    );
    super::encode_counters(&mut out)?;
    Ok(out)
}

/// Seconds since the oldest claimable touch became due: what `claim_due` would take first.
async fn dispatcher_lag(pool: &PgPool) -> anyhow::Result<f64> {
    let now = Utc::now();
    let lag = sqlx::query_scalar!(
        r#"select coalesce(extract(epoch from $1 - min(greatest(due_at, next_attempt_at)))::float8, 0)
                  as "lag!"
             from touches
            where status = 'planned' and due_at <= $1
              and (next_attempt_at is null or next_attempt_at <= $1)
              and not exists (select from touch_holds(contact_id, category, $1))"#,
        now
    )
    .fetch_one(pool)
    .await
    .context("reading the dispatcher's lag")?;
    Ok(lag.max(0.0))
}

fn family(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    samples: impl Iterator<Item = (String, f64)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

/// A label value as the text format needs it.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
