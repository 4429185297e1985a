//! A fake Telegram Bot API server for end-to-end tests: the real teloxide client talks to it
//! over HTTP on a port of its own.
//!
//! - Method names are matched case-insensitively, as the real server does (teloxide sends
//!   `SendMessage`, `GetUpdates`…).
//! - `GetUpdates` serves queued updates from the requested offset, forgets those below it (as
//!   Telegram does once they are confirmed), and holds an empty poll open until an update
//!   arrives or its timeout passes.
//! - Every call is recorded with its body (JSON, or the text fields of a multipart form, as
//!   teloxide sends `SetWebhook`); sends and edits answer with a message.
//! - Failures can be injected per method and chat: 429 with `retry_after`, the two 403s for a
//!   blocked bot and a never-started chat, 400 "chat not found" and a group's migration. It
//!   never answers 5xx, after which teloxide would sleep for 10 s.
//! - The platform's limits can be enforced (`enforce`): a send beyond 30 a second, one a second
//!   per chat or 20 a minute per group is answered 429 "Too Many Requests: retry after N" with
//!   `parameters.retry_after`, as Telegram does, and counted (`rate_limited`).
//! - Lost answers: a send can be accepted (the message counts as sent) and then answered only
//!   after a long wait, with a body that is not JSON, or with one teloxide cannot read; and
//!   every send can be given a latency, with the sends in flight counted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::platform_limits::{Enforcer, Limits};

pub const TOKEN: &str = "123456:TEST-token";
pub const BOT_ID: i64 = 123456;
pub const BOT_USERNAME: &str = "touch_test_bot";

/// How long a test waits for something the bot should do.
const PATIENCE: Duration = Duration::from_secs(15);
/// The longest an empty poll is held open, whatever the client asked.
const LONGEST_POLL: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    RetryAfter(u32),
    Blocked,
    CantInitiate,
    ChatNotFound,
    MigratedTo(i64),
    /// The message is accepted, and the answer comes only after this long.
    AcceptThenHang(Duration),
    /// The message is accepted, and the answer is a 200 whose body is not JSON.
    AcceptThenGarbage,
    /// The message is accepted, and the answer says `"ok":true` with a message teloxide cannot
    /// read (fields missing).
    AcceptThenOddAnswer,
}

/// What happens to an answer after the call was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Now,
    After(Duration),
    Garbage,
    Odd,
}

impl Failure {
    fn answer(self) -> (StatusCode, Value) {
        let (code, description, parameters) = match self {
            Failure::RetryAfter(s) => (
                429,
                format!("Too Many Requests: retry after {s}"),
                Some(json!({ "retry_after": s })),
            ),
            Failure::Blocked => (403, "Forbidden: bot was blocked by the user".into(), None),
            Failure::CantInitiate => (
                403,
                "Forbidden: bot can't initiate conversation with a user".into(),
                None,
            ),
            Failure::ChatNotFound => (400, "Bad Request: chat not found".into(), None),
            Failure::MigratedTo(id) => (
                400,
                "Bad Request: group chat was upgraded to a supergroup chat".into(),
                Some(json!({ "migrate_to_chat_id": id })),
            ),
            Failure::AcceptThenHang(_)
            | Failure::AcceptThenGarbage
            | Failure::AcceptThenOddAnswer => {
                unreachable!("an accepted call is answered as a success")
            }
        };
        let mut body = json!({ "ok": false, "error_code": code, "description": description });
        if let Some(p) = parameters {
            body["parameters"] = p;
        }
        (StatusCode::from_u16(code).unwrap(), body)
    }
}

/// One request the bot made.
#[derive(Debug, Clone)]
pub struct Call {
    /// Lower case, whatever the client sent.
    pub method: String,
    pub body: Value,
}

/// A message the bot sent, as a test looks at it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub chat: i64,
    pub message_id: i64,
    pub text: String,
    /// Rows of (label, callback data).
    pub buttons: Vec<Vec<(String, String)>>,
}

struct Injected {
    method: String,
    chat: Option<i64>,
    failure: Failure,
    times: u32,
}

