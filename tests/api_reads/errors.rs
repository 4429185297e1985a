//! What a caller of the reads is told when the token is missing, a parameter is wrong or a
//! thing does not exist; and the OpenAPI document describing them.

use axum::http::{Method, StatusCode};
use serde_json::Value;
use sqlx::PgPool;

use crate::world::{World, days_ago, param};

const READS: &[&str] = &[
    "/api/v1/accounts/{id}/health",
    "/api/v1/accounts/{id}/replies",
    "/api/v1/escalations",
    "/api/v1/escalations/{id}",
    "/api/v1/portfolio",
    "/api/v1/metrics/team",
    "/api/v1/metrics/csm/{staff}",
];

#[sqlx::test]
async fn every_read_needs_the_token(pool: PgPool) {
    let w = World::new(pool).await;
    let acme = w.answered_nps("Acme", "Alice", 2, days_ago(1)).await;
    let escalation = w.detractor_escalation(acme).await;
    for path in READS {
        let id = match path.starts_with("/api/v1/escalations") {
            true => escalation,
            false => acme,
        };
        let concrete = path
            .replace("{id}", &id.to_string())
            .replace("{staff}", "alice");
        let bare = w.api.raw(Method::GET, &concrete, None, None).await;
        assert_eq!(bare.status, StatusCode::UNAUTHORIZED, "{concrete}");
        assert_eq!(bare.body, serde_json::json!({"error": "unauthorized"}));
        assert_eq!(
            w.api.get(&concrete).await.status,
            StatusCode::OK,
            "{concrete}"
        );
    }
}

#[sqlx::test]
async fn a_bad_parameter_is_a_422_naming_it(pool: PgPool) {
    let w = World::new(pool).await;
    let (acme, _) = w.client("Acme", "Alice", "dana").await;
    let replies = format!("/api/v1/accounts/{acme}/replies");
    let health = format!("/api/v1/accounts/{acme}/health");
    let reply_cursor = {
        w.says("dana", "one", days_ago(2)).await;
        w.says("dana", "two", days_ago(1)).await;
        let page = w.api.get(&format!("{replies}?limit=1")).await;
        page.body["next_cursor"].as_str().unwrap().to_string()
    };
    let future = param(days_ago(-2));
    let cases = [
        (
            "/api/v1/escalations?status=closed",
            "status",
            "open, acknowledged, resolved",
        ),
        ("/api/v1/escalations?level=ceo", "level", "csm, manager, vp"),
        ("/api/v1/escalations?account=acme", "account", "not an id"),
        (
            "/api/v1/escalations?account=999999",
            "account",
            "no account has the id 999999",
        ),
        ("/api/v1/escalations?csm=nobody", "csm", "nobody"),
        (
            "/api/v1/escalations?opened_after=yesterday",
            "opened_after",
            "2026-03-01",
        ),
        (
            "/api/v1/escalations?opened_before=2026-02-30",
            "opened_before",
            "not a date",
        ),
        (
            "/api/v1/escalations?opened_after=2026-03-02&opened_before=2026-03-01",
            "opened_after",
            "before opened_before",
        ),
        ("/api/v1/escalations?limit=0", "limit", "1 to 200"),
        ("/api/v1/escalations?limit=201", "limit", "1 to 200"),
        ("/api/v1/escalations?limit=ten", "limit", "1 to 200"),
        (
            "/api/v1/escalations?cursor=nonsense",
            "cursor",
            "start again",
        ),
        (
            "/api/v1/escalations?status=open&status=resolved",
            "status",
            "twice",
        ),
        ("/api/v1/escalations?colour=red", "colour", "unknown field"),
        (
            &format!("/api/v1/escalations?cursor={reply_cursor}"),
            "cursor",
            "start again",
        ),
        (&format!("{replies}?cursor=zz"), "cursor", "start again"),
        (&format!("{replies}?limit=500"), "limit", "1 to 200"),
        (&format!("{replies}?since=last%20week"), "since", "RFC 3339"),
        (&format!("{health}?until=soon"), "until", "not a date"),
        (
            &format!("{health}?since=2026-05-01&until=2026-04-01"),
            "since",
            "before until",
        ),
        (&format!("{health}?limit=5"), "limit", "unknown field"),
        ("/api/v1/metrics/team?from=monday", "from", "not a date"),
        (&format!("/api/v1/metrics/team?to={future}"), "to", "future"),
        (
            "/api/v1/metrics/team?from=2026-05-01&to=2026-04-01",
            "from",
            "before to",
        ),
        ("/api/v1/metrics/csm/alice?to=never", "to", "not a date"),
        ("/api/v1/portfolio?csm=alice", "csm", "unknown field"),
    ];
    for (path, field, says) in cases {
        let answer = w.api.get(path).await;
        assert_eq!(answer.bad_fields(), [field], "{path}");
        let problem = answer.body["fields"][0]["problem"].as_str().unwrap();
        assert!(problem.contains(says), "{path}: {problem}");
    }
}

