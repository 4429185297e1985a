//! Handing a message to a chat channel (Telegram, WhatsApp, the simulated one), for the
//! queues that send through `Channels`: the pace kept per chat, the send, and what the
//! channel's answer means.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::policy::{AfterSend, Stop, after_send};
use super::queue::{Handed, Settle};
use crate::channel::ratelimit::Throttle;
use crate::channel::{Channel, Channels, OutboundMessage};
use crate::domain::ChannelKind;
use crate::outbound::dispatcher::DispatcherConfig;

/// A message with the channel it goes through.
pub struct ChatMessage<'a> {
    pub message: OutboundMessage,
    pub channel: &'a Arc<dyn Channel>,
    pub throttle: &'a Arc<Throttle>,
}

/// Why a message cannot go now, before anything was sent.
pub enum NotNow {
    /// This process has no such channel.
    NoChannel,
    /// The platform asked us to slow down for this chat: back in the queue until then.
    Paused(Settle),
}

impl<'a> ChatMessage<'a> {
    /// Finds the message's channel, and refuses a chat the platform paused.
    pub fn new(
        channels: &'a Channels,
        message: OutboundMessage,
        now: DateTime<Utc>,
    ) -> Result<Self, NotNow> {
        let kind = message.to.channel;
        let (Some(channel), Some(throttle)) = (channels.get(kind), channels.throttle(kind)) else {
            return Err(NotNow::NoChannel);
        };
        if let Some(until) = throttle.paused_until(&message.to.address, now) {
            return Err(NotNow::Paused(Settle::Retry {
                at: until,
                error: slowed_down(kind),
                counts: false,
            }));
        }
        Ok(ChatMessage {
            message,
            channel,
            throttle,
        })
    }

    /// Waits for the chat's turn under the channel's pace, unless the stop comes first.
    pub async fn wait_turn(&self, stop: &Stop) -> bool {
        stop.wait_turn(self.throttle, &self.message.to.address)
            .await
    }

    /// Sends try number `tries` and reads the answer. A chat the platform paused since the
    /// message was prepared (an earlier message of its batch was told to slow down) is not
    /// sent to: the message waits, and the try is given back.
    pub async fn send(&self, tries: i32, config: &DispatcherConfig, now: DateTime<Utc>) -> Handed {
        let to = &self.message.to;
        if let Some(until) = self.throttle.paused_until(&to.address, now) {
            let error = slowed_down(to.channel);
            return Handed {
                after: AfterSend::Retry {
                    at: until,
                    error,
                    counts: false,
                },
                code: None,
            };
        }
        let result = self.channel.send(&self.message).await;
        Handed {
            after: after_send(result, to, self.throttle, tries, config, now),
            code: None,
        }
    }
}

fn slowed_down(kind: ChannelKind) -> String {
    format!("waiting: {kind} asked us to slow down for this chat")
}
