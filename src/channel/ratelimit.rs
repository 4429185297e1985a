//! Sending pace per channel: an overall rate, a gap per chat, a rate per group chat, and
//! pauses after the platform itself told us to slow down.
//!
//! Everything here lives in one process. Two dispatcher processes each keep their own pace, so
//! together they may send up to twice the configured rate; run one dispatcher per bot token (or
//! set the limits to a share of the platform's) when that matters. The platform's own 429 answers
//! are still honoured through `RateLimited`, whatever the process count.

mod throttle;
mod window;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::ChannelKind;
pub use throttle::{NotYet, Throttle, Turn, is_group};

/// The pace of one channel. `None` means no limit of that kind; in the configuration file a
/// limit of 0 says the same.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelLimit {
    /// Messages per second across all chats.
    pub overall_per_second: Option<u32>,
    /// The shortest gap between two messages to the same chat, in seconds.
    pub per_chat_every_seconds: Option<f64>,
    /// At most this many messages per period to one group chat (Telegram's groups), on top
    /// of the gap per chat.
    pub per_group: Option<GroupLimit>,
}

/// A group chat's pace: `messages` in any `every`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupLimit {
    pub messages: u32,
    pub every: Duration,
}

impl GroupLimit {
    pub const fn per_minute(messages: u32) -> Self {
        GroupLimit {
            messages,
            every: Duration::from_secs(60),
        }
    }

    fn as_per_minute(self) -> u32 {
        (f64::from(self.messages) * 60.0 / self.every.as_secs_f64()).round() as u32
    }
}

impl Default for ChannelLimit {
    fn default() -> Self {
        ChannelLimit::unlimited()
    }
}

impl ChannelLimit {
    pub const fn unlimited() -> Self {
        ChannelLimit {
            overall_per_second: None,
            per_chat_every_seconds: None,
            per_group: None,
        }
    }
}

/// One channel's limits as written in the file: a key left out keeps that channel's default.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct LimitText {
    #[serde(skip_serializing_if = "Option::is_none")]
    overall_per_second: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    per_chat_every_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    per_group_per_minute: Option<u32>,
}

impl LimitText {
    fn over(self, default: &ChannelLimit) -> ChannelLimit {
        ChannelLimit {
            overall_per_second: match self.overall_per_second {
                Some(0) => None,
                Some(n) => Some(n),
                None => default.overall_per_second,
            },
            per_chat_every_seconds: match self.per_chat_every_seconds {
                Some(s) if s <= 0.0 => None,
                Some(s) => Some(s),
                None => default.per_chat_every_seconds,
            },
            per_group: match self.per_group_per_minute {
                Some(0) => None,
                Some(n) => Some(GroupLimit::per_minute(n)),
                None => default.per_group,
            },
        }
    }

    fn of(limit: &ChannelLimit) -> LimitText {
        LimitText {
            overall_per_second: Some(limit.overall_per_second.unwrap_or(0)),
            per_chat_every_seconds: Some(limit.per_chat_every_seconds.unwrap_or(0.0)),
            per_group_per_minute: Some(limit.per_group.map_or(0, GroupLimit::as_per_minute)),
        }
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct RateLimitsText {
    telegram: LimitText,
    whatsapp: LimitText,
    simulated: LimitText,
}

/// Limits per channel, as read from the `[dispatcher.rate_limits]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimits {
    pub telegram: ChannelLimit,
    pub whatsapp: ChannelLimit,
    pub simulated: ChannelLimit,
}

impl<'de> Deserialize<'de> for RateLimits {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = RateLimitsText::deserialize(d)?;
        let defaults = RateLimits::default();
        Ok(RateLimits {
            telegram: text.telegram.over(&defaults.telegram),
            whatsapp: text.whatsapp.over(&defaults.whatsapp),
            simulated: text.simulated.over(&defaults.simulated),
        })
    }
}

impl Serialize for RateLimits {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RateLimitsText {
            telegram: LimitText::of(&self.telegram),
            whatsapp: LimitText::of(&self.whatsapp),
            simulated: LimitText::of(&self.simulated),
        }
        .serialize(s)
    }
}

impl Default for RateLimits {
    /// The platforms' published limits: Telegram about 30/s per bot, 1/s per chat and 20 a
    /// minute per group; WhatsApp 80/s per number and about one message per 6 s to one
    /// recipient.
    fn default() -> Self {
        RateLimits {
            telegram: ChannelLimit {
                overall_per_second: Some(30),
                per_chat_every_seconds: Some(1.0),
                per_group: Some(GroupLimit::per_minute(20)),
            },
            whatsapp: ChannelLimit {
                overall_per_second: Some(80),
                per_chat_every_seconds: Some(6.0),
                per_group: None,
            },
            simulated: ChannelLimit::unlimited(),
        }
    }
}

impl RateLimits {
    pub fn for_kind(&self, kind: ChannelKind) -> &ChannelLimit {
        match kind {
            ChannelKind::Telegram => &self.telegram,
            ChannelKind::Whatsapp => &self.whatsapp,
            ChannelKind::Simulated => &self.simulated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_follow_the_published_platform_limits() {
        let limits = RateLimits::default();
        assert_eq!(limits.telegram.overall_per_second, Some(30));
        assert_eq!(limits.telegram.per_chat_every_seconds, Some(1.0));
        assert_eq!(limits.whatsapp.overall_per_second, Some(80));
        assert_eq!(limits.whatsapp.per_chat_every_seconds, Some(6.0));
        assert_eq!(limits.telegram.per_group, Some(GroupLimit::per_minute(20)));
        assert_eq!(limits.whatsapp.per_group, None);
    }

    #[test]
    fn setting_one_limit_of_a_channel_keeps_its_other_default() {
        let limits: RateLimits = toml::from_str("[telegram]\noverall_per_second = 10\n").unwrap();
        assert_eq!(limits.telegram.overall_per_second, Some(10));
        assert_eq!(limits.telegram.per_chat_every_seconds, Some(1.0));
        assert_eq!(limits.whatsapp, RateLimits::default().whatsapp);
    }

    #[test]
    fn a_limit_of_zero_means_no_limit() {
        let limits: RateLimits =
            toml::from_str("[whatsapp]\nper_chat_every_seconds = 0\n").unwrap();
        assert_eq!(limits.whatsapp.per_chat_every_seconds, None);
        assert_eq!(limits.whatsapp.overall_per_second, Some(80));
    }
}
