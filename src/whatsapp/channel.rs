//! WhatsApp as a [`Channel`]: touches go out through the Graph API's messages endpoint, and its
//! refusals are read into the dispatcher's vocabulary.
//!
//! - 130429 (the number's throughput) and 131056 (too many messages to one recipient) →
//!   `RateLimited`: the dispatcher pauses that recipient and the touch keeps its place.
//! - 131026 (not a WhatsApp user, or cannot receive) and 131030 (not on a test number's list)
//!   → `Permanent(UnknownChat)`; a bad `to` (code 100 on the recipient) → `InvalidAddress`.
//!   The dispatcher then marks the contact unreachable, once.
//! - An expired or wrong access token (401, code 190) is `Transient`, logged loudly: the touch
//!   waits for a good token rather than failing for good.
//! - Only what provably never left is retried: a connection that could not be made, or an error
//!   the platform answered with. A timeout, a connection broken mid-request, a 5xx without an
//!   error body or an answer that cannot be read may follow a message Meta accepted, so they
//!   are `Unknown`: the send is left 'unknown', never resent blindly. Each send carries the
//!   touch's key as `biz_opaque_callback_data`, which status webhooks will bring back to
//!   settle those.
//!
//! Templates: a message the dispatcher marked as a template (outside the 24-hour window) goes
//! as `"type":"template"` with its name, language and body parameters, and its buttons as
//! quick replies carrying their data as payloads (none when they do not fit, as for NPS). A
//! template Meta does not have, or whose parameters do not match (132001, 132000…), fails that
//! touch for good with what to do.
//!
//! Buttons: up to 3 with titles of at most 20 characters go as interactive reply buttons (the
//! tap comes back with the button's data as its id); more, or longer, go as text, since
//! WhatsApp would refuse them: a numeric scale (NPS 0-10) as the numbers to type, other choices
//! as a numbered list.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::channel::{
    Button, Channel, Delivered, Lookup, OutboundMessage, PermanentReason, SendError,
    TemplateMessage,
};
use crate::domain::ChannelKind;

use super::WhatsAppSettings;

/// WhatsApp's limits: a text body, an interactive body, reply buttons and their titles.
pub const MAX_TEXT_LEN: usize = 4096;
pub const MAX_INTERACTIVE_BODY_LEN: usize = 1024;
pub const MAX_REPLY_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE_LEN: usize = 20;
pub const MAX_BUTTON_ID_LEN: usize = 256;

/// How long to hold a recipient back after each kind of "slow down"; Meta gives no wait.
const THROUGHPUT_BACKOFF: Duration = Duration::from_secs(2);
const PAIR_RATE_BACKOFF: Duration = Duration::from_secs(30);
const ACCOUNT_RATE_BACKOFF: Duration = Duration::from_secs(60);

pub struct WhatsAppChannel {
    client: reqwest::Client,
    messages_url: String,
    token: SecretString,
}

impl std::fmt::Debug for WhatsAppChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsAppChannel").finish_non_exhaustive()
    }
}

impl WhatsAppChannel {
    /// The channel, when the token and the number's id are configured.
    pub fn from_settings(settings: &WhatsAppSettings) -> anyhow::Result<Option<Self>> {
        let (Some(token), Some(url)) = (&settings.access_token, settings.messages_url()) else {
            return Ok(None);
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.request_timeout_seconds.into()))
            .build()
            .map_err(|e| anyhow::anyhow!("could not build the WhatsApp HTTP client: {e}"))?;
        Ok(Some(WhatsAppChannel {
            client,
            messages_url: url,
            token: token.0.clone(),
        }))
    }
}

fn permanent(reason: PermanentReason, detail: impl Into<String>) -> SendError {
    SendError::Permanent {
        reason,
        detail: detail.into(),
    }
}

/// The request body for `message` to the number `to` (E.164 digits).
pub fn payload(message: &OutboundMessage, to: &str) -> Value {
    let buttons: Vec<&Button> = message.buttons.iter().flatten().collect();
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "biz_opaque_callback_data": message.idempotency_key,
    });
    let fields = body.as_object_mut().expect("an object");
    if let Some(template) = &message.template {
        fields.insert("type".into(), json!("template"));
        fields.insert("template".into(), template_payload(template, &buttons));
    } else if fits_reply_buttons(&message.text, &buttons) {
        let replies: Vec<Value> = buttons
            .iter()
            .map(|b| json!({"type": "reply", "reply": {"id": b.data, "title": b.label}}))
            .collect();
        fields.insert("type".into(), json!("interactive"));
        fields.insert(
            "interactive".into(),
            json!({
                "type": "button",
                "body": {"text": message.text},
                "action": {"buttons": replies},
            }),
        );
    } else {
        fields.insert("type".into(), json!("text"));
        fields.insert(
            "text".into(),
            json!({"body": with_choices_as_text(&message.text, &buttons), "preview_url": false}),
        );
    }
    body
}

