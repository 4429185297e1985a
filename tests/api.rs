//! The integration API through its real router and a real database: what a CRM or a product
//! sending data to touchbot sees.

#[path = "support/cli.rs"]
mod cli;
#[path = "api/client.rs"]
mod client;

use axum::http::{Method, StatusCode};
use client::{Api, account_body, count, ids};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test]
async fn a_missing_malformed_wrong_or_revoked_token_gets_401_and_nothing_else(pool: PgPool) {
    let api = Api::new(pool).await;
    let path = "/api/v1/accounts";
    let wrong = format!("Bearer tb_{}", "0".repeat(64));
    let good = format!("Bearer {}", api.token);
    let basic = format!("Basic {}", api.token);
    let mut answers = vec![];
    for auth in [
        None,
        Some("Bearer"),
        Some(basic.as_str()),
        Some(wrong.as_str()),
    ] {
        answers.push(api.raw(Method::GET, path, None, auth).await);
    }
    assert_eq!(
        api.raw(Method::GET, path, None, Some(&good)).await.status,
        StatusCode::OK
    );
    touchbot::storage::tokens::revoke(&api.pool, "crm", chrono::Utc::now())
        .await
        .unwrap();
    answers.push(api.raw(Method::GET, path, None, Some(&good)).await);
    for a in answers {
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{a:?}");
        assert_eq!(a.body, json!({"error": "unauthorized"}));
        assert_eq!(a.headers["www-authenticate"], "Bearer");
    }
}

#[sqlx::test]
async fn an_account_created_through_the_api_has_its_calendar_planned_and_shows_its_health(
    pool: PgPool,
) {
    let api = Api::new(pool).await;
    let id = api.account("Acme").await;
    let touches = count(
        &api.pool,
        &format!("select count(*) from touches where account_id = {id}"),
    )
    .await;
    assert!(touches > 0, "the calendar is planned at once");
    let signal = json!({"kind": "active_users", "value": 40, "idempotency_key": "usage-1"});
    let s = api
        .post(&format!("/api/v1/accounts/{id}/signals"), signal)
        .await;
    assert_eq!(s.status, StatusCode::OK, "{s:?}");
    let shown = api.get(&format!("/api/v1/accounts/{id}")).await;
    assert_eq!(shown.status, StatusCode::OK, "{shown:?}");
    let account = &shown.body["account"];
    assert_eq!(account["name"], "Acme");
    assert_eq!(account["arr"], 120000.0);
    assert_eq!(account["time_zone"], "Asia/Almaty");
    let health = &account["health"];
    assert!(
        health["category"].is_string(),
        "scored after the signal: {health}"
    );
    assert!(!health["components"].as_array().unwrap().is_empty());
    assert_eq!(shown.body["status"]["name"], "Acme");
    let missing = api.get("/api/v1/accounts/999999").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["error"], "not_found");
}

#[sqlx::test]
async fn a_renewal_before_the_contract_start_is_refused_naming_the_field(pool: PgPool) {
    let api = Api::new(pool).await;
    let mut body = account_body("Acme");
    body["renewal_date"] = json!("2025-12-31");
    let a = api.post("/api/v1/accounts", body).await;
    assert_eq!(a.bad_fields(), ["renewal_date"]);
    let problem = a.body["fields"][0]["problem"].as_str().unwrap();
    assert!(problem.contains("after the contract start"), "{problem}");
    let mut body = account_body("Acme");
    body["renewal_date"] = json!("15/01/2027");
    assert_eq!(
        api.post("/api/v1/accounts", body).await.bad_fields(),
        ["renewal_date"]
    );
    let mut body = account_body("Acme");
    body["segment"] = json!("huge");
    assert_eq!(
        api.post("/api/v1/accounts", body).await.bad_fields(),
        ["segment"]
    );
    assert_eq!(count(&api.pool, "select count(*) from accounts").await, 0);
}

