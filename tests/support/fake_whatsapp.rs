//! A fake WhatsApp Cloud API (Graph API) for end-to-end tests: the real channel talks to it
//! over HTTP on a port of its own, at `{base}/{phone_number_id}/messages`.
//!
//! - The bearer token and the phone number id are checked as Meta does: a wrong token gets
//!   401 with code 190, an unknown number id 400 with code 100 (subcode 33).
//! - Message shapes and limits are validated: `messaging_product`, the recipient's digits, a
//!   text body of 1-4096 characters, 1-3 reply buttons with unique ids and titles of 1-20
//!   characters under a body of at most 1024, and `biz_opaque_callback_data` of at most 512.
//!   A violation is refused with code 100 or 131009, as the real API refuses it.
//! - Templates: `name`, `language.code`, a body component of text parameters (no line breaks)
//!   and quick-reply button components (`sub_type: quick_reply`, `index`, one payload). Only
//!   templates registered with [`FakeWhatsApp::register_template`] exist: another name or
//!   language is refused with 132001, a wrong number of parameters with 132000, as Meta does.
//! - Accepted messages are recorded with their `wamid`; errors can be injected per recipient
//!   (130429, 131056, 131026, 190…), and an accepted message's answer can be lost (held until
//!   the client gives up, or replaced by a page that is not JSON).
//! - The platform's limits can be enforced (`enforce`): a send beyond the number's 80 a second
//!   is refused with 130429, one to a recipient within 6 s of the last with 131056, both as
//!   Meta answers them, and counted (`rate_limited`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::platform_limits::{Enforcer, Limits, Refusal};

pub const TOKEN: &str = "EAAGtest-whatsapp-access-token";
pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const VERSION: &str = "v21.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// An error answer: HTTP status, Graph API code, message.
    Error(u16, i64, &'static str),
    /// The message is accepted, and the answer comes only after this long.
    AcceptThenHang(Duration),
    /// The message is accepted, and the answer is a 200 whose body is not JSON.
    AcceptThenGarbage,
}

impl Failure {
    pub const THROUGHPUT: Failure = Failure::Error(
        400,
        130429,
        "(#130429) Rate limit hit: Cloud API message throughput has been reached.",
    );
    pub const PAIR_RATE: Failure = Failure::Error(
        400,
        131056,
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
    );
    pub const NOT_ON_WHATSAPP: Failure =
        Failure::Error(400, 131026, "(#131026) Message undeliverable");
    pub const TOKEN_EXPIRED: Failure = Failure::Error(
        401,
        190,
        "Error validating access token: Session has expired.",
    );
}

/// A message WhatsApp accepted, as a test looks at it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub wamid: String,
    pub to: String,
    /// "text", "interactive" or "template".
    pub kind: String,
    /// Empty for a template.
    pub text: String,
    /// Reply buttons as (id, title).
    pub buttons: Vec<(String, String)>,
    pub callback_data: Option<String>,
    pub template: Option<SentTemplate>,
}

/// A template message as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct SentTemplate {
    pub name: String,
    pub language: String,
    pub parameters: Vec<String>,
    /// Quick-reply payloads by button index.
    pub quick_replies: Vec<(usize, String)>,
}

struct Injected {
    to: String,
    failure: Failure,
    times: u32,
}

#[derive(Default)]
struct State_ {
    sent: Vec<Sent>,
    requests: usize,
    refused: Vec<(i64, String)>,
    failures: Vec<Injected>,
    authorizations: Vec<String>,
    /// (name, language code, number of body parameters).
    templates: Vec<(String, String, usize)>,
    /// The platform's limits, when enforced.
    limits: Option<Enforcer>,
    /// How long an accepted send waits before its answer (see `slow_down`).
    latency: Duration,
}

type Shared = Arc<Mutex<State_>>;

pub struct FakeWhatsApp {
    base: String,
    state: Shared,
    server: JoinHandle<()>,
}

impl Drop for FakeWhatsApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State_> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn graph_error(status: u16, code: i64, message: &str, subcode: Option<i64>) -> Response {
    let mut error = json!({
        "message": message,
        "type": if code == 190 { "OAuthException" } else { "GraphMethodException" },
        "code": code,
        "fbtrace_id": "AbCdEfGh123",
    });
    if let Some(sub) = subcode {
        error["error_subcode"] = json!(sub);
    }
    if code > 1000 {
        error["error_data"] = json!({"messaging_product": "whatsapp", "details": message});
    }
    (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(json!({ "error": error })),
    )
        .into_response()
}

fn invalid(message: &str) -> Result<(), (i64, String)> {
    Err((
        131009,
        format!("(#131009) Parameter value is not valid: {message}"),
    ))
}