#[derive(Default)]
struct State_ {
    updates: Vec<Value>,
    next_update_id: i64,
    calls: Vec<Call>,
    failures: Vec<Injected>,
    next_message_id: i64,
    /// The highest offset a GetUpdates asked for: everything below it is confirmed.
    confirmed: i64,
    /// Calls of this method wait until released (see `hold`).
    held: Option<String>,
    /// Calls waiting at the hold.
    waiting: usize,
    /// How long each send takes, as a real server's round trip would.
    latency: Duration,
    /// Sends received and not yet answered.
    in_flight: usize,
    /// The platform's limits, when enforced.
    limits: Option<Enforcer>,
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<State_>>,
    new_update: Arc<Notify>,
    /// Bumped on every call, for waiting on what the bot does.
    calls: watch::Sender<usize>,
    /// True while a method is held.
    gate: watch::Sender<bool>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State_> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct FakeTelegram {
    url: String,
    shared: Shared,
    server: JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn chat_json(id: i64) -> Value {
    if id > 0 {
        json!({ "id": id, "type": "private", "first_name": "Client" })
    } else {
        json!({ "id": id, "type": "supergroup", "title": "CS team" })
    }
}

fn user_json(id: i64) -> Value {
    json!({ "id": id, "is_bot": false, "first_name": "Client", "language_code": "en" })
}

fn bot_json() -> Value {
    json!({ "id": BOT_ID, "is_bot": true, "first_name": "Touch", "username": BOT_USERNAME })
}

fn text_message(message_id: i64, chat: i64, user: i64, text: &str) -> Value {
    json!({
        "message_id": message_id,
        "date": now_secs(),
        "chat": chat_json(chat),
        "from": user_json(user),
        "text": text,
    })
}

/// An update as Telegram would post it to a webhook: `text` typed in private chat `chat`.
pub fn text_update(update_id: i64, chat: i64, text: &str) -> Value {
    json!({ "update_id": update_id, "message": text_message(update_id + 100, chat, chat, text) })
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

impl FakeTelegram {
    pub async fn start() -> FakeTelegram {
        let (calls, _) = watch::channel(0);
        let (gate, _) = watch::channel(false);
        let shared = Shared {
            gate,
            state: Arc::new(Mutex::new(State_ {
                next_update_id: 1,
                next_message_id: 1000,
                ..Default::default()
            })),
            new_update: Arc::new(Notify::new()),
            calls,
        };
        let app = Router::new()
            .route("/{token}/{method}", post(api))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeTelegram {
            url,
            shared,
            server,
        }
    }

    /// The base address to give teloxide (TELOXIDE_API_URL).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn bot(&self) -> teloxide::Bot {
        teloxide::Bot::new(TOKEN).set_api_url(self.url.parse().unwrap())
    }

    fn push(&self, kind: &str, payload: Value) -> i64 {
        let mut state = self.shared.lock();
        let id = state.next_update_id;
        state.next_update_id += 1;
        state
            .updates
            .push(json!({ "update_id": id, kind: payload }));
        drop(state);
        self.shared.new_update.notify_waiters();
        id
    }

    /// A user types `text` in chat `chat` (a private chat: the user's id is the chat's).
    pub fn push_text(&self, chat: i64, text: &str) -> i64 {
        self.push_text_from(chat, chat.abs(), text)
    }

    pub fn push_text_from(&self, chat: i64, user: i64, text: &str) -> i64 {
        let message_id = self.next_message_id();
        self.push("message", text_message(message_id, chat, user, text))
    }

    /// The service message Telegram posts in a group that became a supergroup.
    pub fn push_migration(&self, old: i64, new: i64) -> i64 {
        let message_id = self.next_message_id();
        self.push(
            "message",
            json!({
                "message_id": message_id,
                "date": now_secs(),
                "chat": { "id": old, "type": "group", "title": "CS team" },
                "from": user_json(7),
                "migrate_to_chat_id": new,
            }),
        )
    }

    /// A user taps a button with `data` under the bot's message `message_id`; returns the
    /// callback query's id.
    pub fn push_tap(&self, chat: i64, message_id: i64, data: &str) -> String {
        self.push_tap_from(chat, chat.abs(), message_id, data)
    }

    /// `user` replies in `chat` to the bot's message `reply_to` with `text`.
    pub fn push_reply_from(&self, chat: i64, user: i64, reply_to: i64, text: &str) -> i64 {
        let message_id = self.next_message_id();
        let mut message = text_message(message_id, chat, user, text);
        message["reply_to_message"] = json!({
            "message_id": reply_to,
            "date": now_secs(),
            "chat": chat_json(chat),
            "from": bot_json(),
            "text": "(the bot's message)",
        });
        self.push("message", message)
    }

    /// The user `user` taps a button in `chat` (a group: someone other than the chat).
    pub fn push_tap_from(&self, chat: i64, user: i64, message_id: i64, data: &str) -> String {
        let query_id = format!("q{}", self.next_message_id());
        self.push(
            "callback_query",
            json!({
                "id": query_id,
                "from": user_json(user),
                "message": {
                    "message_id": message_id,
                    "date": now_secs(),
                    "chat": chat_json(chat),
                    "from": bot_json(),
                    "text": "(the bot's message)",
                },
                "chat_instance": format!("ci{chat}"),
                "data": data,
            }),
        );
        query_id
    }

    /// Answers the next `times` calls of `method` (to `chat`, if given) with `failure`.
    pub fn fail(&self, method: &str, chat: Option<i64>, failure: Failure, times: u32) {
        self.shared.lock().failures.push(Injected {
            method: method.to_ascii_lowercase(),
            chat,
            failure,
            times,
        });
    }

    /// Makes every call of `method` wait (the bot's request stays in flight) until
    /// [`FakeTelegram::release`].
    pub fn hold(&self, method: &str) {
        self.shared.lock().held = Some(method.to_ascii_lowercase());
        self.shared.gate.send_replace(true);
    }

    pub fn release(&self) {
        self.shared.lock().held = None;
        self.shared.gate.send_replace(false);
    }

    /// How many calls are waiting at the hold.
    pub fn held_calls(&self) -> usize {
        self.shared.lock().waiting
    }

    /// How many messages each chat has received (accepted sends, twisted ones included).
    pub fn sent_per_chat(&self) -> std::collections::HashMap<i64, usize> {
        let mut counts = std::collections::HashMap::new();
        for call in self.shared.lock().calls.iter() {
            if call.method == "sendmessage"
                && call.body.get("result").is_some()
                && let Some(chat) = chat_of(&call.body)
            {
                *counts.entry(chat).or_default() += 1;
            }
        }
        counts
    }

    /// From now on, sends beyond `limits` are refused with a 429, as Telegram refuses them.
    pub fn enforce(&self, limits: Limits) {
        self.shared.lock().limits = Some(Enforcer::new(limits));
    }

    /// How many sends the enforced limits refused.
    pub fn rate_limited(&self) -> usize {
        let state = self.shared.lock();
        state.limits.as_ref().map_or(0, |e| e.refused().len())
    }

    /// Sends the bot has made that are still waiting for their answer (see `slow_down`).
    pub fn in_flight(&self) -> usize {
        self.shared.lock().in_flight
    }

    /// Messages accepted so far, all chats together.
    pub fn sent_total(&self) -> usize {
        self.sent_per_chat().values().sum()
    }

    fn next_message_id(&self) -> i64 {
        let mut state = self.shared.lock();
        state.next_message_id += 1;
        state.next_message_id
    }

    pub fn calls(&self, method: &str) -> Vec<Call> {
        let method = method.to_ascii_lowercase();
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// Messages the bot sent successfully to `chat`, in order.
    pub fn sent_to(&self, chat: i64) -> Vec<Sent> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| c.method == "sendmessage" && c.body.get("result").is_some())
            .filter_map(|c| sent(&c.body))
            .filter(|s| s.chat == chat)
            .collect()
    }

    /// The offset the bot has confirmed up to.
    pub fn confirmed(&self) -> i64 {
        self.shared.lock().confirmed
    }

    /// Every later send takes `latency` before it is answered.
    pub fn slow_down(&self, latency: Duration) {
        self.shared.lock().latency = latency;
    }

    /// Waits until `done` holds, or fails the test saying what was awaited.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&FakeTelegram) -> bool) {
        self.wait_for(what, PATIENCE, done).await
    }

