//! Sending pace per channel: an overall rate, a rate per chat, and pauses after the platform
//! itself told us to slow down.
//!
//! Everything here lives in one process. Two dispatcher processes each keep their own pace, so
//! together they may send up to twice the configured rate; run one dispatcher per bot token (or
//! set the limits to a share of the platform's) when that matters. The platform's own 429 answers
//! are still honoured through `RateLimited`, whatever the process count.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};

use crate::domain::ChannelKind;

/// The pace of one channel. `None` means no limit of that kind; in the configuration file a
/// limit of 0 says the same.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelLimit {
    /// Messages per second across all chats.
    pub overall_per_second: Option<u32>,
    /// The shortest gap between two messages to the same chat, in seconds.
    pub per_chat_every_seconds: Option<f64>,
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
        }
    }

    fn of(limit: &ChannelLimit) -> LimitText {
        LimitText {
            overall_per_second: Some(limit.overall_per_second.unwrap_or(0)),
            per_chat_every_seconds: Some(limit.per_chat_every_seconds.unwrap_or(0.0)),
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
    /// The platforms' published limits: Telegram about 30/s per bot and 1/s per chat;
    /// WhatsApp 80/s per number and about one message per 6 s to one recipient.
    fn default() -> Self {
        RateLimits {
            telegram: ChannelLimit {
                overall_per_second: Some(30),
                per_chat_every_seconds: Some(1.0),
            },
            whatsapp: ChannelLimit {
                overall_per_second: Some(80),
                per_chat_every_seconds: Some(6.0),
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

/// The in-process pace keeper of one channel.
///
/// The steady rates run on the wall clock (they protect the platform now, whatever clock the
/// dispatcher was given), while pauses are kept in the dispatcher's own time, so a test or the
/// accelerated demo sees a pause end exactly when its `now` passes it.
pub struct Throttle {
    overall: Option<DefaultDirectRateLimiter>,
    per_chat: Option<DefaultKeyedRateLimiter<String>>,
    paused: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("overall", &self.overall.is_some())
            .field("per_chat", &self.per_chat.is_some())
            .finish_non_exhaustive()
    }
}

impl Throttle {
    pub fn new(limit: &ChannelLimit) -> Self {
        let overall = limit
            .overall_per_second
            .and_then(NonZeroU32::new)
            .map(|n| RateLimiter::direct(Quota::per_second(n)));
        let per_chat = limit
            .per_chat_every_seconds
            .filter(|s| s.is_finite() && *s > 0.0)
            .and_then(|s| Quota::with_period(Duration::from_secs_f64(s)))
            .map(RateLimiter::keyed);
        Throttle {
            overall,
            per_chat,
            paused: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until one more message to `address` fits both the channel's and the chat's pace.
    pub async fn wait_turn(&self, address: &str) {
        if let Some(per_chat) = &self.per_chat {
            per_chat.until_key_ready(&address.to_string()).await;
        }
        if let Some(overall) = &self.overall {
            overall.until_ready().await;
        }
    }

    /// Holds back every message to `address` until `until`: after a platform's "slow down",
    /// sending anything else to that chat first would only earn another refusal.
    pub fn pause(&self, address: &str, until: DateTime<Utc>) {
        let mut paused = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        let entry = paused.entry(address.to_string()).or_insert(until);
        if *entry < until {
            *entry = until;
        }
    }

    /// When the pause on `address` ends, if it is still paused at `now`.
    pub fn paused_until(&self, address: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut paused = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        // Forget pauses that are over, so the map stays as small as the set of paused chats.
        paused.retain(|_, until| *until > now);
        if let Some(per_chat) = &self.per_chat {
            per_chat.retain_recent();
        }
        paused.get(address).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn a_paused_chat_stays_paused_until_the_given_time_and_no_longer() {
        let throttle = Throttle::new(&ChannelLimit::unlimited());
        throttle.pause("chat-1", at(10));
        assert_eq!(throttle.paused_until("chat-1", at(0)), Some(at(10)));
        assert_eq!(throttle.paused_until("chat-2", at(0)), None);
        assert_eq!(throttle.paused_until("chat-1", at(10)), None);
    }

    #[test]
    fn a_shorter_pause_does_not_cut_a_longer_one() {
        let throttle = Throttle::new(&ChannelLimit::unlimited());
        throttle.pause("chat-1", at(30));
        throttle.pause("chat-1", at(5));
        assert_eq!(throttle.paused_until("chat-1", at(0)), Some(at(30)));
    }

    #[test]
    fn the_defaults_follow_the_published_platform_limits() {
        let limits = RateLimits::default();
        assert_eq!(limits.telegram.overall_per_second, Some(30));
        assert_eq!(limits.telegram.per_chat_every_seconds, Some(1.0));
        assert_eq!(limits.whatsapp.overall_per_second, Some(80));
        assert_eq!(limits.whatsapp.per_chat_every_seconds, Some(6.0));
    }

    #[tokio::test]
    async fn a_second_message_to_the_same_chat_waits_for_its_turn() {
        let throttle = Throttle::new(&ChannelLimit {
            overall_per_second: None,
            per_chat_every_seconds: Some(0.2),
        });
        let started = std::time::Instant::now();
        throttle.wait_turn("chat-1").await;
        throttle.wait_turn("chat-2").await;
        assert!(started.elapsed() < Duration::from_millis(100));
        throttle.wait_turn("chat-1").await;
        assert!(started.elapsed() >= Duration::from_millis(150));
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
