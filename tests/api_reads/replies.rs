//! `GET /api/v1/accounts/{id}/replies`: what the contacts answered, newest first.

use chrono::TimeDelta;
use sqlx::PgPool;
use touchbot::domain::ContactId;
use touchbot::storage::erasure::erase_contact;

use crate::world::{World, days_ago, ids, items, param};

#[sqlx::test]
async fn replies_show_score_comment_text_contact_channel_and_the_touch_answered(pool: PgPool) {
    let w = World::new(pool).await;
    let (acme, dana) = w.client("Acme", "Alice", "dana").await;
    let survey_at = days_ago(6);
    w.sent(acme, dana, "nps@90", "nps", survey_at - TimeDelta::hours(2))
        .await;
    w.says("dana", "8", survey_at).await;
    // Asked why, Dana explains: the reason goes with the score, not in a reply of its own.
    w.says(
        "dana",
        "the reports are great",
        survey_at + TimeDelta::hours(1),
    )
    .await;
    w.says(
        "dana",
        "by the way, who do I ask about invoices?",
        days_ago(2),
    )
    .await;

    let path = format!("/api/v1/accounts/{acme}/replies");
    let page = w.api.get(&path).await;
    assert_eq!(page.status.as_u16(), 200, "{page:?}");
    let got = items(&page.body);
    assert_eq!(got.len(), 2, "{}", page.body);
    assert_eq!(page.body["next_cursor"], serde_json::Value::Null);
    let (latest, nps) = (&got[0], &got[1]);
    assert_eq!(latest["kind"], "free_text");
    assert_eq!(latest["text"], "by the way, who do I ask about invoices?");
    assert_eq!(latest["touch"], serde_json::Value::Null);
    assert_eq!(nps["kind"], "nps");
    assert_eq!(nps["score"], 8);
    assert_eq!(nps["text"], "8");
    assert_eq!(nps["comment"], "the reports are great");
    assert_eq!(nps["contact_id"], dana);
    assert_eq!(nps["channel"], "simulated");
    assert_eq!(
        nps["received_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        survey_at
    );
    assert_eq!(
        (nps["touch"]["kind"].as_str(), nps["touch"]["key"].as_str()),
        (Some("nps"), Some("nps@90"))
    );
    assert_eq!(nps["contact_erased"], false);

    let recent = w
        .api
        .get(&format!("{path}?since={}", param(days_ago(3))))
        .await;
    assert_eq!(ids(items(&recent.body)), [latest["id"].as_i64().unwrap()]);
}

#[sqlx::test]
async fn walking_the_reply_pages_gives_each_reply_once_newest_first(pool: PgPool) {
    let w = World::new(pool).await;
    let (acme, _) = w.client("Acme", "Alice", "dana").await;
    let oleg = w
        .api
        .post(
            &format!("/api/v1/accounts/{acme}/contacts"),
            serde_json::json!({"name": "Oleg", "role": "user", "channel": "simulated", "address": "oleg"}),
        )
        .await;
    assert_eq!(oleg.status.as_u16(), 201, "{oleg:?}");
    for day in (1..=6).rev() {
        w.says("dana", &format!("note {day} from dana"), days_ago(day * 2))
            .await;
    }
    // Two at the very same instant: the page boundary must not lose or repeat either.
    w.says("oleg", "same instant", days_ago(4)).await;
    let path = format!("/api/v1/accounts/{acme}/replies");
    let (all, pages) = w.walk(&path, 200).await;
    assert_eq!((all.len(), pages), (7, 1));
    let at: Vec<&str> = all
        .iter()
        .map(|r| r["received_at"].as_str().unwrap())
        .collect();
    assert!(at.windows(2).all(|p| p[0] >= p[1]), "newest first: {at:?}");
    for limit in [1, 2, 3] {
        let (paged, pages) = w.walk(&path, limit).await;
        assert_eq!(ids(&paged), ids(&all), "limit {limit}: each once, in order");
        assert_eq!(pages, all.len().div_ceil(limit));
    }
    let (recent, _) = w
        .walk(&format!("{path}?since={}", param(days_ago(5))), 1)
        .await;
    assert_eq!(recent.len(), 3, "days 2 and 4, and Oleg's");
}

#[sqlx::test]
async fn an_erased_contacts_replies_keep_their_score_but_show_no_text(pool: PgPool) {
    let w = World::new(pool).await;
    let (acme, dana) = w.client("Acme", "Alice", "dana").await;
    w.sent(acme, dana, "nps@90", "nps", days_ago(3)).await;
    w.says(
        "dana",
        "4 the invoices are a mess",
        days_ago(3) + TimeDelta::hours(1),
    )
    .await;
    w.says("dana", "call me on my cell", days_ago(1)).await;
    let report = erase_contact(w.pool(), ContactId(dana)).await.unwrap();
    assert!(!report.already_erased);

    let page = w.api.get(&format!("/api/v1/accounts/{acme}/replies")).await;
    assert_eq!(page.status.as_u16(), 200, "{page:?}");
    let got = items(&page.body);
    assert_eq!(got.len(), 2, "the answers stay: {}", page.body);
    for r in got {
        assert_eq!(r["text"], serde_json::Value::Null, "{r}");
        assert_eq!(r["comment"], serde_json::Value::Null, "{r}");
        assert_eq!(r["contact_erased"], true);
        assert_eq!(r["contact_id"], dana);
    }
    assert_eq!(got[1]["score"], 4, "the score still counts");
    let text = page.body.to_string();
    assert!(
        !text.contains("invoices") && !text.contains("cell"),
        "{text}"
    );
}