#[sqlx::test]
async fn an_unknown_field_is_refused_by_name_and_broken_json_is_a_bad_request(pool: PgPool) {
    let api = Api::new(pool).await;
    let mut body = account_body("Acme");
    body["renewal"] = json!("2027-01-15");
    assert_eq!(
        api.post("/api/v1/accounts", body).await.bad_fields(),
        ["renewal"]
    );
    let auth = format!("Bearer {}", api.token);
    let broken = api
        .raw(
            Method::POST,
            "/api/v1/accounts",
            Some("{\"name\": ".into()),
            Some(&auth),
        )
        .await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST, "{broken:?}");
    assert_eq!(broken.body["error"], "malformed_json");
    let huge = format!("{{\"name\": \"{}\"}}", "a".repeat(300 * 1024));
    let too_big = api
        .raw(Method::POST, "/api/v1/accounts", Some(huge), Some(&auth))
        .await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE, "{too_big:?}");
    assert_eq!(count(&api.pool, "select count(*) from accounts").await, 0);
}

#[sqlx::test]
async fn upserting_by_external_id_twice_leaves_one_account_with_the_latest_record(pool: PgPool) {
    let api = Api::new(pool).await;
    let path = "/api/v1/accounts/by-external-id/hubspot-4711";
    let first = api
        .call(Method::PUT, path, Some(account_body("Acme")))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    let mut body = account_body("Acme");
    body["arr"] = json!(150000);
    let second = api.call(Method::PUT, path, Some(body)).await;
    assert_eq!(second.status, StatusCode::OK, "{second:?}");
    assert_eq!(second.body["id"], first.body["id"]);
    assert_eq!(second.body["external_id"], "hubspot-4711");
    assert_eq!(second.body["arr"], 150000.0);
    assert_eq!(count(&api.pool, "select count(*) from accounts").await, 1);
}

