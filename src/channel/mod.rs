//! One abstraction over every chat channel (Telegram, WhatsApp, and the simulated one used by
//! the demo and tests). The dispatcher talks only to this trait.

pub mod ratelimit;
pub mod simulated;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::ChannelKind;
use ratelimit::{RateLimits, Throttle};

/// Where a message goes: a channel and the address on it (a Telegram chat id, an E.164
/// number, a simulated handle).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    pub channel: ChannelKind,
    pub address: String,
}

/// A quick-reply button: what the user sees, and what comes back when they tap it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    /// Opaque to the user; Telegram limits it to 64 bytes.
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    /// Stable across retries of the same touch, so a channel that can deduplicate does.
    pub idempotency_key: String,
    pub to: Address,
    pub text: String,
    /// Rows of buttons; empty for plain text.
    pub buttons: Vec<Vec<Button>>,
    /// Set when the message must go as a pre-approved template (WhatsApp outside its 24-hour
    /// window). `text` and `buttons` still hold the same words, for channels and records
    /// that have no templates; a template's quick replies carry the buttons' data.
    pub template: Option<TemplateMessage>,
}

/// A message in its registered-template form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateMessage {
    /// The template's name at the platform.
    pub name: String,
    /// The platform's language code of the translation.
    pub language: String,
    /// The body's parameters, in the order of their numbers (`{{1}}`, `{{2}}`…).
    pub parameters: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub provider_message_id: String,
}

/// Why a recipient can never be reached through this address; retrying will not help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermanentReason {
    /// The user blocked the bot.
    Blocked,
    /// The chat does not exist, or the user never started the bot.
    UnknownChat,
    /// The address itself is malformed.
    InvalidAddress,
    /// The platform refused the content (too long, template not approved…).
    Rejected,
}

impl PermanentReason {
    pub fn as_str(self) -> &'static str {
        match self {
            PermanentReason::Blocked => "blocked",
            PermanentReason::UnknownChat => "unknown_chat",
            PermanentReason::InvalidAddress => "invalid_address",
            PermanentReason::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The platform asked us to slow down; try again after this long.
    #[error("rate limited, retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// The message provably never left (the connection could not be made), or the platform
    /// said it failed and to try again: retry with backoff.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// It may or may not have arrived: a timeout, an answer cut off or unreadable. Never
    /// retried: the send is left 'unknown' for the channel's `lookup` or a person to settle.
    #[error("outcome unknown: {0}")]
    Unknown(String),
    #[error("permanent failure ({}): {detail}", reason.as_str())]
    Permanent {
        reason: PermanentReason,
        detail: String,
    },
}

/// What a channel knows about an earlier send, asked after a crash left its outcome unclear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Sent(Delivered),
    NotSent,
    /// The platform offers no way to ask (Telegram, WhatsApp): never resend blindly.
    Unsupported,
}

#[async_trait]
pub trait Channel: Send + Sync {
    fn kind(&self) -> ChannelKind;
    async fn send(&self, message: &OutboundMessage) -> Result<Delivered, SendError>;
    async fn lookup(&self, idempotency_key: &str) -> Lookup;
}

/// The channels this process can send through, each with its own pace keeper.
///
/// Build one per process and share it (behind an `Arc`) between workers: the pace and the
/// pauses after a platform's "slow down" only work when every worker sees the same state.
pub struct Channels {
    limits: RateLimits,
    entries: HashMap<ChannelKind, (Arc<dyn Channel>, Arc<Throttle>)>,
}

impl Channels {
    pub fn new(limits: RateLimits) -> Self {
        Channels {
            limits,
            entries: HashMap::new(),
        }
    }

    /// Adds (or replaces) the channel for its kind.
    pub fn with(mut self, channel: Arc<dyn Channel>) -> Self {
        let kind = channel.kind();
        let throttle = Arc::new(Throttle::new(self.limits.for_kind(kind)));
        self.entries.insert(kind, (channel, throttle));
        self
    }

    pub fn get(&self, kind: ChannelKind) -> Option<&Arc<dyn Channel>> {
        self.entries.get(&kind).map(|(channel, _)| channel)
    }

    /// The kinds this process can send through, in a stable order.
    pub fn kinds(&self) -> Vec<ChannelKind> {
        let mut kinds: Vec<_> = self.entries.keys().copied().collect();
        kinds.sort_unstable_by_key(|k| k.as_str());
        kinds
    }

    pub fn throttle(&self, kind: ChannelKind) -> Option<&Arc<Throttle>> {
        self.entries.get(&kind).map(|(_, throttle)| throttle)
    }
}

impl std::fmt::Debug for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kinds: Vec<_> = self.entries.keys().map(|k| k.as_str()).collect();
        kinds.sort_unstable();
        f.debug_struct("Channels").field("kinds", &kinds).finish()
    }
}
