//! Telegram as a [`Channel`]: the dispatchers' touches and staff posts go out through the Bot
//! API, and Telegram's refusals are read into the dispatcher's vocabulary.
//!
//! - 429 → `RateLimited { retry_after }`: the dispatcher pauses that chat and retries the
//!   touch then, keeping its place in line; nothing here sleeps or retries on its own.
//! - Blocked by the user → `Permanent(Blocked)`; "bot can't initiate conversation" (the user
//!   never pressed Start), "chat not found", a deleted account, a bot removed from a group →
//!   `Permanent(UnknownChat)`. The dispatcher then marks the contact unreachable, once.
//! - A group upgraded to a supergroup answers with its new id: the team chat is moved to it
//!   and the message is sent again at once, inside this same send. Resending is safe: Telegram
//!   refused the first try, so nothing arrived, and waiting for the dispatcher's retry would
//!   only delay the card.
//! - Only what provably never left is `Transient` (retried with backoff): a connection that
//!   could not be made. A timeout, a connection broken mid-request or an unreadable answer may
//!   follow a message Telegram accepted, so they are `Unknown`: the send is left 'unknown',
//!   never resent blindly. teloxide does not tell us the HTTP status of an unreadable answer;
//!   one whose body still says `"ok":true` is taken as sent (a 2xx: Telegram answers errors
//!   with `"ok":false`), anything else as unknown.
//! - Text over Telegram's 4096 characters is refused as `Permanent(Rejected)` rather than
//!   split: a split message that fails halfway would be resent in part. Long staff posts (the
//!   digest) are split before they are queued.
//!
//! Telegram cannot say whether an earlier send arrived, so `lookup` is `Unsupported`.

use async_trait::async_trait;
use sqlx::PgPool;
use teloxide::ApiError;
use teloxide::RequestError;
use teloxide::payloads::SendMessageSetters;
use teloxide::prelude::Requester;
use teloxide::types::{ChatId, InlineKeyboardButton, InlineKeyboardMarkup};
use teloxide::{Bot, types::Message};

use crate::channel::{
    Button, Channel, Delivered, Lookup, OutboundMessage, PermanentReason, SendError,
};
use crate::domain::ChannelKind;

/// Telegram's limit on a message's text, in UTF-16 code units (as Telegram counts).
pub const MAX_TEXT_LEN: usize = 4096;

pub struct TelegramChannel {
    bot: Bot,
    pool: PgPool,
}

impl std::fmt::Debug for TelegramChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bot holds the token: never print it.
        f.debug_struct("TelegramChannel").finish_non_exhaustive()
    }
}

impl TelegramChannel {
    pub fn new(bot: Bot, pool: PgPool) -> Self {
        TelegramChannel { bot, pool }
    }

    async fn send_to(
        &self,
        chat: ChatId,
        message: &OutboundMessage,
    ) -> Result<Message, RequestError> {
        let request = self.bot.send_message(chat, message.text.clone());
        if message.buttons.is_empty() {
            request.await
        } else {
            request.reply_markup(keyboard(&message.buttons)).await
        }
    }
}

/// Our button rows as an inline keyboard: each button sends its data back when tapped.
pub fn keyboard(rows: &[Vec<Button>]) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(rows.iter().map(|row| {
        row.iter()
            .map(|b| InlineKeyboardButton::callback(b.label.clone(), b.data.clone()))
            .collect::<Vec<_>>()
    }))
}

/// How a delivered message is named: Telegram numbers messages per chat.
pub fn provider_message_id(message: &Message) -> String {
    format!("{}:{}", message.chat.id.0, message.id.0)
}

fn permanent(reason: PermanentReason, detail: impl Into<String>) -> SendError {
    SendError::Permanent {
        reason,
        detail: detail.into(),
    }
}

/// Reads a Telegram error as the dispatcher's kind of failure.
pub fn classify(error: &RequestError) -> SendError {
    match error {
        RequestError::RetryAfter(wait) => SendError::RateLimited {
            retry_after: wait.duration(),
        },
        RequestError::Api(api) => classify_api(api),
        RequestError::MigrateToChatId(_) => {
            SendError::Transient("the group became a supergroup; sending to its new id".into())
        }
        // teloxide strips the token from the URL in these before we see them.
        RequestError::Network(e) if e.is_connect() => {
            SendError::Transient(format!("could not connect to Telegram: {e}"))
        }
        RequestError::Network(e) if e.is_timeout() => {
            SendError::Unknown(format!("Telegram did not answer in time: {e}"))
        }
        RequestError::Network(e) => {
            SendError::Unknown(format!("the connection to Telegram broke mid-request: {e}"))
        }
        RequestError::InvalidJson { .. } => {
            SendError::Unknown("Telegram's answer could not be read".into())
        }
        RequestError::Io(e) => {
            SendError::Unknown(format!("I/O error while talking to Telegram: {e}"))
        }
    }
}

