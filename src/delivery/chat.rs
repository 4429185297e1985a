//! Handing a message to a chat channel (Telegram, WhatsApp, the simulated one), for the
//! queues that send through `Channels`: the pace kept per chat, the send, and what the
//! channel's answer means.
//!
//! A message whose chat cannot take another one yet (its gap since the last, a group's
//! minute) is not waited for by a worker, which would hold up every other chat behind it: it
//! goes back to the queue until the chat is ready, with no try spent, and the worker sends
//! the next one. Only a caller that sends a few messages of one conversation in order
//! (`Pace::Wait`) waits for the chat instead.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};

use super::policy::{AfterSend, Stop, after_send};
use super::queue::{Handed, Settle};
use crate::channel::ratelimit::{Throttle, Turn};
use crate::channel::{Channel, Channels, OutboundMessage};
use crate::domain::ChannelKind;
use crate::outbound::dispatcher::DispatcherConfig;

/// What to do with a message whose chat is not ready for another one yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Back in the queue until the chat is ready: a worker goes on with other chats.
    Defer,
    /// Wait for the chat (a conversation's own answers, sent one after the other).
    Wait,
}

/// A message with the channel it goes through.
pub struct ChatMessage<'a> {
    pub message: OutboundMessage,
    pub channel: &'a Arc<dyn Channel>,
    pub throttle: &'a Arc<Throttle>,
    /// Its place in the channel's pace, from the chat's turn until the answer came back.
    turn: Mutex<Option<Turn<'a>>>,
}

/// Why a message cannot go now, before anything was sent.
pub enum NotNow {
    /// This process has no such channel.
    NoChannel,
    /// The platform asked us to slow down for this chat, or the chat had a message too
    /// recently for another one now: back in the queue until then.
    Paused(Settle),
}

fn after(now: DateTime<Utc>, wait: std::time::Duration) -> DateTime<Utc> {
    // Rounded up, so the chat is ready when the message is claimed again.
    let millis = wait.as_micros().div_ceil(1000);
    now + TimeDelta::milliseconds(i64::try_from(millis).unwrap_or(i64::MAX / 2))
}

impl<'a> ChatMessage<'a> {
    /// Finds the message's channel, refuses a chat the platform paused, and (with
    /// `Pace::Defer`) takes the chat's turn or says until when it waits.
    pub fn new(
        channels: &'a Channels,
        message: OutboundMessage,
        now: DateTime<Utc>,
        pace: Pace,
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
        let turn = match pace {
            Pace::Wait => None,
            Pace::Defer => match throttle.take_chat(&message.to.address) {
                Ok(turn) => Some(turn),
                Err(wait) => {
                    return Err(NotNow::Paused(Settle::Wait {
                        at: after(now, wait),
                        why: format!("waiting for this chat's turn under {kind}'s pace"),
                    }));
                }
            },
        };
        Ok(ChatMessage {
            message,
            channel,
            throttle,
            turn: Mutex::new(turn),
        })
    }

    fn turn(&self) -> std::sync::MutexGuard<'_, Option<Turn<'a>>> {
        self.turn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the chat's turn, if not taken yet, unless the stop comes first.
    pub async fn wait_turn(&self, stop: &Stop) -> bool {
        if self.turn().is_some() {
            return !stop.raised();
        }
        let throttle: &'a Throttle = self.throttle;
        let address = &self.message.to.address;
        let turn = stop.unless_raised(throttle.wait_chat(address)).await;
        let go = turn.is_some();
        *self.turn() = turn;
        go
    }

    /// Sends try number `tries` and reads the answer. A chat the platform paused since the
    /// message was prepared (an earlier message of its batch was told to slow down) is not
    /// sent to: the message waits, and the try is given back.
    pub async fn send(&self, tries: i32, config: &DispatcherConfig, now: DateTime<Utc>) -> Handed {
        let to = &self.message.to;
        if let Some(until) = self.throttle.paused_until(&to.address, now) {
            // Nothing left: the chat's turn is given back at once.
            drop(self.turn().take());
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
        // The channel's place is taken only now, after the `sending` mark: held from just
        // before the request until its answer, it costs the window no database round trip.
        let taken = self.turn().take();
        let mut turn = match taken {
            Some(turn) => turn,
            None => self.throttle.wait_chat(&to.address).await,
        };
        turn.wait_overall().await;
        let result = self.channel.send(&self.message).await;
        // The answer is back: the chat's and the channel's windows count from now.
        drop(turn);
        Handed {
            after: after_send(result, to, self.throttle, tries, config, now),
            code: None,
        }
    }
}

fn slowed_down(kind: ChannelKind) -> String {
    format!("waiting: {kind} asked us to slow down for this chat")
}
