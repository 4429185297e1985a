//! `GET /api/v1/escalations` and `/escalations/{id}`: filters, pages and history.

use serde_json::Value;
use sqlx::PgPool;
use touchbot::escalation::Outcome;
use touchbot::escalation::actions::Action;

use crate::world::{World, days_ago, ids, items, now, param};

/// Three detractors: Acme (Alice's, 12 days old, climbed to the manager), Birch (Bob's, taken
/// by Bob) and Cobalt (Alice's, resolved as saved). Returns their detractor escalations.
async fn three_detractors(w: &World) -> (i64, i64, i64) {
    let acme = w.answered_nps("Acme", "Alice", 3, days_ago(12)).await;
    let birch = w.answered_nps("Birch", "Bob", 2, days_ago(5)).await;
    let cobalt = w.answered_nps("Cobalt", "Alice", 1, days_ago(3)).await;
    let (a, b, c) = (
        w.detractor_escalation(acme).await,
        w.detractor_escalation(birch).await,
        w.detractor_escalation(cobalt).await,
    );
    w.acts(b, Action::Take, w.bob, days_ago(4)).await;
    w.acts(c, Action::Resolve(Outcome::Saved), w.alice, days_ago(2))
        .await;
    w.tick(now()).await;
    (a, b, c)
}

/// The ids a filtered list gives, after checking that they are exactly those of `all` that
/// `keep` accepts, and fewer than all of them.
async fn filtered(
    w: &World,
    query: &str,
    all: &[Value],
    keep: impl Fn(&Value) -> bool,
) -> Vec<i64> {
    let (got, _) = w.walk(&format!("/api/v1/escalations?{query}"), 200).await;
    let expected: Vec<i64> = all
        .iter()
        .filter(|e| keep(e))
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids(&got), expected, "{query}");
    assert!(
        !expected.is_empty() && expected.len() < all.len(),
        "{query} narrows: {expected:?}"
    );
    expected
}

#[sqlx::test]
async fn every_escalation_filter_narrows_the_list_to_exactly_the_matching_ones(pool: PgPool) {
    let w = World::new(pool).await;
    let (acme, birch, cobalt) = three_detractors(&w).await;
    let (all, _) = w.walk("/api/v1/escalations", 200).await;
    let all_ids = ids(&all);
    assert!(
        all_ids.windows(2).all(|p| p[0] < p[1]),
        "in id order: {all_ids:?}"
    );
    assert!([acme, birch, cobalt].iter().all(|e| all_ids.contains(e)));

    let open = filtered(&w, "status=open", &all, |e| e["status"] == "open").await;
    assert!(open.contains(&acme) && !open.contains(&birch) && !open.contains(&cobalt));
    let taken = filtered(&w, "status=acknowledged", &all, |e| {
        e["status"] == "acknowledged"
    })
    .await;
    assert_eq!(taken, [birch]);
    let resolved = filtered(&w, "status=Resolved", &all, |e| e["status"] == "resolved").await;
    assert_eq!(resolved, [cobalt]);

    let climbed = filtered(&w, "level=manager", &all, |e| {
        e["notified_level"] == "manager"
    })
    .await;
    assert!(climbed.contains(&acme) && !climbed.contains(&birch));
    let account = all.iter().find(|e| e["id"] == birch).unwrap()["account_id"].clone();
    let of_birch = filtered(&w, &format!("account={account}"), &all, |e| {
        e["account_id"] == account
    })
    .await;
    assert!(of_birch.contains(&birch));

    let bobs = filtered(&w, "csm=bob", &all, |e| e["owner_name"] == "Bob").await;
    assert!(bobs.contains(&birch) && !bobs.contains(&acme));
    let alices = filtered(&w, &format!("csm={}", w.alice.0), &all, |e| {
        e["owner_name"] == "Alice"
    })
    .await;
    assert!(alices.contains(&acme) && alices.contains(&cobalt));

    let cut = days_ago(8);
    let opened = |e: &Value| {
        e["opened_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    };
    let later = filtered(&w, &format!("opened_after={}", param(cut)), &all, |e| {
        opened(e) >= cut
    })
    .await;
    assert!(later.contains(&birch) && later.contains(&cobalt) && !later.contains(&acme));
    let earlier = filtered(&w, &format!("opened_before={}", param(cut)), &all, |e| {
        opened(e) < cut
    })
    .await;
    assert!(earlier.contains(&acme));
    let by_date = cut.date_naive().succ_opt().unwrap();
    filtered(&w, &format!("opened_after={by_date}"), &all, |e| {
        opened(e).date_naive() >= by_date
    })
    .await;

    let both = filtered(&w, "status=open&csm=alice", &all, |e| {
        e["status"] == "open" && e["owner_name"] == "Alice"
    })
    .await;
    assert!(both.contains(&acme) && !both.contains(&cobalt));
}

#[sqlx::test]
async fn walking_the_escalation_pages_gives_each_escalation_once(pool: PgPool) {
    let w = World::new(pool).await;
    for (i, name) in ["Acme", "Birch", "Cobalt", "Delta", "Ember"]
        .iter()
        .enumerate()
    {
        let csm = if i % 2 == 0 { "Alice" } else { "Bob" };
        w.answered_nps(name, csm, 2, days_ago(10 - i as i64)).await;
    }
    let (all, one_page) = w.walk("/api/v1/escalations", 200).await;
    assert_eq!(one_page, 1);
    assert!(
        all.len() >= 5,
        "a detractor escalation per account: {all:?}"
    );
    let (paged, pages) = w.walk("/api/v1/escalations", 2).await;
    assert_eq!(ids(&paged), ids(&all), "each once, none missing, in order");
    assert_eq!(pages, all.len().div_ceil(2));

    let alices: Vec<i64> = all
        .iter()
        .filter(|e| e["owner_name"] == "Alice")
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    let (paged, pages) = w.walk("/api/v1/escalations?csm=alice", 1).await;
    assert_eq!(ids(&paged), alices);
    assert_eq!(pages, alices.len());
}

#[sqlx::test]
async fn one_escalation_comes_with_its_history(pool: PgPool) {
    let w = World::new(pool).await;
    let birch = w.answered_nps("Birch", "Bob", 2, days_ago(5)).await;
    let id = w.detractor_escalation(birch).await;
    w.acts(id, Action::Take, w.bob, days_ago(4)).await;

    let shown = w.api.get(&format!("/api/v1/escalations/{id}")).await;
    assert_eq!(shown.status.as_u16(), 200, "{shown:?}");
    let e = &shown.body["escalation"];
    assert_eq!(e["id"], id);
    assert_eq!(e["account_name"], "Birch");
    assert_eq!(
        (e["reason"].as_str(), e["severity"].as_str()),
        (Some("detractor"), Some("critical"))
    );
    assert_eq!(e["status"], "acknowledged");
    assert_eq!(e["owner_name"], "Bob");
    assert_eq!(e["nps_score"], 2);
    let events = shown.body["events"].as_array().unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .map(|ev| ev["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"opened"), "{kinds:?}");
    let taken = events
        .iter()
        .find(|ev| ev["kind"] == "acknowledged")
        .expect("taking is on record");
    assert_eq!(taken["staff"], "Bob");

    let listed = items(
        &w.api
            .get(&format!("/api/v1/escalations?account={birch}"))
            .await
            .body,
    )
    .clone();
    let same = listed.iter().find(|l| l["id"] == id).unwrap();
    assert_eq!(same, e, "the list and the detail show the same escalation");
}