/// An answer teloxide could not read that still says `"ok":true`: Telegram took the message.
/// Its id is read from the body if it is there, for editing the message later.
pub fn accepted_despite_unreadable_answer(error: &RequestError) -> Option<Delivered> {
    let RequestError::InvalidJson { raw, .. } = error else {
        return None;
    };
    let body: serde_json::Value = serde_json::from_str(raw).ok()?;
    if body.get("ok")?.as_bool()? {
        let chat = body.pointer("/result/chat/id").and_then(|v| v.as_i64());
        let id = body.pointer("/result/message_id").and_then(|v| v.as_i64());
        let provider_message_id = match (chat, id) {
            (Some(chat), Some(id)) => format!("{chat}:{id}"),
            _ => "unreadable-answer".to_string(),
        };
        return Some(Delivered {
            provider_message_id,
        });
    }
    None
}

fn classify_api(api: &ApiError) -> SendError {
    use PermanentReason::*;
    let text = match api {
        ApiError::Unknown(text) => text.clone(),
        known => known.to_string(),
    };
    match api {
        ApiError::BotBlocked => permanent(Blocked, text),
        ApiError::ChatNotFound
        | ApiError::UserNotFound
        | ApiError::CantInitiateConversation
        | ApiError::UserDeactivated
        | ApiError::CantTalkWithBots
        | ApiError::BotKicked
        | ApiError::BotKickedFromSupergroup
        | ApiError::GroupDeactivated => permanent(UnknownChat, text),
        ApiError::MessageIsTooLong
        | ApiError::MessageTextIsEmpty
        | ApiError::ButtonDataInvalid
        | ApiError::ButtonUrlInvalid
        | ApiError::CantParseEntities(_) => permanent(Rejected, text),
        _ => classify_description(&text),
    }
}

/// Errors teloxide does not name (in 0.17 the 403 "bot can't initiate conversation" is one)
/// are read from Telegram's description.
fn classify_description(text: &str) -> SendError {
    use PermanentReason::*;
    let lower = text.to_lowercase();
    if lower.contains("bot was blocked by the user") {
        permanent(Blocked, text)
    } else if [
        "bot can't initiate conversation",
        "chat not found",
        "user is deactivated",
        "bot was kicked",
        "not a member of the",
    ]
    .iter()
    .any(|known| lower.contains(known))
    {
        permanent(UnknownChat, text)
    } else if lower.starts_with("bad request") {
        // The request itself is wrong; sending it again will not change Telegram's mind.
        permanent(Rejected, text)
    } else {
        SendError::Transient(format!("Telegram answered: {text}"))
    }
}

/// What to do when Telegram says a group now lives under another id: remember it for the team
/// chat. Also called when the service message about the upgrade arrives.
pub async fn chat_migrated(pool: &PgPool, old: ChatId, new: ChatId) {
    match crate::storage::team_chat::follow_migration(pool, old.0, new.0, chrono::Utc::now()).await
    {
        Ok(true) => tracing::info!(
            old = old.0,
            new = new.0,
            "the team chat became a supergroup; its new id is stored"
        ),
        Ok(false) => {}
        Err(e) => tracing::error!(error = ?e, "could not store the team chat's new id"),
    }
}