/// Checks a send's shape against the Cloud API's rules; returns what a test looks at.
fn validate(body: &Value) -> Result<Sent, (i64, String)> {
    if body["messaging_product"] != "whatsapp" {
        return Err((
            100,
            "(#100) The parameter messaging_product is required.".into(),
        ));
    }
    let to = body["to"].as_str().unwrap_or("");
    if to.is_empty() || !to.chars().all(|c| c.is_ascii_digit()) {
        return Err((
            100,
            "(#100) Invalid parameter: the recipient phone number is not valid".into(),
        ));
    }
    let callback_data = body["biz_opaque_callback_data"]
        .as_str()
        .map(str::to_string);
    if callback_data.as_ref().is_some_and(|d| d.len() > 512) {
        invalid("biz_opaque_callback_data is longer than 512 characters")?;
    }
    let count = |v: &Value| v.as_str().map(|s| s.chars().count()).unwrap_or(0);
    let kind = body["type"].as_str().unwrap_or("text").to_string();
    let (text, buttons) = match kind.as_str() {
        "text" => {
            let n = count(&body["text"]["body"]);
            if !(1..=4096).contains(&n) {
                invalid("text.body must be 1-4096 characters")?;
            }
            (body["text"]["body"].as_str().unwrap().to_string(), vec![])
        }
        "interactive" => {
            let i = &body["interactive"];
            if i["type"] != "button" {
                invalid("only reply buttons are faked")?;
            }
            if !(1..=1024).contains(&count(&i["body"]["text"])) {
                invalid("interactive.body.text must be 1-1024 characters")?;
            }
            let list = i["action"]["buttons"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !(1..=3).contains(&list.len()) {
                invalid("a message takes 1 to 3 reply buttons")?;
            }
            let mut buttons = Vec::new();
            for b in &list {
                if b["type"] != "reply" || !(1..=20).contains(&count(&b["reply"]["title"])) {
                    invalid("a button title must be 1-20 characters")?;
                }
                if !(1..=256).contains(&count(&b["reply"]["id"])) {
                    invalid("a button id must be 1-256 characters")?;
                }
                let id = b["reply"]["id"].as_str().unwrap().to_string();
                if buttons.iter().any(|(seen, _)| *seen == id) {
                    invalid("button ids must be unique")?;
                }
                buttons.push((id, b["reply"]["title"].as_str().unwrap().to_string()));
            }
            (i["body"]["text"].as_str().unwrap().to_string(), buttons)
        }
        "template" => {
            return Ok(Sent {
                wamid: String::new(),
                to: to.to_string(),
                kind,
                text: String::new(),
                buttons: vec![],
                callback_data,
                template: Some(template_shape(&body["template"])?),
            });
        }
        other => {
            return Err((
                100,
                format!("(#100) Param type must be one of … ('{other}')"),
            ));
        }
    };
    Ok(Sent {
        wamid: String::new(),
        to: to.to_string(),
        kind,
        text,
        buttons,
        callback_data,
        template: None,
    })
}

/// Checks a template's shape (not whether it exists, which needs the registered list).
fn template_shape(t: &Value) -> Result<SentTemplate, (i64, String)> {
    let name = t["name"].as_str().unwrap_or("");
    let language = t["language"]["code"].as_str().unwrap_or("");
    if name.is_empty() || language.is_empty() {
        return Err((
            100,
            "(#100) template.name and template.language.code are required".into(),
        ));
    }
    let mut parameters = Vec::new();
    let mut quick_replies = Vec::new();
    for c in t["components"].as_array().cloned().unwrap_or_default() {
        match c["type"].as_str().unwrap_or("") {
            "body" => {
                for p in c["parameters"].as_array().cloned().unwrap_or_default() {
                    let text = p["text"].as_str().unwrap_or("");
                    if p["type"] != "text" || text.trim().is_empty() {
                        invalid("a body parameter must be non-empty text")?;
                    }
                    if text.contains(['\n', '\t']) || text.contains("     ") {
                        invalid("a parameter cannot have new lines, tabs or 5 spaces in a row")?;
                    }
                    parameters.push(text.to_string());
                }
            }
            "button" => {
                let index = c["index"]
                    .as_str()
                    .and_then(|i| i.parse::<usize>().ok())
                    .or_else(|| c["index"].as_u64().map(|i| i as usize));
                let payload = c["parameters"][0]["payload"].as_str().unwrap_or("");
                if c["sub_type"] != "quick_reply"
                    || c["parameters"][0]["type"] != "payload"
                    || payload.is_empty()
                    || index.is_none_or(|i| i >= 10)
                {
                    invalid("a quick reply needs sub_type, index and one payload parameter")?;
                }
                quick_replies.push((index.unwrap(), payload.to_string()));
            }
            other => invalid(&format!("unknown component type '{other}'"))?,
        }
    }
    Ok(SentTemplate {
        name: name.to_string(),
        language: language.to_string(),
        parameters,
        quick_replies,
    })
}

/// Whether Meta has the template: 132001 for an unknown name or language, 132000 for a
/// wrong number of parameters.
fn template_known(state: &State_, t: &SentTemplate) -> Result<(), (i64, String)> {
    let Some((_, _, count)) = state
        .templates
        .iter()
        .find(|(n, l, _)| *n == t.name && *l == t.language)
    else {
        return Err((
            132001,
            format!(
                "(#132001) Template name does not exist in the translation: template name \
                 ({}) does not exist in {}",
                t.name, t.language
            ),
        ));
    };
    if *count != t.parameters.len() {
        return Err((
            132000,
            format!(
                "(#132000) Number of parameters does not match the expected number of params: \
                 expected {count}, got {}",
                t.parameters.len()
            ),
        ));
    }
    Ok(())
}

async fn messages(
    State(state): State<Shared>,
    Path((version, number)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    lock(&state).requests += 1;
    lock(&state).authorizations.push(auth.clone());
    if auth != format!("Bearer {TOKEN}") {
        return graph_error(
            401,
            190,
            "Invalid OAuth access token - Cannot parse access token",
            None,
        );
    }
    if version != VERSION || number != PHONE_NUMBER_ID {
        return graph_error(
            400,
            100,
            &format!("Unsupported post request. Object with ID '{number}' does not exist"),
            Some(33),
        );
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return graph_error(400, 100, "(#100) The request body is not JSON", None);
    };
    let checked = validate(&body).and_then(|sent| match &sent.template {
        Some(t) => template_known(&lock(&state), t).map(|()| sent),
        None => Ok(sent),
    });
    let mut sent = match checked {
        Ok(sent) => sent,
        Err((code, message)) => {
            lock(&state).refused.push((code, message.clone()));
            return graph_error(400, code, &message, None);
        }
    };
    let failure = {
        let mut s = lock(&state);
        let found = s
            .failures
            .iter_mut()
            .find(|f| f.to == sent.to && f.times > 0);
        found.map(|f| {
            f.times -= 1;
            f.failure
        })
    };
    if let Some(Failure::Error(status, code, message)) = failure {
        return graph_error(status, code, message, None);
    }
    let refused = lock(&state)
        .limits
        .as_mut()
        .and_then(|limits| limits.admit(&sent.to, false).err());
    let refusal = refused.map(|refused| match refused {
        Refusal::Overall(_) => Failure::THROUGHPUT,
        Refusal::Chat(_) | Refusal::Group(_) => Failure::PAIR_RATE,
    });
    if let Some(Failure::Error(status, code, message)) = refusal {
        return graph_error(status, code, message, None);
    }
    let wamid = {
        let mut s = lock(&state);
        sent.wamid = format!("wamid.FAKE{}", s.sent.len() + 1);
        s.sent.push(sent.clone());
        sent.wamid.clone()
    };
    // Accepted first, answered late, as a real server's round trip: a sender that dies
    // meanwhile has had its message delivered without learning so.
    let latency = lock(&state).latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match failure {
        Some(Failure::AcceptThenHang(wait)) => tokio::time::sleep(wait).await,
        Some(Failure::AcceptThenGarbage) => {
            return (StatusCode::OK, "<html>upstream hiccup</html>").into_response();
        }
        _ => {}
    }
    axum::Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": sent.to, "wa_id": sent.to}],
        "messages": [{"id": wamid}],
    }))
    .into_response()
}

