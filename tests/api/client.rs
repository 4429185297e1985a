//! The API's router driven in process (no socket), with a token made the way an operator
//! makes one, against the test's database.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use secrecy::ExposeSecret;
use serde_json::Value;
use sqlx::PgPool;
use touchbot::api::{ApiState, router};
use touchbot::config::Settings;
use touchbot::storage::tokens;
use tower::ServiceExt;

pub struct Api {
    pub pool: PgPool,
    pub app: Router,
    pub token: String,
}

/// What the API answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The field names of a 422, in order.
    pub fn bad_fields(&self) -> Vec<String> {
        assert_eq!(self.status, StatusCode::UNPROCESSABLE_ENTITY, "{self:?}");
        assert_eq!(self.body["error"], "validation", "{self:?}");
        self.body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap().to_string())
            .collect()
    }
}

impl Api {
    pub async fn new(pool: PgPool) -> Api {
        let mut settings = Settings::default();
        settings.telegram.bot_username = Some("acme_success_bot".into());
        let app = router(ApiState {
            pool: pool.clone(),
            settings: Arc::new(settings),
        });
        let issued = tokens::create(&pool, "crm", chrono::Utc::now())
            .await
            .unwrap();
        let token = issued.secret.expose_secret().to_string();
        Api { pool, app, token }
    }

    /// A request with the test's token.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let auth = format!("Bearer {}", self.token);
        self.raw(method, path, body.map(|b| b.to_string()), Some(&auth))
            .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    /// A request with any body text and any Authorization header (or none).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        authorization: Option<&str>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req.body(body.map_or_else(Body::empty, Body::from)).unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "{status} answered with non-JSON: {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Every item of the list `key` at `path` (which has a query), following `next_cursor`
    /// page by page; and how many pages it took.
    pub async fn pages(&self, path: &str, key: &str) -> (Vec<Value>, usize) {
        let (mut items, mut pages, mut cursor) = (vec![], 0, None::<String>);
        loop {
            let page = match &cursor {
                Some(c) => self.get(&format!("{path}&cursor={c}")).await,
                None => self.get(path).await,
            };
            assert_eq!(page.status, StatusCode::OK, "{page:?}");
            pages += 1;
            items.extend(page.body[key].as_array().unwrap().iter().cloned());
            match page.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return (items, pages),
            }
        }
    }

    /// Creates an account named `name` and returns its id.
    pub async fn account(&self, name: &str) -> i64 {
        let a = self.post("/api/v1/accounts", account_body(name)).await;
        assert_eq!(a.status, StatusCode::CREATED, "{a:?}");
        a.body["id"].as_i64().unwrap()
    }
}

pub fn account_body(name: &str) -> Value {
    serde_json::json!({
        "name": name,
        "segment": "mid_market",
        "arr": 120000,
        "contract_start": "2026-01-15",
        "renewal_date": "2027-01-15",
        "time_zone": "Asia/Almaty",
        "locale": "ru",
    })
}

/// The `id` of each item.
pub fn ids(items: &[Value]) -> Vec<i64> {
    items.iter().map(|i| i["id"].as_i64().unwrap()).collect()
}

pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(pool)
        .await
        .unwrap()
}