    /// As `wait_until`, with a patience of the caller's choosing.
    pub async fn wait_for(
        &self,
        what: &str,
        patience: Duration,
        done: impl Fn(&FakeTelegram) -> bool,
    ) {
        let mut calls = self.shared.calls.subscribe();
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            if done(self) {
                return;
            }
            let changed = tokio::time::timeout_at(deadline, calls.changed()).await;
            if changed.is_err() {
                let methods: Vec<String> = self
                    .shared
                    .lock()
                    .calls
                    .iter()
                    .map(|c| c.method.clone())
                    .collect();
                // A flood's whole history would drown the message: its end tells enough.
                let last = &methods[methods.len().saturating_sub(40)..];
                panic!(
                    "timed out waiting for {what}; the bot made {} calls, the last: {last:?}",
                    methods.len()
                );
            }
        }
    }

    /// Waits for the `n`-th message to `chat` and returns it.
    pub async fn message(&self, chat: i64, n: usize) -> Sent {
        self.wait_until(&format!("message {n} to chat {chat}"), |f| {
            f.sent_to(chat).len() >= n
        })
        .await;
        self.sent_to(chat)[n - 1].clone()
    }
}

/// Reads a recorded SendMessage (body plus the result we answered with).
fn sent(body: &Value) -> Option<Sent> {
    let chat = body.get("chat_id")?.as_i64()?;
    let buttons = body
        .pointer("/reply_markup/inline_keyboard")
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .map(|row| {
                    row.as_array()
                        .into_iter()
                        .flatten()
                        .map(|b| {
                            (
                                b["text"].as_str().unwrap_or_default().to_string(),
                                b["callback_data"].as_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Sent {
        chat,
        message_id: body.pointer("/result/message_id")?.as_i64()?,
        text: body.get("text")?.as_str()?.to_string(),
        buttons,
    })
}

/// The text fields of a multipart/form-data body (teloxide sends SetWebhook that way), as a
/// JSON object: a field that reads as JSON is kept as such, anything else as a string.
fn form_fields(content_type: &str, body: &[u8]) -> Option<Value> {
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let text = String::from_utf8_lossy(body);
    let mut fields = serde_json::Map::new();
    for part in text.split(&format!("--{boundary}")) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let Some(name) = head
            .split("name=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        let parsed = serde_json::from_str(value).unwrap_or_else(|_| json!(value));
        fields.insert(name.to_string(), parsed);
    }
    Some(Value::Object(fields))
}

async fn api(
    State(shared): State<Shared>,
    Path((token, method)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    if token != format!("bot{TOKEN}") {
        let body = json!({ "ok": false, "error_code": 401, "description": "Unauthorized" });
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    let method = method.to_ascii_lowercase();
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let body: Value = if content_type.starts_with("multipart/form-data") {
        form_fields(content_type, &body).unwrap_or(Value::Null)
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    let held = shared.lock().held.as_deref() == Some(method.as_str());
    if held {
        shared.lock().waiting += 1;
        shared.calls.send_modify(|n| *n += 1);
        let _ = shared.gate.subscribe().wait_for(|held| !held).await;
        shared.lock().waiting -= 1;
    }
    let latency = shared.lock().latency;
    if method == "sendmessage" && !latency.is_zero() {
        let _in_flight = InFlight::new(&shared);
        tokio::time::sleep(latency).await;
    }
    let (status, answer, delivery) = if method == "getupdates" {
        (
            StatusCode::OK,
            get_updates(&shared, &body).await,
            Delivery::Now,
        )
    } else {
        answer(&shared, &method, &body)
    };
    let mut recorded = body.clone();
    if let (Some(map), Some(result)) = (recorded.as_object_mut(), answer.get("result")) {
        map.insert("result".into(), result.clone());
    }
    shared.lock().calls.push(Call {
        method,
        body: recorded,
    });
    shared.calls.send_modify(|n| *n += 1);
    match delivery {
        Delivery::Now => {}
        Delivery::After(wait) => tokio::time::sleep(wait).await,
        Delivery::Garbage => {
            return (StatusCode::OK, "<html><body>502 Bad Gateway</body></html>").into_response();
        }
        Delivery::Odd => {
            let message = json!({
                "message_id": answer.pointer("/result/message_id"),
                "chat": { "id": answer.pointer("/result/chat/id") },
            });
            let odd = json!({ "ok": true, "result": message });
            return (StatusCode::OK, axum::Json(odd)).into_response();
        }
    }
    (status, axum::Json(answer)).into_response()
}

/// Counts a send from its arrival to its answer, or to the client going away (the server then
/// drops the handler and the message is never recorded).
struct InFlight(Shared);

impl InFlight {
    fn new(shared: &Shared) -> InFlight {
        shared.lock().in_flight += 1;
        shared.calls.send_modify(|n| *n += 1);
        InFlight(shared.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().in_flight -= 1;
    }
}

fn chat_of(body: &Value) -> Option<i64> {
    body.get("chat_id").and_then(Value::as_i64)
}

fn answer(shared: &Shared, method: &str, body: &Value) -> (StatusCode, Value, Delivery) {
    let mut state = shared.lock();
    let chat = chat_of(body);
    let mut delivery = Delivery::Now;
    if let Some(injected) = state
        .failures
        .iter_mut()
        .find(|f| f.method == method && f.times > 0 && (f.chat.is_none() || f.chat == chat))
    {
        injected.times -= 1;
        match injected.failure {
            Failure::AcceptThenHang(wait) => delivery = Delivery::After(wait),
            Failure::AcceptThenGarbage => delivery = Delivery::Garbage,
            Failure::AcceptThenOddAnswer => delivery = Delivery::Odd,
            failure => {
                let (status, body) = failure.answer();
                return (status, body, delivery);
            }
        }
    }
    if let (true, Some(limits), Some(chat)) = (method == "sendmessage", &mut state.limits, chat)
        && let Err(refused) = limits.admit(&chat.to_string(), chat < 0)
    {
        let retry_after = u32::try_from(refused.retry_after_secs()).unwrap_or(u32::MAX);
        let (status, body) = Failure::RetryAfter(retry_after).answer();
        return (status, body, Delivery::Now);
    }
    let (status, answer) = succeed(&mut state, method, body, chat);
    (status, answer, delivery)
}

fn succeed(
    state: &mut State_,
    method: &str,
    body: &Value,
    chat: Option<i64>,
) -> (StatusCode, Value) {
    let ok = |result: Value| (StatusCode::OK, json!({ "ok": true, "result": result }));
    match method {
        "getme" => ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "Touch", "username": BOT_USERNAME,
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "has_main_web_app": false,
        })),
        "getwebhookinfo" => ok(json!({
            "url": "", "has_custom_certificate": false, "pending_update_count": 0,
        })),
        "deletewebhook" | "setwebhook" | "setmycommands" | "answercallbackquery" => ok(json!(true)),
        "sendmessage" => {
            state.next_message_id += 1;
            let mut message = json!({
                "message_id": state.next_message_id,
                "date": now_secs(),
                "chat": chat_json(chat.unwrap_or_default()),
                "from": bot_json(),
                "text": body.get("text").cloned().unwrap_or(json!("")),
            });
            if let Some(markup) = body.get("reply_markup") {
                message["reply_markup"] = markup.clone();
            }
            ok(message)
        }
        "editmessagetext" | "editmessagereplymarkup" => ok(json!({
            "message_id": body.get("message_id").cloned().unwrap_or(json!(1)),
            "date": now_secs(),
            "chat": chat_json(chat.unwrap_or_default()),
            "from": bot_json(),
            "text": body.get("text").cloned().unwrap_or(json!("(edited)")),
        })),
        _ => (
            StatusCode::NOT_FOUND,
            json!({ "ok": false, "error_code": 404, "description": "Not Found: method not found" }),
        ),
    }
}

async fn get_updates(shared: &Shared, body: &Value) -> Value {
    let offset = body.get("offset").and_then(Value::as_i64).unwrap_or(0);
    let wait = body
        .get("timeout")
        .and_then(Value::as_u64)
        .map_or(Duration::ZERO, Duration::from_secs)
        .min(LONGEST_POLL);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let notified = shared.new_update.notified();
        {
            let mut state = shared.lock();
            state.confirmed = state.confirmed.max(offset);
            state
                .updates
                .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            if !state.updates.is_empty() {
                return json!({ "ok": true, "result": state.updates.clone() });
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return json!({ "ok": true, "result": [] });
        }
    }
}