#[sqlx::test]
async fn a_patch_changes_only_the_fields_given_and_null_clears_a_date(pool: PgPool) {
    let api = Api::new(pool).await;
    let id = api.account("Acme").await;
    let path = format!("/api/v1/accounts/{id}");
    let changed = api
        .call(
            Method::PATCH,
            &path,
            Some(json!({"renewal_date": "2027-03-01", "lifecycle": "paused"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    assert_eq!(changed.body["renewal_date"], "2027-03-01");
    assert_eq!(changed.body["lifecycle"], "paused");
    assert_eq!(changed.body["locale"], "ru");
    let cleared = api
        .call(Method::PATCH, &path, Some(json!({"renewal_date": null})))
        .await;
    assert_eq!(cleared.body["renewal_date"], json!(null), "{cleared:?}");
    let bad = api
        .call(
            Method::PATCH,
            &path,
            Some(json!({"time_zone": "Mars/Olympus"})),
        )
        .await;
    assert_eq!(bad.bad_fields(), ["time_zone"]);
}

#[sqlx::test]
async fn five_accounts_listed_two_at_a_time_come_each_once_over_three_pages(pool: PgPool) {
    let api = Api::new(pool).await;
    let mut created = vec![];
    for name in ["Acme", "Birch", "Cobalt", "Delta", "Ember"] {
        created.push(api.account(name).await);
    }
    let (listed, pages) = api.pages("/api/v1/accounts?limit=2", "accounts").await;
    let seen = ids(&listed);
    assert_eq!((seen, pages), (created.clone(), 3));
    let path = format!("/api/v1/accounts/{}", created[1]);
    api.call(Method::PATCH, &path, Some(json!({"lifecycle": "churned"})))
        .await;
    let churned = api.get("/api/v1/accounts?lifecycle=churned").await;
    assert_eq!(churned.body["accounts"].as_array().unwrap().len(), 1);
    let none = api.get("/api/v1/accounts?renewal_before=2026-06-01").await;
    assert!(none.body["accounts"].as_array().unwrap().is_empty());
    assert_eq!(
        api.get("/api/v1/accounts?cursor=nonsense")
            .await
            .bad_fields(),
        ["cursor"]
    );
}

#[sqlx::test]
async fn a_telegram_contact_comes_back_with_its_join_link_and_contacts_can_be_changed_and_removed(
    pool: PgPool,
) {
    let api = Api::new(pool).await;
    let id = api.account("Acme").await;
    let path = format!("/api/v1/accounts/{id}/contacts");
    let added = api
        .post(&path, json!({"name": "Dana", "role": "champion"}))
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{added:?}");
    let link = added.body["join_link"]["url"].as_str().unwrap();
    assert!(
        link.starts_with("https://t.me/acme_success_bot?start="),
        "{link}"
    );
    let bad = json!({"name": "Oleg", "role": "user", "channel": "whatsapp", "address": "8701"});
    assert_eq!(api.post(&path, bad).await.bad_fields(), ["address"]);
    let wa =
        json!({"name": "Oleg", "role": "user", "channel": "whatsapp", "address": "+77011234567"});
    let oleg = api.post(&path, wa).await;
    assert_eq!(oleg.status, StatusCode::CREATED, "{oleg:?}");
    assert_eq!(oleg.body["join_link"], json!(null));
    let path = format!("/api/v1/contacts/{}", oleg.body["id"]);
    let moved = json!({"address": "+7 701 765 43 21", "role": "decision_maker", "locale": "en"});
    let moved = api.call(Method::PATCH, &path, Some(moved)).await;
    assert_eq!(moved.status, StatusCode::OK, "{moved:?}");
    assert_eq!(moved.body["address"], "+77017654321");
    assert_eq!(moved.body["role"], "decision_maker");
    let bad = api
        .call(Method::PATCH, &path, Some(json!({"address": "tomorrow"})))
        .await;
    assert_eq!(bad.bad_fields(), ["address"]);
    let contact = format!("/api/v1/contacts/{}", added.body["id"]);
    assert_eq!(
        api.call(Method::DELETE, &contact, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.call(Method::DELETE, &contact, None).await.status,
        StatusCode::NOT_FOUND
    );
    let current = count(
        &api.pool,
        &format!("select count(*) from contacts where account_id = {id} and removed_at is null"),
    )
    .await;
    assert_eq!(current, 1);
}

#[sqlx::test]
async fn a_signal_batch_sent_twice_counts_once(pool: PgPool) {
    let api = Api::new(pool).await;
    let id = api.account("Acme").await;
    let path = format!("/api/v1/accounts/{id}/signals");
    let batch = json!({"signals": [
        {"kind": "ticket_opened", "ticket": "T-1", "severity": "high", "idempotency_key": "zd-T-1-open"},
        {"kind": "payment_on_time", "value": 10000, "occurred_at": "2026-02-01T10:00:00Z"},
        {"kind": "login_days_30", "value": 21, "occurred_at": "2026-02-02T00:00:00Z"},
    ]});
    let first = api.post(&path, batch.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let again = api.post(&path, batch).await;
    let recorded = |a: &client::Answer| -> Vec<bool> {
        a.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["recorded"].as_bool().unwrap())
            .collect()
    };
    assert_eq!(recorded(&first), [true, true, true]);
    assert_eq!(recorded(&again), [false, false, false]);
    assert_eq!(first.body["results"][0]["idempotency_key"], "zd-T-1-open");
    let sql = format!("select count(*) from signals where account_id = {id}");
    assert_eq!(count(&api.pool, &sql).await, 3);
    let at = "2026-02-03T00:00:00Z";
    let bad = json!({"signals": [
        {"kind": "active_users", "value": 3, "occurred_at": at},
        {"kind": "weather", "occurred_at": at},
    ]});
    assert_eq!(api.post(&path, bad).await.bad_fields(), ["signals[1]"]);
    let timeless = json!({"signals": [{"kind": "active_users", "value": 3}]});
    assert_eq!(
        api.post(&path, timeless).await.bad_fields(),
        ["signals[0].occurred_at"]
    );
    let unknown = json!({"signals": [{"kind": "active_users", "value": 3, "colour": "red"}]});
    assert_eq!(
        api.post(&path, unknown).await.bad_fields(),
        ["signals[0].colour"]
    );
    assert_eq!(
        count(&api.pool, &sql).await,
        3,
        "a refused batch stores nothing"
    );
}

#[sqlx::test]
async fn the_openapi_document_is_served_without_a_token_and_lists_every_route(pool: PgPool) {
    let api = Api::new(pool).await;
    let doc = api.raw(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    let routes = [
        ("/api/v1/accounts", "post"),
        ("/api/v1/accounts", "get"),
        ("/api/v1/accounts/by-external-id/{external_id}", "put"),
        ("/api/v1/accounts/{id}", "get"),
        ("/api/v1/accounts/{id}", "patch"),
        ("/api/v1/accounts/{id}/contacts", "post"),
        ("/api/v1/contacts/{id}", "patch"),
        ("/api/v1/contacts/{id}", "delete"),
        ("/api/v1/accounts/{id}/signals", "post"),
        ("/api/v1/contacts/{id}/erasure", "post"),
        ("/api/v1/webhooks", "post"),
        ("/api/v1/webhooks", "get"),
        ("/api/v1/webhooks/{id}", "delete"),
        ("/api/v1/webhooks/{id}/deliveries", "get"),
        ("/api/v1/accounts/{id}/health", "get"),
        ("/api/v1/accounts/{id}/replies", "get"),
        ("/api/v1/escalations", "get"),
        ("/api/v1/escalations/{id}", "get"),
        ("/api/v1/portfolio", "get"),
        ("/api/v1/metrics/team", "get"),
        ("/api/v1/metrics/csm/{staff}", "get"),
    ];
    let paths = doc.body["paths"].as_object().unwrap();
    let listed: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(listed, routes.len(), "{paths:?}");
    for (path, method) in routes {
        assert!(
            doc.body["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
        // Each documented route answers (401 without a token), so the list is not stale.
        let concrete = path
            .replace("{id}", "1")
            .replace("{external_id}", "x")
            .replace("{staff}", "x");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        assert_eq!(
            api.raw(m, &concrete, None, None).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());
}

#[sqlx::test]
async fn tokens_are_created_listed_and_revoked_from_the_command_line(pool: PgPool) {
    let out = cli::touchbot_ok(&pool, &["token", "create", "--name", "hubspot"]);
    let token = out
        .lines()
        .find(|l| l.starts_with("tb_"))
        .expect("the token is printed")
        .to_string();
    let api = Api {
        token: token.clone(),
        ..Api::new(pool.clone()).await
    };
    assert_eq!(api.get("/api/v1/accounts").await.status, StatusCode::OK);
    let listed = cli::touchbot_ok(&pool, &["token", "list"]);
    assert!(
        listed.contains("hubspot") && !listed.contains(&token),
        "{listed}"
    );
    cli::touchbot_ok(&pool, &["token", "revoke", "hubspot"]);
    assert_eq!(
        api.get("/api/v1/accounts").await.status,
        StatusCode::UNAUTHORIZED
    );
    let stored = count(
        &pool,
        "select count(*) from api_tokens where encode(hash, 'escape') like '%tb_%'",
    )
    .await;
    assert_eq!(stored, 0, "only hashes are stored");
}

#[sqlx::test]
async fn a_contact_changed_from_the_command_line_gets_the_same_checks_as_through_the_api(
    pool: PgPool,
) {
    let api = Api::new(pool.clone()).await;
    let id = api.account("Acme").await;
    let wa =
        json!({"name": "Oleg", "role": "user", "channel": "whatsapp", "address": "+77011234567"});
    api.post(&format!("/api/v1/accounts/{id}/contacts"), wa)
        .await;
    let acct = id.to_string();
    let args = [
        "contact",
        "update",
        "--account",
        &acct,
        "Oleg",
        "--address",
        "+7 701 000 11 22",
    ];
    let out = cli::touchbot_ok(&pool, &args);
    assert!(out.contains("Updated Oleg"), "{out}");
    let address: String = sqlx::query_scalar("select address from contacts where name = 'Oleg'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(address, "+77010001122");
}

#[sqlx::test]
async fn a_fault_inside_is_a_500_that_shows_no_internals(pool: PgPool) {
    let api = Api::new(pool).await;
    sqlx::query("alter table accounts rename to accounts_gone")
        .execute(&api.pool)
        .await
        .unwrap();
    let a = api.get("/api/v1/accounts").await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.body["error"], "internal");
    let text = a.body.to_string();
    assert!(
        !text.contains("accounts") && !text.contains("relation"),
        "{text}"
    );
}
