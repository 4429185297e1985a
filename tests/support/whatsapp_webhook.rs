//! Meta's side of the WhatsApp webhook for end-to-end tests: notifications shaped exactly as
//! the Cloud API posts them (`object`, `entry[].changes[].value` with `metadata`, `contacts`,
//! `messages` or `statuses`, `field: "messages"`), signed with `X-Hub-Signature-256` as Meta
//! signs them, and the GET verification Meta makes when the webhook is subscribed.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::fake_whatsapp::PHONE_NUMBER_ID;

pub const APP_SECRET: &str = "test-app-secret-0123456789abcdef";
pub const VERIFY_TOKEN: &str = "test-verify-token";
pub const PATH: &str = "/webhooks/whatsapp";
const WABA_ID: &str = "102290129340398";
const DISPLAY_NUMBER: &str = "15550783881";

/// `sha256=<hex HMAC-SHA256(secret, body)>`, the header Meta sends.
pub fn sign(body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn envelope(value: Value) -> Vec<u8> {
    let mut value = value;
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] = json!({
        "display_phone_number": DISPLAY_NUMBER,
        "phone_number_id": PHONE_NUMBER_ID,
    });
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }))
    .unwrap()
}

/// A notification of `messages` from `from` (digits), whose profile name is `name`.
pub fn messages(from: &str, name: &str, messages: Vec<Value>) -> Vec<u8> {
    envelope(json!({
        "contacts": [{"profile": {"name": name}, "wa_id": from}],
        "messages": messages,
    }))
}

/// A notification of `statuses`.
pub fn statuses(statuses: Vec<Value>) -> Vec<u8> {
    envelope(json!({ "statuses": statuses }))
}

fn message(from: &str, wamid: &str, kind: &str, body: Value) -> Value {
    let mut m = json!({
        "from": from,
        "id": wamid,
        "timestamp": chrono::Utc::now().timestamp().to_string(),
        "type": kind,
    });
    m[kind] = body;
    m
}

fn in_reply_to(mut m: Value) -> Value {
    m["context"] = json!({"from": DISPLAY_NUMBER, "id": "wamid.HBgLNzcwMTEyMzQ1NjcVAgARGBI1"});
    m
}

pub fn text(from: &str, wamid: &str, body: &str) -> Value {
    message(from, wamid, "text", json!({ "body": body }))
}

/// A tap on an interactive reply button.
pub fn button_reply(from: &str, wamid: &str, id: &str, title: &str) -> Value {
    in_reply_to(message(
        from,
        wamid,
        "interactive",
        json!({"type": "button_reply", "button_reply": {"id": id, "title": title}}),
    ))
}

/// A tap on a row of an interactive list.
pub fn list_reply(from: &str, wamid: &str, id: &str, title: &str) -> Value {
    in_reply_to(message(
        from,
        wamid,
        "interactive",
        json!({"type": "list_reply", "list_reply": {"id": id, "title": title, "description": ""}}),
    ))
}

/// A tap on a template's quick-reply button.
pub fn quick_reply(from: &str, wamid: &str, payload: &str, title: &str) -> Value {
    in_reply_to(message(
        from,
        wamid,
        "button",
        json!({"payload": payload, "text": title}),
    ))
}

pub fn image(from: &str, wamid: &str) -> Value {
    message(
        from,
        wamid,
        "image",
        json!({"mime_type": "image/jpeg", "sha256": "abc", "id": "1003383421387256"}),
    )
}

/// A `sent`, `delivered` or `read` status of the message `wamid`.
pub fn status(wamid: &str, state: &str, to: &str, callback: Option<&str>) -> Value {
    let mut s = json!({
        "id": wamid,
        "status": state,
        "timestamp": chrono::Utc::now().timestamp().to_string(),
        "recipient_id": to,
    });
    if state != "read" {
        s["conversation"] = json!({"id": "2bc1a5f3e4d6", "origin": {"type": "utility"}});
        s["pricing"] = json!({"billable": true, "pricing_model": "CBP", "category": "utility"});
    }
    if let Some(data) = callback {
        s["biz_opaque_callback_data"] = json!(data);
    }
    s
}

/// A `failed` status with one error.
pub fn failed(wamid: &str, to: &str, callback: Option<&str>, code: i64, title: &str) -> Value {
    let mut s = status(wamid, "failed", to, callback);
    s["errors"] = json!([{
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": format!("{title}.")},
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    }]);
    s
}

/// Meta's side of the webhook, pointed at a running service.
pub struct Meta {
    base: String,
    client: reqwest::Client,
}

impl Meta {
    pub fn new(addr: std::net::SocketAddr) -> Meta {
        Meta {
            base: format!("http://{addr}{PATH}"),
            client: reqwest::Client::new(),
        }
    }

    /// Posts `body` signed with the app secret; returns the HTTP status.
    pub async fn post(&self, body: &[u8]) -> u16 {
        self.post_with(body, Some(sign(body, APP_SECRET))).await
    }

    /// Posts `body` with the signature header given (or none).
    pub async fn post_with(&self, body: &[u8], signature: Option<String>) -> u16 {
        let mut request = self
            .client
            .post(&self.base)
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("X-Hub-Signature-256", signature);
        }
        request.send().await.unwrap().status().as_u16()
    }

    /// Meta's verification request; returns the status and the body.
    pub async fn verify(&self, token: &str, challenge: &str) -> (u16, String) {
        let response = self
            .client
            .get(&self.base)
            .query(&[
                ("hub.mode", "subscribe"),
                ("hub.verify_token", token),
                ("hub.challenge", challenge),
            ])
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }
}