/// A template's name, language and components: the body's parameters as text, and a payload
/// for each quick-reply button (the button's data, read back like a tap on a reply button).
fn template_payload(template: &TemplateMessage, buttons: &[&Button]) -> Value {
    let mut components = Vec::new();
    if !template.parameters.is_empty() {
        let parameters: Vec<Value> = template
            .parameters
            .iter()
            .map(|p| json!({"type": "text", "text": p}))
            .collect();
        components.push(json!({"type": "body", "parameters": parameters}));
    }
    for (index, button) in quick_replies(buttons).iter().enumerate() {
        components.push(json!({
            "type": "button",
            "sub_type": "quick_reply",
            "index": index.to_string(),
            "parameters": [{"type": "payload", "payload": button.data}],
        }));
    }
    json!({
        "name": template.name,
        "language": {"code": template.language},
        "components": components,
    })
}

/// The buttons a template carries as quick replies: all of them when they fit (at most 3,
/// titles of at most 20 characters), else none and the body asks for a typed answer (NPS,
/// CSAT). `touchbot whatsapp templates` registers the same ones.
pub fn quick_replies<'a>(buttons: &[&'a Button]) -> Vec<&'a Button> {
    let fit = buttons.len() <= MAX_REPLY_BUTTONS
        && buttons
            .iter()
            .all(|b| (1..=MAX_BUTTON_TITLE_LEN).contains(&b.label.chars().count()));
    if fit { buttons.to_vec() } else { Vec::new() }
}

fn fits_reply_buttons(text: &str, buttons: &[&Button]) -> bool {
    (1..=MAX_REPLY_BUTTONS).contains(&buttons.len())
        && text.chars().count() <= MAX_INTERACTIVE_BODY_LEN
        && buttons.iter().all(|b| {
            (1..=MAX_BUTTON_TITLE_LEN).contains(&b.label.chars().count())
                && (1..=MAX_BUTTON_ID_LEN).contains(&b.data.len())
        })
}

/// The text with the choices it cannot carry as buttons: a scale as its numbers, which the
/// client types back (the reply parser reads a leading number as the score), anything else as
/// a numbered list.
pub fn with_choices_as_text(text: &str, buttons: &[&Button]) -> String {
    if buttons.is_empty() {
        return text.to_string();
    }
    let numbers: Option<Vec<i64>> = buttons
        .iter()
        .map(|b| b.label.trim().parse().ok())
        .collect();
    let choices = match numbers {
        Some(n) => n
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" · "),
        None => buttons
            .iter()
            .enumerate()
            .map(|(i, b)| format!("{}. {}", i + 1, b.label))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    format!("{text}\n\n{choices}")
}

/// Graph API error codes, read into the dispatcher's kind of failure.
pub fn classify(status: StatusCode, body: &str) -> SendError {
    use PermanentReason::*;
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let Some(error) = error else {
        return if status.is_server_error() {
            SendError::Unknown(format!("WhatsApp answered {status} without saying why"))
        } else {
            SendError::Unknown(format!("WhatsApp's answer ({status}) could not be read"))
        };
    };
    let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
    let message = error.get("message").and_then(Value::as_str).unwrap_or("");
    let details = error
        .pointer("/error_data/details")
        .and_then(Value::as_str)
        .unwrap_or("");
    let detail = format!("WhatsApp error {code}: {message} {details}")
        .trim()
        .to_string();
    let rate_limited = |wait: Duration| SendError::RateLimited { retry_after: wait };
    match code {
        130429 => rate_limited(THROUGHPUT_BACKOFF),
        131056 => rate_limited(PAIR_RATE_BACKOFF),
        4 | 80007 | 131048 => rate_limited(ACCOUNT_RATE_BACKOFF),
        131026 | 131030 => permanent(UnknownChat, detail),
        132000 | 132001 | 132012 | 132015 | 132016 => template_refused(code, detail),
        190 => token_refused(detail),
        _ if status == StatusCode::UNAUTHORIZED => token_refused(detail),
        100 if error.get("error_subcode").and_then(Value::as_i64) == Some(33) => number_refused(),
        10 | 200 => number_refused(),
        100 if mentions_recipient(message, details) => permanent(InvalidAddress, detail),
        131000 | 131016 | 133004 => SendError::Transient(detail),
        _ if status.is_server_error() => SendError::Transient(detail),
        _ => permanent(Rejected, detail),
    }
}

