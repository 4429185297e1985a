//! Managing touchbot over the integration API: erasing a contact, subscribing to events and
//! reading their delivery log, and what every route shares (405s in the one error shape, the
//! token's last use, keyset pages of accounts).

#[path = "support/cli.rs"]
mod cli;
#[path = "api/client.rs"]
mod client;
#[allow(dead_code)]
#[path = "support/erasure.rs"]
mod erasure;
#[allow(dead_code)]
#[path = "support/webhook_receiver.rs"]
mod receiver;

use axum::http::{Method, StatusCode, header::ALLOW};
use chrono::Utc;
use client::{Api, count};
use erasure::{TRACES, a_person_known_everywhere, where_found};
use receiver::{a_receiver, an_nps_answer};
use serde_json::{Value, json};
use sqlx::PgPool;
use touchbot::config::Settings;
use touchbot::webhooks::{signature, worker};

#[sqlx::test]
async fn erasure_over_http_leaves_no_trace_of_the_contact_and_reports_each_table(pool: PgPool) {
    let api = Api::new(pool).await;
    let id = a_person_known_everywhere(&api.pool).await;
    for trace in TRACES {
        assert!(!where_found(&api.pool, trace).await.is_empty(), "{trace}");
    }

    let erased = api
        .call(
            Method::POST,
            &format!("/api/v1/contacts/{id}/erasure"),
            None,
        )
        .await;

    assert_eq!(erased.status, StatusCode::OK, "{erased:?}");
    assert_eq!(erased.body["contact_id"], id);
    assert_eq!(erased.body["already_erased"], false);
    let tables: Vec<&str> = erased.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["table"].as_str().unwrap())
        .collect();
    for table in ["contacts", "replies", "whatsapp_events", "strangers"] {
        assert!(tables.contains(&table), "{table} missing from {tables:?}");
    }
    for trace in TRACES {
        let left = where_found(&api.pool, trace).await;
        assert!(left.is_empty(), "'{trace}' is still in {left:?}");
    }
}

#[sqlx::test]
async fn erasing_an_erased_contact_again_says_so_and_an_unknown_one_is_not_found(pool: PgPool) {
    let api = Api::new(pool).await;
    let id = a_person_known_everywhere(&api.pool).await;
    let path = format!("/api/v1/contacts/{id}/erasure");
    let first = api.call(Method::POST, &path, None).await;

    let again = api.call(Method::POST, &path, None).await;

    assert_eq!(again.status, StatusCode::OK, "{again:?}");
    assert_eq!(again.body["already_erased"], true);
    assert_eq!(again.body["changes"], json!([]));
    assert_eq!(again.body["erased_at"], first.body["erased_at"]);
    let unknown = api
        .call(Method::POST, "/api/v1/contacts/999999/erasure", None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["error"], "not_found");
    assert!(
        unknown.body["message"].as_str().unwrap().contains("999999"),
        "{unknown:?}"
    );
}

