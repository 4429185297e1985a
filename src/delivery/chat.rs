//! Handing a message to a chat channel (Telegram, WhatsApp, the simulated one), for the
//! queues that send through `Channels`: the pace kept per chat, the send, and what the
//! channel's answer means.
//!
//! A message whose chat cannot take another one yet (its gap since the last, a group's
//! minute) is not waited for by a worker, which would hold up every other chat behind it: it
//! goes back to the queue until the chat is ready, with no try spent, and the worker sends
//! the next one. Only a caller that sends a few messages of one conversation in order
//! (`Pace::Wait`) waits for the chat instead.
//!
//! The chat is ready a gap after its last message's *answer*. While that message is still on
//! its way (usually in the same batch), the time is not known yet, so the worker waits for the
//! answer, which costs the batch nothing, and defers the message to exactly then: deferred to
//! "now + gap" instead, it would be claimed again a little too early and deferred twice. The
//! worker never takes the chat's turn after such a wait: two messages of one chat waiting side
//! by side could take it out of order, while deferred to the same time they are claimed again
//! in their order.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

use super::policy::{AfterSend, Stop, after_send};
use super::queue::{Handed, Ready, Settle};
use crate::channel::ratelimit::{NotYet, Throttle, Turn};
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

/// How long a worker waits for the answer to a chat's last message before deferring the next
/// one without knowing when the chat is ready (a gap from now, the least it can be).
const ANSWER_PATIENCE: Duration = Duration::from_secs(5);

/// A message with the channel it goes through.
pub struct ChatMessage<'a> {
    pub message: OutboundMessage,
    pub channel: &'a Arc<dyn Channel>,
    pub throttle: &'a Arc<Throttle>,
    /// Its place in the channel's pace, from the chat's turn until the answer came back.
    turn: Mutex<Option<Turn<'a>>>,
    pace: Pace,
    /// The dispatcher's time when it was prepared, and the monotonic instant then: a deferral
    /// decided later is told in the dispatcher's time.
    prepared: (DateTime<Utc>, Instant),
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
        let prepared = (now, Instant::now());
        let turn = match pace {
            Pace::Wait => None,
            Pace::Defer => match throttle.take_chat(&message.to.address) {
                Ok(turn) => Some(turn),
                Err(NotYet {
                    ready: Some(ready), ..
                }) => {
                    let at = throttle.defer_until(&message.to.address, ready, prepared);
                    return Err(NotNow::Paused(waiting_for_turn(kind, at)));
                }
                // Its last message is on its way: `wait_turn` waits for the answer.
                Err(NotYet { ready: None, .. }) => None,
            },
        };
        Ok(ChatMessage {
            message,
            channel,
            throttle,
            turn: Mutex::new(turn),
            pace,
            prepared,
        })
    }

    fn turn(&self) -> std::sync::MutexGuard<'_, Option<Turn<'a>>> {
        self.turn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the chat's turn, if not taken yet, unless the stop comes first. With
    /// `Pace::Defer` it waits only for the answer on its way, and says until when the message
    /// then waits in the queue.
    pub async fn wait_turn(&self, stop: &Stop) -> Ready {
        if self.turn().is_some() {
            return if stop.raised() {
                Ready::Stop
            } else {
                Ready::Go
            };
        }
        let throttle: &'a Throttle = self.throttle;
        let address = &self.message.to.address;
        if self.pace == Pace::Defer {
            let known = throttle.when_ready(address, ANSWER_PATIENCE);
            return match stop.unless_raised(known).await {
                Some(not_yet) => Ready::Later(self.defer(not_yet)),
                None => Ready::Stop,
            };
        }
        let turn = stop.unless_raised(throttle.wait_chat(address)).await;
        let ready = if turn.is_some() {
            Ready::Go
        } else {
            Ready::Stop
        };
        *self.turn() = turn;
        ready
    }

    /// Back in the queue until the chat is ready, told in the dispatcher's time.
    fn defer(&self, not_yet: NotYet) -> Settle {
        let (then, at) = self.prepared;
        let instant = Instant::now();
        let now = then + TimeDelta::from_std(instant - at).unwrap_or(TimeDelta::zero());
        let to = &self.message.to;
        let until = match not_yet.ready {
            Some(ready) => self
                .throttle
                .defer_until(&to.address, ready, (now, instant)),
            None => after(now, not_yet.wait),
        };
        waiting_for_turn(to.channel, until)
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

fn waiting_for_turn(kind: ChannelKind, at: DateTime<Utc>) -> Settle {
    Settle::Wait {
        at,
        why: format!("waiting for this chat's turn under {kind}'s pace"),
    }
}

fn slowed_down(kind: ChannelKind) -> String {
    format!("waiting: {kind} asked us to slow down for this chat")
}
