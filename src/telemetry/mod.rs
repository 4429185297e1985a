//! Operational numbers for Prometheus, served at `/metrics` on `serve`'s listener.
//!
//! Two kinds: what happened in this process (sends and their outcomes, rate limits, HTTP
//! requests and their duration), counted in memory as it happens and reset by a restart as
//! Prometheus expects of counters; and facts of the database (touches by status, replies,
//! open escalations, the dispatcher's lag), read at scrape time with one query each, so every
//! instance reports the same and a restart loses nothing.
//!
//! (`crate::metrics` is something else: the CS team's figures shown by `touchbot status`.)

mod http;
mod scrape;

use std::sync::LazyLock;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

pub use http::{HttpLabels, track_requests};
pub use scrape::router;

use crate::channel::SendError;

/// The process's counters; one per process however many dispatchers and listeners run.
struct Counters {
    registry: Registry,
    sends: IntCounterVec,
    rate_limited: IntCounterVec,
    requests: IntCounterVec,
    duration: HistogramVec,
}

static COUNTERS: LazyLock<Counters> = LazyLock::new(|| {
    let registry = Registry::new();
    let sends = IntCounterVec::new(
        Opts::new(
            "touchbot_sends_total",
            "Messages handed to a channel (touches and staff posts), by channel and outcome",
        ),
        &["channel", "outcome"],
    )
    .expect("a valid metric");
    let rate_limited = IntCounterVec::new(
        Opts::new(
            "touchbot_rate_limited_total",
            "Sends a platform refused as too fast (HTTP 429 or its WhatsApp codes), by channel",
        ),
        &["channel"],
    )
    .expect("a valid metric");
    let requests = IntCounterVec::new(
        Opts::new(
            "touchbot_http_requests_total",
            "HTTP requests answered, by route and status code",
        ),
        &["route", "status"],
    )
    .expect("a valid metric");
    let duration = HistogramVec::new(
        HistogramOpts::new(
            "touchbot_http_request_duration_seconds",
            "Time to answer an HTTP request (the webhooks' handling latency), by route",
        )
        .buckets(vec![
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]),
        &["route"],
    )
    .expect("a valid metric");
    for m in [
        Box::new(sends.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(rate_limited.clone()),
        Box::new(requests.clone()),
        Box::new(duration.clone()),
    ] {
        registry
            .register(m)
            .expect("each metric is registered once");
    }
    Counters {
        registry,
        sends,
        rate_limited,
        requests,
        duration,
    }
});

/// Counts one answer of a channel to a send: `sent`, `rate_limited`, `transient`, `unknown`
/// or `refused`.
pub fn record_send<T>(channel: &str, result: &Result<T, SendError>) {
    let outcome = match result {
        Ok(_) => "sent",
        Err(SendError::RateLimited { .. }) => "rate_limited",
        Err(SendError::Transient(_)) => "transient",
        Err(SendError::Unknown(_)) => "unknown",
        Err(SendError::Permanent { .. }) => "refused",
    };
    COUNTERS.sends.with_label_values(&[channel, outcome]).inc();
    if outcome == "rate_limited" {
        COUNTERS.rate_limited.with_label_values(&[channel]).inc();
    }
}

fn record_request(route: &str, status: u16, seconds: f64) {
    COUNTERS
        .requests
        .with_label_values(&[route, &status.to_string()])
        .inc();
    COUNTERS
        .duration
        .with_label_values(&[route])
        .observe(seconds);
}

/// The in-process counters in the text format.
fn encode_counters(out: &mut String) -> anyhow::Result<()> {
    use prometheus::Encoder as _;
    let mut buf = Vec::new();
    prometheus::TextEncoder::new().encode(&COUNTERS.registry.gather(), &mut buf)?;
    out.push_str(&String::from_utf8(buf)?);
    Ok(())
}
