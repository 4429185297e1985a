//! The data the read tests look at, made the way it arrives in production: staff through the
//! storage API, accounts and contacts through the API, answers through the real inbound path
//! (which scores health and opens escalations), people's actions through
//! `escalation::actions`, the ladder by its tick. Only the sent surveys are written as rows,
//! as the dispatcher records a send.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use touchbot::config::Settings;
use touchbot::domain::{ChannelKind, EscalationId, StaffId, StaffRole};
use touchbot::escalation::actions::{Action, act};
use touchbot::inbound::{InboundContent, InboundMessage, Judge, receive};
use touchbot::storage::staff;

use crate::client::{Api, account_body};

pub struct World {
    pub api: Api,
    pub settings: Settings,
    pub alice: StaffId,
    pub bob: StaffId,
}

/// The tests' "now": fixed once per run, so that instants computed at different moments of
/// a test agree; in whole seconds, so they survive a round trip through the query string.
pub fn now() -> DateTime<Utc> {
    static NOW: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    *NOW.get_or_init(|| Utc::now().duration_trunc(TimeDelta::seconds(1)).unwrap())
}

pub fn days_ago(days: i64) -> DateTime<Utc> {
    now() - TimeDelta::days(days)
}

/// An instant as a query parameter, its `+` encoded.
pub fn param(at: DateTime<Utc>) -> String {
    at.to_rfc3339().replace('+', "%2B")
}

async fn person(pool: &PgPool, name: &str, role: StaffRole) -> StaffId {
    let new = staff::NewStaff {
        name: name.into(),
        role,
        telegram_user_id: None,
        locale: "en".into(),
        manager_id: None,
    };
    staff::add(pool, &new).await.unwrap().id
}

impl World {
    /// Alice and Bob, two CSMs, and Max, their CS manager.
    pub async fn new(pool: PgPool) -> World {
        let api = Api::new(pool).await;
        person(&api.pool, "Max", StaffRole::CsManager).await;
        World {
            alice: person(&api.pool, "Alice", StaffRole::Csm).await,
            bob: person(&api.pool, "Bob", StaffRole::Csm).await,
            settings: Settings::default(),
            api,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.api.pool
    }

    /// An account owned by `csm`, renewing far ahead, with one contact on the simulated
    /// channel whose address is `who`. Returns the account's and the contact's ids.
    pub async fn client(&self, name: &str, csm: &str, who: &str) -> (i64, i64) {
        let mut body = account_body(name);
        body["csm"] = json!(csm);
        body["renewal_date"] = json!("2030-01-15");
        let a = self.api.post("/api/v1/accounts", body).await;
        assert_eq!(a.status.as_u16(), 201, "{a:?}");
        let id = a.body["id"].as_i64().unwrap();
        let contact =
            json!({"name": who, "role": "champion", "channel": "simulated", "address": who});
        let c = self
            .api
            .post(&format!("/api/v1/accounts/{id}/contacts"), contact)
            .await;
        assert_eq!(c.status.as_u16(), 201, "{c:?}");
        (id, c.body["id"].as_i64().unwrap())
    }

    /// A survey or check-in of `kind` sent to the contact at `at`.
    pub async fn sent(&self, account: i64, contact: i64, key: &str, kind: &str, at: DateTime<Utc>) {
        let category = kind
            .parse::<touchbot::domain::TouchKind>()
            .unwrap()
            .category();
        sqlx::query(
            "insert into touches (account_id, touch_key, rule, kind, category, template,
                                  contact_id, due_at, status, sent_at)
             values ($1, $2, $3, $3, $4, $3, $5, $6, 'sent', $6)",
        )
        .bind(account)
        .bind(key)
        .bind(kind)
        .bind(category.as_str())
        .bind(contact)
        .bind(at)
        .execute(self.pool())
        .await
        .unwrap();
    }

    /// `who` writes `text` at `at`, through the path every channel hands messages to.
    pub async fn says(&self, who: &str, text: &str, at: DateTime<Utc>) {
        let message = InboundMessage {
            channel: ChannelKind::Simulated,
            address: who.into(),
            provider_message_id: format!("{who}-{}", at.timestamp_micros()),
            content: InboundContent::Text(text.into()),
            received_at: at,
        };
        receive(self.pool(), Judge::from(&self.settings), &message, at)
            .await
            .unwrap();
    }

    /// A client whose contact answers an NPS survey with `score` at `at`: a detractor score
    /// opens an escalation. Returns the account's id.
    pub async fn answered_nps(&self, name: &str, csm: &str, score: u8, at: DateTime<Utc>) -> i64 {
        let who = name.to_lowercase();
        let (account, contact) = self.client(name, csm, &who).await;
        let sent_at = at - TimeDelta::hours(2);
        self.sent(account, contact, &format!("nps@{who}"), "nps", sent_at)
            .await;
        self.says(&who, &score.to_string(), at).await;
        account
    }

    /// A person acts on an escalation (take, resolve …).
    pub async fn acts(&self, id: i64, action: Action, by: StaffId, at: DateTime<Utc>) {
        act(self.pool(), EscalationId(id), &action, by, at)
            .await
            .unwrap();
    }

    /// The ladder's tick at `at`: escalations older than a week climb to the manager.
    pub async fn tick(&self, at: DateTime<Utc>) {
        touchbot::escalation::tick::tick(self.pool(), &self.settings.escalation, at)
            .await
            .unwrap();
    }

    /// The detractor escalation of an account.
    pub async fn detractor_escalation(&self, account: i64) -> i64 {
        let page = self
            .api
            .get(&format!("/api/v1/escalations?account={account}&limit=200"))
            .await;
        assert_eq!(page.status.as_u16(), 200, "{page:?}");
        items(&page.body)
            .iter()
            .find(|e| e["reason"] == "detractor")
            .and_then(|e| e["id"].as_i64())
            .unwrap_or_else(|| panic!("no detractor escalation for {account}: {}", page.body))
    }

    /// Every item of a list, walking its pages `limit` at a time; checks each page's size.
    pub async fn walk(&self, path: &str, limit: usize) -> (Vec<Value>, usize) {
        let join = if path.contains('?') { '&' } else { '?' };
        let (mut all, mut pages, mut cursor) = (vec![], 0, None::<String>);
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}{join}limit={limit}&cursor={c}"),
                None => format!("{path}{join}limit={limit}"),
            };
            let page = self.api.get(&url).await;
            assert_eq!(page.status.as_u16(), 200, "{url}: {page:?}");
            pages += 1;
            let got = items(&page.body);
            assert!(got.len() <= limit, "{url}: a page larger than asked");
            all.extend(got.iter().cloned());
            match page.body["next_cursor"].as_str() {
                Some(c) => {
                    assert_eq!(got.len(), limit, "{url}: only the last page is short");
                    cursor = Some(c.to_string());
                }
                None => break,
            }
        }
        (all, pages)
    }
}

pub fn items(body: &Value) -> &Vec<Value> {
    body["items"].as_array().expect("a page has items")
}

pub fn ids(items: &[Value]) -> Vec<i64> {
    items.iter().map(|i| i["id"].as_i64().unwrap()).collect()
}
