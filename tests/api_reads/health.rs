//! `GET /api/v1/accounts/{id}/health`: the account's health as it was computed over time.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use touchbot::domain::AccountId;
use touchbot::inbound::{Judge, reassess};

use crate::world::{World, days_ago, param};

fn times(body: &Value) -> Vec<DateTime<Utc>> {
    body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["computed_at"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[sqlx::test]
async fn the_health_history_comes_newest_first_with_components_and_narrows_to_a_period(
    pool: PgPool,
) {
    let w = World::new(pool).await;
    let (acme, _) = w.client("Acme", "Alice", "dana").await;
    // A usage figure, as a product sends it: the account is scored at once (now).
    let usage = json!({"kind": "active_users", "value": 40, "occurred_at": days_ago(50)});
    let sent = w
        .api
        .post(&format!("/api/v1/accounts/{acme}/signals"), usage)
        .await;
    assert_eq!(sent.status.as_u16(), 200, "{sent:?}");
    // And the nightly job's scores of earlier nights.
    for days in [120, 40, 20, 10] {
        reassess(
            w.pool(),
            Judge::from(&w.settings),
            days_ago(days),
            "nightly",
            Some(AccountId(acme)),
        )
        .await
        .unwrap();
    }

    let path = format!("/api/v1/accounts/{acme}/health");
    let history = w.api.get(&path).await;
    assert_eq!(history.status.as_u16(), 200, "{history:?}");
    assert_eq!(history.body["account_id"], acme);
    let at = times(&history.body);
    assert_eq!(at.len(), 4, "the last 90 days by default: {}", history.body);
    assert!(at.windows(2).all(|p| p[0] > p[1]), "newest first: {at:?}");
    assert_eq!(at[1..], [days_ago(10), days_ago(20), days_ago(40)]);
    for p in history.body["points"].as_array().unwrap() {
        assert!(p["score"].is_u64(), "scored: {p}");
        assert!(["green", "yellow", "red"].contains(&p["category"].as_str().unwrap()));
        let components = p["components"].as_array().unwrap();
        assert!(
            !components.is_empty() && components[0]["explanation"].is_string(),
            "{p}"
        );
        assert!(p["summary"].is_string() && p["model"].is_string());
    }
    let causes: Vec<&str> = history.body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["cause"].as_str().unwrap())
        .collect();
    assert_eq!(causes[1..], ["nightly", "nightly", "nightly"]);

    let since = w
        .api
        .get(&format!("{path}?since={}", param(days_ago(25))))
        .await;
    assert_eq!(times(&since.body).len(), 3, "{since:?}");
    let between = format!(
        "{path}?since={}&until={}",
        param(days_ago(25)),
        param(days_ago(10))
    );
    assert_eq!(times(&w.api.get(&between).await.body), [days_ago(20)]);
    let by_dates = format!(
        "{path}?since={}&until={}",
        days_ago(45).date_naive(),
        days_ago(15).date_naive()
    );
    assert_eq!(
        times(&w.api.get(&by_dates).await.body),
        [days_ago(20), days_ago(40)]
    );
    let everything = w.api.get(&format!("{path}?since=2000-01-01")).await;
    assert_eq!(times(&everything.body).len(), 5);
}