#[sqlx::test]
async fn an_unknown_account_escalation_or_staff_member_is_a_404(pool: PgPool) {
    let w = World::new(pool).await;
    for path in [
        "/api/v1/accounts/999999/health",
        "/api/v1/accounts/999999/replies",
        "/api/v1/escalations/999999",
        "/api/v1/metrics/csm/nobody",
        "/api/v1/metrics/csm/999999",
    ] {
        let answer = w.api.get(path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}: {answer:?}");
        assert_eq!(answer.body["error"], "not_found");
        assert!(
            answer.body["message"].is_string(),
            "{path}: says what was not found"
        );
    }
}

/// Follows a `$ref` in the document; None when it points nowhere.
fn resolve<'a>(doc: &'a Value, r: &str) -> Option<&'a Value> {
    let name = r.strip_prefix("#/components/schemas/")?;
    doc["components"]["schemas"].get(name)
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref") {
                out.push(r.clone());
            }
            o.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[sqlx::test]
async fn the_openapi_document_describes_every_read_with_its_parameters_and_errors(pool: PgPool) {
    let w = World::new(pool).await;
    let doc = w
        .api
        .raw(Method::GET, "/api/openapi.json", None, None)
        .await
        .body;
    for path in READS {
        let get = &doc["paths"][path]["get"];
        assert!(get.is_object(), "{path} is listed");
        for status in ["200", "401"] {
            assert!(
                get["responses"][status].is_object(),
                "{path} answers {status}"
            );
        }
        let errors = get["responses"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|s| s.starts_with('4'))
            .count();
        assert!(errors >= 2, "{path} lists its errors");
    }
    let params = |path: &str| -> Vec<String> {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let listed = params("/api/v1/escalations");
    for p in [
        "status",
        "level",
        "account",
        "csm",
        "opened_after",
        "opened_before",
        "limit",
        "cursor",
    ] {
        assert!(listed.contains(&p.to_string()), "{p} in {listed:?}");
    }
    assert_eq!(
        params("/api/v1/accounts/{id}/replies"),
        ["id", "since", "limit", "cursor"]
    );
    assert_eq!(params("/api/v1/metrics/team"), ["from", "to"]);

    let schemas = &doc["components"]["schemas"];
    let status = &schemas["AccountDetail"]["properties"]["status"];
    let mut found = vec![];
    refs(status, &mut found);
    assert_eq!(
        found,
        ["#/components/schemas/AccountStatus"],
        "status has a real schema: {status}"
    );
    assert!(schemas["AccountStatus"]["properties"]["touches_sent"].is_object());
    let components = &schemas["HealthView"]["properties"]["components"];
    assert_eq!(
        components["items"]["$ref"], "#/components/schemas/ComponentScore",
        "{components}"
    );
    assert!(schemas["ComponentScore"]["properties"]["explanation"].is_object());
    let statuses = &schemas["Status"]["enum"];
    assert_eq!(
        *statuses,
        serde_json::json!(["open", "acknowledged", "resolved"])
    );

    let mut all = vec![];
    refs(&doc, &mut all);
    let dangling: Vec<&String> = all.iter().filter(|r| resolve(&doc, r).is_none()).collect();
    assert!(
        dangling.is_empty(),
        "every reference resolves: {dangling:?}"
    );
}
