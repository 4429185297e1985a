//! What Meta's webhook posts (`entry[].changes[].value` with `contacts[]`, `messages[]` and
//! `statuses[]`), read into the events touchbot keeps: one per message (`msg:<wamid>`) and
//! one per status of a message (`status:<wamid>:<status>`), so a redelivery is the same row.
//! Only the fields touchbot uses are typed; the rest is kept as Meta sent it.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
struct Notification {
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
struct Change {
    #[serde(default)]
    value: ChangeValue,
}

#[derive(Debug, Default, Deserialize)]
struct ChangeValue {
    #[serde(default)]
    contacts: Vec<Profile>,
    #[serde(default)]
    messages: Vec<Value>,
    #[serde(default)]
    statuses: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct Profile {
    wa_id: Option<String>,
    profile: Option<ProfileName>,
}

#[derive(Debug, Deserialize)]
struct ProfileName {
    name: Option<String>,
}

/// An event to store, as the webhook read it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub key: String,
    pub kind: &'static str,
    pub payload: Value,
}

/// The events of one webhook body. An error means the body is no notification at all; a
/// message or status without its id is left out (it could not be deduplicated), and logged.
pub fn read(body: &[u8]) -> Result<Vec<NewEvent>, serde_json::Error> {
    let notification: Notification = serde_json::from_slice(body)?;
    let mut events = Vec::new();
    for value in notification
        .entry
        .into_iter()
        .flat_map(|e| e.changes)
        .map(|c| c.value)
    {
        for message in value.messages {
            let Some(wamid) = message["id"].as_str() else {
                tracing::warn!("a WhatsApp message without an id was left out");
                continue;
            };
            let from = message["from"].as_str();
            let profile_name = value
                .contacts
                .iter()
                .find(|c| c.wa_id.as_deref() == from || value.contacts.len() == 1)
                .and_then(|c| c.profile.as_ref()?.name.clone());
            events.push(NewEvent {
                key: format!("msg:{wamid}"),
                kind: "message",
                payload: json!({ "message": message, "profile_name": profile_name }),
            });
        }
        for status in value.statuses {
            let (Some(wamid), Some(state)) = (status["id"].as_str(), status["status"].as_str())
            else {
                tracing::warn!("a WhatsApp status without its message id or state was left out");
                continue;
            };
            events.push(NewEvent {
                key: format!("status:{wamid}:{state}"),
                kind: "status",
                payload: status,
            });
        }
    }
    Ok(events)
}

/// A stored message event.
#[derive(Debug, Clone, Deserialize)]
pub struct StoredMessage {
    pub message: Message,
    pub profile_name: Option<String>,
}

/// One of `messages[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    /// The sender's number, digits only.
    pub from: String,
    /// The wamid.
    pub id: String,
    /// Unix seconds, as a string.
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: String,
    pub text: Option<TextBody>,
    pub interactive: Option<Interactive>,
    pub button: Option<TemplateButton>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TextBody {
    pub body: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Interactive {
    pub button_reply: Option<ReplyChoice>,
    pub list_reply: Option<ReplyChoice>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReplyChoice {
    pub id: String,
}

/// A template's quick-reply button, tapped.
#[derive(Debug, Clone, Deserialize)]
pub struct TemplateButton {
    pub payload: Option<String>,
}

/// What a message says, as far as touchbot reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    Text(String),
    /// A reply button, a list row or a template's quick reply: the data it carries.
    Tap(String),
}

impl Message {
    /// None for what the bot cannot read (an image, a voice note, a sticker, a location…).
    pub fn said(&self) -> Option<Said> {
        match self.kind.as_str() {
            "text" => self.text.as_ref().map(|t| Said::Text(t.body.clone())),
            "interactive" => {
                let i = self.interactive.as_ref()?;
                let choice = i.button_reply.as_ref().or(i.list_reply.as_ref())?;
                Some(Said::Tap(choice.id.clone()))
            }
            "button" => self.button.as_ref()?.payload.clone().map(Said::Tap),
            _ => None,
        }
    }

    /// When WhatsApp says it was sent; when that is unreadable, now.
    pub fn sent_at(&self) -> DateTime<Utc> {
        unix_time(self.timestamp.as_deref())
    }
}

/// One of `statuses[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    /// The wamid of the message it is about.
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub timestamp: Option<String>,
    pub biz_opaque_callback_data: Option<String>,
    #[serde(default)]
    pub errors: Vec<StatusError>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StatusError {
    pub code: i64,
    pub title: Option<String>,
}

impl Status {
    pub fn at(&self) -> DateTime<Utc> {
        unix_time(self.timestamp.as_deref())
    }
}

fn unix_time(seconds: Option<&str>) -> DateTime<Utc> {
    seconds
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .unwrap_or_else(Utc::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]
        }))
        .unwrap()
    }

    #[test]
    fn a_text_message_is_one_event_keyed_by_its_wamid_with_the_senders_profile_name() {
        let events = read(&body(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"profile": {"name": "Dana"}, "wa_id": "77011234567"}],
            "messages": [{"from": "77011234567", "id": "wamid.A1", "timestamp": "1764590000",
                          "type": "text", "text": {"body": "9"}}]
        })))
        .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].key, "msg:wamid.A1");
        let stored: StoredMessage = serde_json::from_value(events[0].payload.clone()).unwrap();
        assert_eq!(stored.profile_name.as_deref(), Some("Dana"));
        assert_eq!(stored.message.said(), Some(Said::Text("9".into())));
        assert_eq!(stored.message.sent_at().timestamp(), 1764590000);
    }

    #[test]
    fn taps_on_buttons_lists_and_template_quick_replies_read_as_their_data() {
        let tap = |m: Value| serde_json::from_value::<Message>(m).unwrap().said();
        let base = json!({"from": "1", "id": "w", "timestamp": "1"});
        let with = |extra: Value| {
            let mut m = base.clone();
            m.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            m
        };
        assert_eq!(
            tap(with(
                json!({"type": "interactive", "interactive": {"type": "button_reply",
                "button_reply": {"id": "nps:7:9", "title": "9"}}})
            )),
            Some(Said::Tap("nps:7:9".into()))
        );
        assert_eq!(
            tap(with(
                json!({"type": "interactive", "interactive": {"type": "list_reply",
                "list_reply": {"id": "row-2", "title": "Two"}}})
            )),
            Some(Said::Tap("row-2".into()))
        );
        assert_eq!(
            tap(with(
                json!({"type": "button", "button": {"payload": "nps:7:10", "text": "10"}})
            )),
            Some(Said::Tap("nps:7:10".into()))
        );
        assert_eq!(
            tap(with(json!({"type": "sticker", "sticker": {"id": "x"}}))),
            None
        );
    }

    #[test]
    fn each_status_is_its_own_event_and_a_body_that_is_no_notification_is_an_error() {
        let events = read(&body(json!({
            "statuses": [
                {"id": "wamid.S", "status": "delivered", "timestamp": "1", "recipient_id": "1"},
                {"id": "wamid.S", "status": "read", "timestamp": "2", "recipient_id": "1"},
                {"status": "read"}
            ]
        })))
        .unwrap();
        let keys: Vec<&str> = events.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["status:wamid.S:delivered", "status:wamid.S:read"]);
        assert!(read(b"{not json").is_err());
        assert!(read(b"[1, 2]").is_err());
    }
}
