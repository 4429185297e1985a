//! An in-process channel for the demo and the tests: it keeps every message it delivered, can
//! be told to misbehave for one address, and behaves like a careful provider (a repeated
//! idempotency key is answered with the first delivery instead of a second message).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, watch};

use super::{Address, Channel, Delivered, Lookup, OutboundMessage, PermanentReason, SendError};
use crate::domain::ChannelKind;

/// One message the simulated provider accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub message: OutboundMessage,
    pub provider_message_id: String,
}

/// A message "typed" by a simulated user, waiting for the inbound side to pick it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatedInbound {
    pub from: Address,
    pub text: String,
    pub provider_message_id: String,
}

/// How the simulated provider misbehaves for one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Permanent(PermanentReason),
    RateLimited {
        retry_after: Duration,
        times: u32,
    },
    Transient {
        times: u32,
    },
    /// The answer is lost (a timeout, a broken connection), after delivering or not; one-shot.
    AnswerLost {
        delivered: bool,
    },
    /// The send never returns, as if the worker process died there; one-shot.
    CrashBeforeDelivery,
    CrashAfterDelivery,
}

#[derive(Default)]
struct State {
    delivered: Vec<SentMessage>,
    by_key: HashMap<String, Delivered>,
    attempts: HashMap<String, u32>,
    faults: HashMap<String, Fault>,
    inbox: Vec<SimulatedInbound>,
    next_id: u64,
}

pub struct SimulatedChannel {
    kind: ChannelKind,
    lookup_supported: bool,
    state: Mutex<State>,
    crashed: Notify,
    /// How many messages were delivered so far, for waiting on deliveries without polling.
    delivered_count: watch::Sender<usize>,
}

impl Default for SimulatedChannel {
    fn default() -> Self {
        SimulatedChannel::new()
    }
}

impl std::fmt::Debug for SimulatedChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedChannel")
            .field("kind", &self.kind)
            .field("lookup_supported", &self.lookup_supported)
            .finish_non_exhaustive()
    }
}

enum Step {
    Answer(Result<Delivered, SendError>),
    Hang,
}

impl SimulatedChannel {
    pub fn new() -> Self {
        SimulatedChannel {
            kind: ChannelKind::Simulated,
            lookup_supported: true,
            state: Mutex::new(State::default()),
            crashed: Notify::new(),
            delivered_count: watch::Sender::new(0),
        }
    }

    /// Stands in for another channel kind (e.g. Telegram for the CSM's reminders).
    pub fn with_kind(mut self, kind: ChannelKind) -> Self {
        self.kind = kind;
        self
    }

    /// Answers every `lookup` with `Unsupported`, as Telegram and WhatsApp do.
    pub fn without_lookup(mut self) -> Self {
        self.lookup_supported = false;
        self
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_fault(&self, address: &str, fault: Fault) {
        self.state().faults.insert(address.to_string(), fault);
    }

    /// The user at `address` blocked the bot: every send fails for good.
    pub fn block(&self, address: &str) {
        self.fail_permanently(address, PermanentReason::Blocked);
    }

    pub fn fail_permanently(&self, address: &str, reason: PermanentReason) {
        self.set_fault(address, Fault::Permanent(reason));
    }

    /// The next `times` sends to `address` are refused with "retry after".
    pub fn rate_limit(&self, address: &str, retry_after: Duration, times: u32) {
        self.set_fault(address, Fault::RateLimited { retry_after, times });
    }

    /// The next `times` sends to `address` fail with a temporary error.
    pub fn fail_transiently(&self, address: &str, times: u32) {
        self.set_fault(address, Fault::Transient { times });
    }

    /// The next send to `address` times out: `delivered` says whether the message arrived
    /// all the same, which the dispatcher cannot know (`SendError::Unknown`).
    pub fn lose_answer(&self, address: &str, delivered: bool) {
        self.set_fault(address, Fault::AnswerLost { delivered });
    }

    /// The next send to `address` never returns and nothing is delivered.
    pub fn crash_before_delivery(&self, address: &str) {
        self.set_fault(address, Fault::CrashBeforeDelivery);
    }

    /// The next send to `address` is delivered, then never returns: the worker "died" after
    /// handing the message over.
    pub fn crash_after_delivery(&self, address: &str) {
        self.set_fault(address, Fault::CrashAfterDelivery);
    }

    pub fn clear_faults(&self, address: &str) {
        self.state().faults.remove(address);
    }

    /// Resolves once a send has "crashed" (including one that crashed before this was called).
    pub async fn crashed(&self) {
        self.crashed.notified().await;
    }

    /// Resolves once at least `count` messages have been delivered in total.
    pub async fn wait_for_sent(&self, count: usize) {
        let mut seen = self.delivered_count.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = seen.wait_for(|n| *n >= count).await;
    }

    /// Every message delivered, in order; a deduplicated repeat is not listed twice.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.state().delivered.clone()
    }

    /// How many times `send` was called with this idempotency key, delivered or not.
    pub fn send_attempts(&self, idempotency_key: &str) -> u32 {
        self.state()
            .attempts
            .get(idempotency_key)
            .copied()
            .unwrap_or(0)
    }

    pub fn total_send_attempts(&self) -> u32 {
        self.state().attempts.values().sum()
    }

    /// A simulated user writes to the bot; returns the provider id given to the message.
    pub fn receive(&self, from: &str, text: &str) -> String {
        let mut state = self.state();
        state.next_id += 1;
        let provider_message_id = format!("sim-in-{}", state.next_id);
        state.inbox.push(SimulatedInbound {
            from: Address {
                channel: self.kind,
                address: from.to_string(),
            },
            text: text.to_string(),
            provider_message_id: provider_message_id.clone(),
        });
        provider_message_id
    }