#[sqlx::test]
async fn a_webhook_made_over_http_receives_a_signed_event_at_its_receiver(pool: PgPool) {
    let api = Api::new(pool).await;
    let (url, receiver) = a_receiver(0).await;
    let made = api
        .post(
            "/api/v1/webhooks",
            json!({"url": url, "events": ["nps_answer"]}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    let secret = made.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{made:?}");
    assert_eq!(made.body["events"], json!(["nps_answer"]));
    let listed = api.get("/api/v1/webhooks").await;
    assert_eq!(listed.body["webhooks"][0]["id"], made.body["id"]);
    let text = listed.body.to_string();
    assert!(
        !text.contains(&secret) && !text.contains("secret"),
        "{text}"
    );

    an_nps_answer(&api.pool, 9).await;
    let client = worker::client().unwrap();
    let config = Settings::default().dispatcher;
    let sent = worker::pass(&api.pool, &client, &config, "w1", Utc::now())
        .await
        .unwrap();

    assert_eq!(sent, 1);
    let seen = receiver.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (sig, _, body) = &seen[0];
    assert_eq!(*sig, signature(&secret, body.as_bytes()));
    let event: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        (event["type"].as_str(), event["data"]["score"].as_i64()),
        (Some("nps_answer"), Some(9))
    );
    let log = api
        .get(&format!("/api/v1/webhooks/{}/deliveries", made.body["id"]))
        .await;
    assert_eq!(log.body["deliveries"][0]["status"], "delivered", "{log:?}");
    assert_eq!(log.body["deliveries"][0]["last_status"], 200);
}

#[sqlx::test]
async fn the_delivery_log_pages_newest_first_filters_by_status_and_keeps_a_removed_webhook(
    pool: PgPool,
) {
    let api = Api::new(pool).await;
    let body = json!({"url": "https://crm.example.com/h", "events": ["nps_answer"]});
    let id = api.post("/api/v1/webhooks", body).await.body["id"].clone();
    for score in 1..=5 {
        an_nps_answer(&api.pool, score).await;
    }
    let log = format!("/api/v1/webhooks/{id}/deliveries");

    let (listed, pages) = api.pages(&format!("{log}?limit=2"), "deliveries").await;
    let ids = client::ids(&listed);
    let mut newest_first = ids.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    newest_first.dedup();
    assert_eq!((ids.len(), pages), (5, 3));
    assert_eq!(ids, newest_first, "newest first, each once");
    let delivered = api.get(&format!("{log}?status=delivered")).await;
    assert_eq!(delivered.body["deliveries"], json!([]));
    let bogus = api.get(&format!("{log}?status=sent")).await;
    assert_eq!(bogus.bad_fields(), ["status"]);
    assert!(bogus.body.to_string().contains("delivered"), "{bogus:?}");
    // A cursor of the accounts list means nothing here.
    let foreign = hex::encode(format!("after:{}", ids[0]));
    let refused = api.get(&format!("{log}?cursor={foreign}")).await;
    assert_eq!(refused.bad_fields(), ["cursor"]);

    let removed = api
        .call(Method::DELETE, &format!("/api/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{removed:?}");
    let (cancelled, _) = api
        .pages(&format!("{log}?status=cancelled&limit=200"), "deliveries")
        .await;
    assert_eq!(cancelled.len(), 5, "deliveries not yet made are cancelled");
    assert_eq!(
        api.get("/api/v1/webhooks").await.body["webhooks"],
        json!([])
    );
    let twice = api
        .call(Method::DELETE, &format!("/api/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(twice.status, StatusCode::NOT_FOUND);
    let unknown = api.get("/api/v1/webhooks/999999/deliveries").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[sqlx::test]
async fn a_webhook_with_unknown_events_a_non_http_url_or_no_events_is_refused_naming_the_field(
    pool: PgPool,
) {
    let api = Api::new(pool).await;
    let problem = |a: &client::Answer, field: &str| -> String {
        a.body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == field)
            .map(|f| f["problem"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{field} is not named: {a:?}"))
    };

    let both = api
        .post(
            "/api/v1/webhooks",
            json!({"url": "ftp://crm.example.com/h", "events": ["nps_answer", "nps"]}),
        )
        .await;
    let none = api
        .post(
            "/api/v1/webhooks",
            json!({"url": "https://crm.example.com/h", "events": []}),
        )
        .await;
    let no_scheme = api
        .post(
            "/api/v1/webhooks",
            json!({"url": "crm.example.com/h", "events": ["nps_answer"]}),
        )
        .await;

    assert_eq!(both.bad_fields(), ["url", "events"]);
    assert!(problem(&both, "url").contains("https://"), "{both:?}");
    for answer in [&both, &none] {
        let events = problem(answer, "events");
        for kind in touchbot::webhooks::EVENT_KINDS {
            assert!(events.contains(kind), "{kind} not listed: {events}");
        }
    }
    assert_eq!(none.bad_fields(), ["events"]);
    assert_eq!(no_scheme.bad_fields(), ["url"]);
    let stored = count(&api.pool, "select count(*) from webhook_subscriptions").await;
    assert_eq!(stored, 0);
}

#[sqlx::test]
async fn a_method_a_route_does_not_take_gets_405_in_the_api_error_shape_with_allow(pool: PgPool) {
    let api = Api::new(pool).await;

    let answers = [
        api.call(Method::DELETE, "/api/v1/accounts", None).await,
        api.call(Method::PUT, "/api/v1/webhooks/1", None).await,
        api.call(Method::POST, "/api/openapi.json", None).await,
    ];

    let allowed: Vec<&str> = answers
        .iter()
        .map(|a| {
            assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{a:?}");
            assert_eq!(a.body["error"], "method_not_allowed", "{a:?}");
            assert!(a.body["message"].as_str().unwrap().contains("Allow"));
            a.headers[ALLOW].to_str().unwrap()
        })
        .collect();
    assert!(
        allowed[0].contains("GET") && allowed[0].contains("POST"),
        "{allowed:?}"
    );
    assert!(allowed[1].contains("DELETE"), "{allowed:?}");
    assert!(allowed[2].contains("GET"), "{allowed:?}");
}

async fn last_used(pool: &PgPool) -> Option<chrono::DateTime<Utc>> {
    sqlx::query_scalar("select last_used_at from api_tokens where name = 'crm'")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_token_in_steady_use_is_noted_once_a_minute_and_token_list_shows_the_recent_use(
    pool: PgPool,
) {
    let api = Api::new(pool).await;
    assert_eq!(last_used(&api.pool).await, None);

    api.get("/api/v1/accounts").await;
    let first = last_used(&api.pool).await.expect("the first use is noted");
    api.get("/api/v1/webhooks").await;
    let within_the_minute = last_used(&api.pool).await;
    sqlx::query("update api_tokens set last_used_at = now() - interval '2 minutes'")
        .execute(&api.pool)
        .await
        .unwrap();
    api.get("/api/v1/accounts").await;
    let after_the_minute = last_used(&api.pool).await.unwrap();

    assert_eq!(within_the_minute, Some(first), "no write within the minute");
    assert!(
        after_the_minute >= first,
        "{after_the_minute} before {first}"
    );
    let listed = cli::touchbot_ok(&api.pool, &["token", "list", "--json"]);
    let tokens: Value = serde_json::from_str(&listed).unwrap();
    let shown: chrono::DateTime<Utc> =
        serde_json::from_value(tokens[0]["last_used_at"].clone()).unwrap();
    assert_eq!(shown, after_the_minute, "{listed}");
}

/// Scores `account`'s health as `categories`, oldest first; the last is its latest.
async fn scored(pool: &PgPool, account: i64, categories: &[&str]) {
    for (i, category) in categories.iter().enumerate() {
        let score = match *category {
            "red" => 30,
            "yellow" => 60,
            _ => 85,
        };
        sqlx::query(
            "insert into health_scores (account_id, computed_at, score, category, model,
                                        components, summary, cause)
             values ($1, now() - make_interval(hours => $2), $3, $4, 'w', '[]', '', 'test')",
        )
        .bind(account)
        .bind(10 - i as i32)
        .bind(score)
        .bind(category)
        .execute(pool)
        .await
        .unwrap();
    }
}

#[sqlx::test]
async fn accounts_paged_with_filters_on_come_each_once_and_only_those_that_match(pool: PgPool) {
    let api = Api::new(pool).await;
    let mut ids = vec![];
    for i in 0..9 {
        ids.push(api.account(&format!("Account {i}")).await);
    }
    let histories: [&[&str]; 9] = [
        &["red"],
        &["red", "green"],
        &["green", "red"],
        &["yellow", "red", "red"],
        &["green"],
        &["red"],
        &[],
        &["red"],
        &["red"],
    ];
    for (id, history) in ids.iter().zip(histories) {
        scored(&api.pool, *id, history).await;
    }
    let churned = format!("/api/v1/accounts/{}", ids[7]);
    api.call(
        Method::PATCH,
        &churned,
        Some(json!({"lifecycle": "churned"})),
    )
    .await;

    let path = "/api/v1/accounts?category=red&lifecycle=active&limit=2";
    let (listed, pages) = api.pages(path, "accounts").await;
    for a in &listed {
        assert_eq!(a["health"]["category"], "red", "{a}");
    }
    let red_and_active = vec![ids[0], ids[2], ids[3], ids[5], ids[8]];
    assert_eq!((client::ids(&listed), pages), (red_and_active, 3));
}

#[sqlx::test]
async fn list_filters_and_cursors_are_documented_as_optional_query_parameters(pool: PgPool) {
    let api = Api::new(pool).await;
    let doc = api.raw(Method::GET, "/api/openapi.json", None, None).await;

    for (path, names) in [
        (
            "/api/v1/accounts",
            &[
                "category",
                "csm",
                "renewal_before",
                "lifecycle",
                "limit",
                "cursor",
            ][..],
        ),
        (
            "/api/v1/webhooks/{id}/deliveries",
            &["status", "limit", "cursor"][..],
        ),
    ] {
        let params = doc.body["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap();
        for name in names {
            let p = params
                .iter()
                .find(|p| p["name"] == *name)
                .unwrap_or_else(|| panic!("{name} of {path} is not documented"));
            assert_eq!(
                (p["in"].as_str(), p["required"].as_bool()),
                (Some("query"), Some(false)),
                "{p}"
            );
        }
    }
}
