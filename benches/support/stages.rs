//! The inbound bench's timeline: every 100 ms it counts how far each stage of the handling
//! has come (events stored and done, replies stored, reassessments done, scores written,
//! answers queued and sent), so the stage that runs slowest shows, not only the end to end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::PgPool;

/// The stages in the order a reply goes through them.
const STAGES: [&str; 7] = [
    "events stored",
    "events done",
    "replies stored",
    "reassessed",
    "scores written",
    "answers queued",
    "answers sent",
];

/// One sample: when, and each stage's count then.
type Sample = (Duration, [i64; 7]);

/// Counts each stage every 100 ms from now until `stop`; the samples.
pub fn sample(pool: PgPool, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<Sample>> {
    tokio::spawn(async move {
        let start = Instant::now();
        let mut samples = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            if let Ok(counts) = counts(&pool).await {
                samples.push((start.elapsed(), counts));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        samples
    })
}

async fn counts(pool: &PgPool) -> sqlx::Result<[i64; 7]> {
    let row: (i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from whatsapp_events where kind = 'message'),
                (select count(*) from whatsapp_events where kind = 'message' and done_at is not null),
                (select count(*) from replies),
                (select count(*) from inbound_followups where step = 'reassess' and done_at is not null),
                (select count(*) from health_scores where cause = 'reply'),
                (select count(*) from staff_posts where kind = 'answer'),
                (select count(*) from staff_posts where kind = 'answer' and status = 'sent')",
    )
    .fetch_one(pool)
    .await?;
    Ok([row.0, row.1, row.2, row.3, row.4, row.5, row.6])
}

/// Prints, for each stage, when it reached 10%, 50% and 100% of its final count, and its rate
/// between 10% and 90%: the slowest stage is the one to cut.
pub fn report(samples: &[Sample]) {
    let Some((_, last)) = samples.last() else {
        return;
    };
    println!("  stages (s from the first request: 10% / 50% / 100% reached; rate 10-90%):");
    for (n, stage) in STAGES.iter().enumerate() {
        let total = last[n];
        let at = |share: f64| {
            let want = (total as f64 * share).ceil() as i64;
            samples
                .iter()
                .find(|(_, c)| c[n] >= want)
                .map(|(t, _)| t.as_secs_f64())
        };
        let (Some(t10), Some(t50), Some(t90), Some(t100)) = (at(0.1), at(0.5), at(0.9), at(1.0))
        else {
            continue;
        };
        let rate = 0.8 * total as f64 / (t90 - t10).max(0.1);
        println!(
            "    {stage:<15} {total:>6}  {t10:>5.1} / {t50:>5.1} / {t100:>5.1}  {rate:>6.0}/s"
        );
    }
}