/// A template Meta does not have (in that language), paused, disabled, or whose parameters do
/// not match what was registered: retrying will not help, the team has to act.
fn template_refused(code: i64, detail: String) -> SendError {
    let what = match code {
        132001 => "the template does not exist at Meta in that language, or is not approved yet",
        132000 | 132012 => "the parameters do not match the template registered at Meta",
        _ => "Meta paused or disabled the template",
    };
    permanent(
        PermanentReason::Rejected,
        format!(
            "{what} ({detail}); register it as `touchbot whatsapp templates` prints it, or \
             correct its name and languages in [whatsapp.templates]"
        ),
    )
}

fn mentions_recipient(message: &str, details: &str) -> bool {
    let text = format!("{message} {details}").to_lowercase();
    text.contains("recipient") || text.contains("phone number") || text.contains("'to'")
}

fn token_refused(detail: String) -> SendError {
    tracing::error!(
        "WhatsApp refused the access token; set a valid WHATSAPP_ACCESS_TOKEN (touches wait \
         meanwhile)"
    );
    SendError::Transient(format!("the access token was refused: {detail}"))
}

/// A setup fault, not the touch's: it waits for the operator like a refused token. Meta's
/// message names the number's id, so it is left out.
fn number_refused() -> SendError {
    tracing::error!(
        "WhatsApp does not know the sending number's id, or the token may not send from it; \
         check WHATSAPP_PHONE_NUMBER_ID and the token's permissions (touches wait meanwhile)"
    );
    SendError::Transient(
        "the Graph API refused the sending number (WHATSAPP_PHONE_NUMBER_ID, or the token's \
         permissions)"
            .into(),
    )
}

/// Reads a transport error; the URL is dropped (it names the number's id).
fn classify_transport(error: reqwest::Error) -> SendError {
    let error = error.without_url();
    if error.is_connect() {
        SendError::Transient(format!("could not connect to WhatsApp: {error}"))
    } else if error.is_timeout() {
        SendError::Unknown(format!("WhatsApp did not answer in time: {error}"))
    } else if error.is_builder() {
        SendError::Transient(format!("the request could not be built: {error}"))
    } else {
        SendError::Unknown(format!(
            "the connection to WhatsApp broke mid-request: {error}"
        ))
    }
}

/// The message's id (wamid) from a successful answer.
fn accepted(body: &str) -> Option<Delivered> {
    let value: Value = serde_json::from_str(body).ok()?;
    let id = value.pointer("/messages/0/id")?.as_str()?;
    Some(Delivered {
        provider_message_id: id.to_string(),
    })
}

fn check(message: &OutboundMessage) -> Result<String, SendError> {
    // Numbers stored before they were kept with their `+` are digits alone.
    let stored = format!("+{}", super::phone::graph_digits(&message.to.address));
    let to = super::phone::normalise_e164(&stored)
        .map_err(|why| permanent(PermanentReason::InvalidAddress, why))?;
    let to = super::phone::graph_digits(&to).to_string();
    if let Some(template) = &message.template {
        // A template's words are Meta's copy; only what we fill in can be wrong here.
        if template.parameters.iter().any(|p| p.trim().is_empty()) {
            return Err(permanent(
                PermanentReason::Rejected,
                format!("a parameter of template '{}' is empty", template.name),
            ));
        }
        return Ok(to);
    }
    // Choices that do not fit as buttons are written into the text, and count against it.
    let buttons: Vec<&Button> = message.buttons.iter().flatten().collect();
    let length = if fits_reply_buttons(&message.text, &buttons) {
        message.text.chars().count()
    } else {
        with_choices_as_text(&message.text, &buttons)
            .chars()
            .count()
    };
    if length > MAX_TEXT_LEN {
        return Err(permanent(
            PermanentReason::Rejected,
            format!("the text is {length} characters long; WhatsApp takes at most {MAX_TEXT_LEN}"),
        ));
    }
    if message.text.trim().is_empty() {
        return Err(permanent(PermanentReason::Rejected, "the text is empty"));
    }
    Ok(to)
}

#[async_trait]
impl Channel for WhatsAppChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Whatsapp
    }

    async fn send(&self, message: &OutboundMessage) -> Result<Delivered, SendError> {
        let to = check(message)?;
        let response = self
            .client
            .post(&self.messages_url)
            .bearer_auth(self.token.expose_secret())
            .json(&payload(message, &to))
            .send()
            .await
            .map_err(classify_transport)?;
        let status = response.status();
        let body = response.text().await.map_err(classify_transport)?;
        if status.is_success() {
            // Accepted, but without its id we cannot tell it from a proxy's page: left unknown.
            return accepted(&body).ok_or_else(|| {
                SendError::Unknown(format!("WhatsApp's answer ({status}) could not be read"))
            });
        }
        Err(classify(status, &body))
    }

    async fn lookup(&self, _idempotency_key: &str) -> Lookup {
        // The status webhooks will settle these through biz_opaque_callback_data.
        Lookup::Unsupported
    }
}

#[cfg(test)]
mod tests;