    /// Hands over (and forgets) the messages users wrote since the last call.
    pub fn take_inbox(&self) -> Vec<SimulatedInbound> {
        std::mem::take(&mut self.state().inbox)
    }

    fn deliver(&self, state: &mut State, message: &OutboundMessage) -> Delivered {
        state.next_id += 1;
        let delivered = Delivered {
            provider_message_id: format!("sim-{}", state.next_id),
        };
        state
            .by_key
            .insert(message.idempotency_key.clone(), delivered.clone());
        state.delivered.push(SentMessage {
            message: message.clone(),
            provider_message_id: delivered.provider_message_id.clone(),
        });
        self.delivered_count.send_replace(state.delivered.len());
        delivered
    }

    fn step(&self, message: &OutboundMessage) -> Step {
        let mut state = self.state();
        *state
            .attempts
            .entry(message.idempotency_key.clone())
            .or_insert(0) += 1;
        if let Some(first) = state.by_key.get(&message.idempotency_key) {
            return Step::Answer(Ok(first.clone()));
        }
        let address = &message.to.address;
        let fault = state.faults.get(address).copied();
        let (answer, next_fault) = match fault {
            None => (None, None),
            Some(Fault::Permanent(reason)) => (
                Some(Err(SendError::Permanent {
                    reason,
                    detail: format!("simulated: {}", reason.as_str()),
                })),
                fault,
            ),
            Some(Fault::RateLimited { retry_after, times }) => (
                Some(Err(SendError::RateLimited { retry_after })),
                (times > 1).then_some(Fault::RateLimited {
                    retry_after,
                    times: times - 1,
                }),
            ),
            Some(Fault::Transient { times }) => (
                Some(Err(SendError::Transient(
                    "simulated: the provider is having a bad minute".into(),
                ))),
                (times > 1).then_some(Fault::Transient { times: times - 1 }),
            ),
            Some(Fault::AnswerLost { delivered }) => {
                state.faults.remove(address);
                if delivered {
                    self.deliver(&mut state, message);
                }
                return Step::Answer(Err(SendError::Unknown(
                    "simulated: the provider's answer was lost".into(),
                )));
            }
            Some(Fault::CrashBeforeDelivery) => {
                state.faults.remove(address);
                return Step::Hang;
            }
            Some(Fault::CrashAfterDelivery) => {
                state.faults.remove(address);
                self.deliver(&mut state, message);
                return Step::Hang;
            }
        };
        match next_fault {
            Some(f) => state.faults.insert(address.clone(), f),
            None => state.faults.remove(address),
        };
        Step::Answer(answer.unwrap_or_else(|| Ok(self.deliver(&mut state, message))))
    }
}

#[async_trait]
impl Channel for SimulatedChannel {
    fn kind(&self) -> ChannelKind {
        self.kind
    }

    async fn send(&self, message: &OutboundMessage) -> Result<Delivered, SendError> {
        match self.step(message) {
            Step::Answer(answer) => answer,
            Step::Hang => {
                self.crashed.notify_one();
                std::future::pending().await
            }
        }
    }

    async fn lookup(&self, idempotency_key: &str) -> Lookup {
        if !self.lookup_supported {
            return Lookup::Unsupported;
        }
        match self.state().by_key.get(idempotency_key) {
            Some(delivered) => Lookup::Sent(delivered.clone()),
            None => Lookup::NotSent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(key: &str, to: &str) -> OutboundMessage {
        OutboundMessage {
            idempotency_key: key.into(),
            to: Address {
                channel: ChannelKind::Simulated,
                address: to.into(),
            },
            text: "hello".into(),
            buttons: vec![],
            template: None,
        }
    }

    #[tokio::test]
    async fn a_repeated_key_returns_the_first_delivery_without_a_second_message() {
        let channel = SimulatedChannel::new();
        let first = channel.send(&message("k1", "ann")).await.unwrap();
        let again = channel.send(&message("k1", "ann")).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(channel.sent().len(), 1);
        assert_eq!(channel.send_attempts("k1"), 2);
    }

    #[tokio::test]
    async fn transient_failures_run_out_after_the_given_count() {
        let channel = SimulatedChannel::new();
        channel.fail_transiently("ann", 2);
        assert!(channel.send(&message("k1", "ann")).await.is_err());
        assert!(channel.send(&message("k1", "ann")).await.is_err());
        assert!(channel.send(&message("k1", "ann")).await.is_ok());
    }

    #[tokio::test]
    async fn lookup_knows_what_was_delivered_unless_it_is_turned_off() {
        let channel = SimulatedChannel::new();
        let delivered = channel.send(&message("k1", "ann")).await.unwrap();
        assert_eq!(channel.lookup("k1").await, Lookup::Sent(delivered));
        assert_eq!(channel.lookup("k2").await, Lookup::NotSent);
        let blind = SimulatedChannel::new().without_lookup();
        assert_eq!(blind.lookup("k1").await, Lookup::Unsupported);
    }

    #[tokio::test]
    async fn a_blocked_address_fails_for_good_and_others_still_get_messages() {
        let channel = SimulatedChannel::new();
        channel.block("ann");
        for _ in 0..2 {
            let err = channel.send(&message("k1", "ann")).await.unwrap_err();
            assert!(matches!(
                err,
                SendError::Permanent {
                    reason: PermanentReason::Blocked,
                    ..
                }
            ));
        }
        assert!(channel.send(&message("k2", "bob")).await.is_ok());
    }
}
