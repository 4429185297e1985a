//! `GET /api/v1/portfolio`, `/metrics/team` and `/metrics/csm/{staff}`: the figures of
//! `touchbot status`, as JSON.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::cli::touchbot_ok;
use crate::world::{World, days_ago, param};

/// Acme (Alice's) answered 3 twelve days ago, Birch (Bob's) 9 five days ago, Cobalt (Alice's)
/// 10 two days ago.
async fn three_answers(w: &World) {
    w.answered_nps("Acme", "Alice", 3, days_ago(12)).await;
    w.answered_nps("Birch", "Bob", 9, days_ago(5)).await;
    w.answered_nps("Cobalt", "Alice", 10, days_ago(2)).await;
}

fn names(rows: &Value) -> Vec<&str> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect()
}

#[sqlx::test]
async fn the_portfolio_is_what_touchbot_status_shows(pool: PgPool) {
    let w = World::new(pool).await;
    three_answers(&w).await;

    let api = w.api.get("/api/v1/portfolio").await;
    assert_eq!(api.status.as_u16(), 200, "{api:?}");
    let p = &api.body;
    assert_eq!(p["csm"], Value::Null);
    assert_eq!(names(&p["accounts"]), ["Acme", "Birch", "Cobalt"]);
    assert_eq!(
        (&p["total_accounts"], &p["order"]),
        (&json!(3), &json!("attention"))
    );
    assert_eq!(names(&p["by_csm"]), ["Alice", "Bob"]);
    assert_eq!(p["metrics"]["accounts"], 3);
    assert_eq!(p["metrics"]["nps"]["answers"], 3);
    assert_eq!(p["metrics"]["nps"]["promoters"], 2);
    assert!(p["accounts"][0]["health"]["components"].is_array());

    let cli: Value = serde_json::from_str(&touchbot_ok(w.pool(), &["status", "--json"])).unwrap();
    for part in [
        "nps",
        "health",
        "response",
        "escalations",
        "renewals",
        "retention",
    ] {
        assert_eq!(p["metrics"][part], cli["metrics"][part], "{part}");
    }
    assert_eq!(
        p["by_csm"].as_array().unwrap().len(),
        cli["by_csm"].as_array().unwrap().len()
    );
    assert_eq!(p["accounts"][1]["last_nps"], cli["accounts"][1]["last_nps"]);
}

#[sqlx::test]
async fn the_team_metrics_narrow_to_the_period_asked(pool: PgPool) {
    let w = World::new(pool).await;
    three_answers(&w).await;

    let all = w.api.get("/api/v1/metrics/team").await;
    assert_eq!(all.status.as_u16(), 200, "{all:?}");
    let m = &all.body["metrics"];
    assert_eq!(
        (m["nps"]["answers"].as_i64(), m["nps_days"].as_i64()),
        (Some(3), Some(90))
    );
    assert_eq!(m["scope"]["kind"], "portfolio");
    assert_eq!(names(&all.body["by_csm"]), ["Alice", "Bob"]);

    let week = w
        .api
        .get(&format!("/api/v1/metrics/team?from={}", param(days_ago(7))))
        .await;
    let m = &week.body["metrics"];
    assert_eq!(
        (m["nps"]["answers"].as_i64(), m["nps_days"].as_i64()),
        (Some(2), Some(7))
    );
    assert_eq!(m["nps"]["detractors"], 0, "Acme's 3 is older than the week");

    let then = format!(
        "/api/v1/metrics/team?from={}&to={}",
        param(days_ago(20)),
        param(days_ago(10))
    );
    let then = w.api.get(&then).await;
    let m = &then.body["metrics"];
    assert_eq!(
        (
            m["nps"]["answers"].as_i64(),
            m["nps"]["detractors"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        m["at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        days_ago(10)
    );

    let by_date = format!("/api/v1/metrics/team?from={}", days_ago(3).date_naive());
    assert_eq!(
        w.api.get(&by_date).await.body["metrics"]["nps"]["answers"],
        1
    );
}

#[sqlx::test]
async fn one_csms_metrics_cover_the_accounts_they_own(pool: PgPool) {
    let w = World::new(pool).await;
    three_answers(&w).await;

    let alice = w.api.get("/api/v1/metrics/csm/alice").await;
    assert_eq!(alice.status.as_u16(), 200, "{alice:?}");
    assert_eq!(alice.body["name"], "Alice");
    assert_eq!(alice.body["staff_id"], w.alice.0);
    let m = &alice.body["metrics"];
    assert_eq!(
        (m["accounts"].as_i64(), m["nps"]["answers"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(m["scope"]["staff_id"], w.alice.0);

    let bob = w.api.get(&format!("/api/v1/metrics/csm/{}", w.bob.0)).await;
    assert_eq!(bob.body["name"], "Bob");
    assert_eq!(bob.body["metrics"]["accounts"], 1);
    let recent = w
        .api
        .get(&format!(
            "/api/v1/metrics/csm/alice?from={}",
            param(days_ago(7))
        ))
        .await;
    assert_eq!(recent.body["metrics"]["nps"]["answers"], 1);

    let team = w.api.get("/api/v1/metrics/team").await;
    let row = team.body["by_csm"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Alice")
        .unwrap()
        .clone();
    assert_eq!(
        row["metrics"]["nps"], alice.body["metrics"]["nps"],
        "the same figures as the team's row"
    );
}