#[async_trait]
impl Channel for TelegramChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Telegram
    }

    async fn send(&self, message: &OutboundMessage) -> Result<Delivered, SendError> {
        let chat = match message.to.address.trim().parse::<i64>() {
            Ok(id) if id != 0 => ChatId(id),
            _ => {
                return Err(permanent(
                    PermanentReason::InvalidAddress,
                    "the address is not a Telegram chat id",
                ));
            }
        };
        let length = message.text.encode_utf16().count();
        if length > MAX_TEXT_LEN {
            return Err(permanent(
                PermanentReason::Rejected,
                format!(
                    "the text is {length} characters long; Telegram takes at most {MAX_TEXT_LEN}"
                ),
            ));
        }
        if message.text.trim().is_empty() {
            return Err(permanent(PermanentReason::Rejected, "the text is empty"));
        }
        let sent = match self.send_to(chat, message).await {
            Err(RequestError::MigrateToChatId(new)) => {
                chat_migrated(&self.pool, chat, new).await;
                self.send_to(new, message).await
            }
            other => other,
        };
        match sent {
            Ok(sent) => Ok(Delivered {
                provider_message_id: provider_message_id(&sent),
            }),
            Err(e) => accepted_despite_unreadable_answer(&e).ok_or_else(|| classify(&e)),
        }
    }

    async fn lookup(&self, _idempotency_key: &str) -> Lookup {
        Lookup::Unsupported
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use teloxide::types::Seconds;

    fn reason(e: SendError) -> Option<PermanentReason> {
        match e {
            SendError::Permanent { reason, .. } => Some(reason),
            _ => None,
        }
    }

    #[test]
    fn a_429_becomes_a_rate_limit_with_telegrams_wait() {
        assert_eq!(
            classify(&RequestError::RetryAfter(Seconds::from_seconds(7))),
            SendError::RateLimited {
                retry_after: Duration::from_secs(7)
            }
        );
    }

    #[test]
    fn a_blocked_bot_and_a_never_started_chat_are_permanent() {
        let blocked = classify(&RequestError::Api(ApiError::BotBlocked));
        assert_eq!(reason(blocked), Some(PermanentReason::Blocked));
        let never_started = classify(&RequestError::Api(ApiError::Unknown(
            "Forbidden: bot can't initiate conversation with a user".into(),
        )));
        assert_eq!(reason(never_started), Some(PermanentReason::UnknownChat));
        let gone = classify(&RequestError::Api(ApiError::ChatNotFound));
        assert_eq!(reason(gone), Some(PermanentReason::UnknownChat));
    }

    #[test]
    fn a_bad_request_is_rejected_but_an_unexplained_error_is_retried() {
        let bad = classify(&RequestError::Api(ApiError::Unknown(
            "Bad Request: something odd".into(),
        )));
        assert_eq!(reason(bad), Some(PermanentReason::Rejected));
        let odd = classify(&RequestError::Api(ApiError::Unknown(
            "Internal Server Error".into(),
        )));
        assert!(matches!(odd, SendError::Transient(_)), "{odd:?}");
    }

    #[test]
    fn an_unreadable_answer_is_unknown_unless_it_says_ok() {
        let unreadable = |raw: &str| RequestError::InvalidJson {
            source: std::sync::Arc::new(serde_json::from_str::<u8>("x").unwrap_err()),
            raw: raw.into(),
        };
        let garbage = unreadable("<html>502 Bad Gateway</html>");
        assert!(accepted_despite_unreadable_answer(&garbage).is_none());
        assert!(matches!(classify(&garbage), SendError::Unknown(_)));
        let ok = unreadable(r#"{"ok":true,"result":{"message_id":7,"chat":{"id":42}}}"#);
        assert_eq!(
            accepted_despite_unreadable_answer(&ok).map(|d| d.provider_message_id),
            Some("42:7".to_string())
        );
    }

    #[tokio::test]
    async fn a_text_over_telegrams_limit_or_a_bad_chat_id_is_refused_before_calling_telegram() {
        // Nothing listens on port 9: a request would fail as Transient, not as below.
        let bot = Bot::new("1:x").set_api_url("http://127.0.0.1:9".parse().unwrap());
        let pool = PgPool::connect_lazy("postgres://postgres@127.0.0.1:5432/unused").unwrap();
        let channel = TelegramChannel::new(bot, pool);
        let mut message = OutboundMessage {
            idempotency_key: "k".into(),
            to: crate::channel::Address {
                channel: ChannelKind::Telegram,
                address: "42".into(),
            },
            text: "é".repeat(MAX_TEXT_LEN + 1),
            buttons: vec![],
            template: None,
        };
        let err = channel.send(&message).await.unwrap_err();
        assert_eq!(
            reason(err.clone()),
            Some(PermanentReason::Rejected),
            "{err}"
        );
        assert!(err.to_string().contains("at most 4096"), "{err}");
        message.text = "hello".into();
        message.to.address = "@someone".into();
        let err = channel.send(&message).await.unwrap_err();
        assert_eq!(reason(err), Some(PermanentReason::InvalidAddress));
    }

    #[test]
    fn buttons_keep_their_rows_and_data() {
        let rows = vec![
            vec![Button {
                label: "0".into(),
                data: "nps:1:0".into(),
            }],
            vec![Button {
                label: "10".into(),
                data: "nps:1:10".into(),
            }],
        ];
        let markup = keyboard(&rows);
        assert_eq!(markup.inline_keyboard.len(), 2);
        assert_eq!(markup.inline_keyboard[1][0].text, "10");
    }
}