impl FakeWhatsApp {
    pub async fn start() -> FakeWhatsApp {
        let state: Shared = Arc::default();
        let app = Router::new()
            .route("/{version}/{number}/messages", post(messages))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/{VERSION}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeWhatsApp {
            base,
            state,
            server,
        }
    }

    /// The Graph API base with its version, as `[whatsapp] api_url` takes it.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Makes the next `times` sends to `to` (E.164 digits) fail as given.
    pub fn fail(&self, to: &str, failure: Failure, times: u32) {
        lock(&self.state).failures.push(Injected {
            to: to.to_string(),
            failure,
            times,
        });
    }

    /// From now on, sends beyond `limits` are refused with 130429 or 131056, as Meta refuses
    /// them.
    pub fn enforce(&self, limits: Limits) {
        lock(&self.state).limits = Some(Enforcer::new(limits));
    }

    /// How many sends the enforced limits refused.
    pub fn rate_limited(&self) -> usize {
        lock(&self.state)
            .limits
            .as_ref()
            .map_or(0, |e| e.refused().len())
    }

    /// Meta approved this template in this language, with this many body parameters.
    pub fn register_template(&self, name: &str, language: &str, parameters: usize) {
        lock(&self.state)
            .templates
            .push((name.to_string(), language.to_string(), parameters));
    }

    /// Every later accepted send is answered only after `latency`.
    pub fn slow_down(&self, latency: Duration) {
        lock(&self.state).latency = latency;
    }

    /// How many messages each recipient (E.164 digits) was sent.
    pub fn sent_per_recipient(&self) -> std::collections::HashMap<String, usize> {
        let mut counts = std::collections::HashMap::new();
        for sent in &lock(&self.state).sent {
            *counts.entry(sent.to.clone()).or_default() += 1;
        }
        counts
    }

    pub fn sent(&self) -> Vec<Sent> {
        lock(&self.state).sent.clone()
    }

    /// Every POST received, accepted or not.
    pub fn requests(&self) -> usize {
        lock(&self.state).requests
    }

    /// Sends refused for their shape, as (code, message): a test expects none.
    pub fn refused(&self) -> Vec<(i64, String)> {
        lock(&self.state).refused.clone()
    }
}
