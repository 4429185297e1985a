//! The chat platforms' sending limits as a fake server enforces them, shared by the fake
//! Telegram and the fake WhatsApp (and, through `#[path]`, by the `pace` bench).
//!
//! Each limit is a sliding window counted at each message's arrival: at most `max` messages
//! in any `period`, over all chats, per chat, and per group chat. A message beyond one is
//! refused (and not counted), with how long until it would have fitted, which the fake turns
//! into the platform's "slow down" answer. The published figures are the defaults; a test
//! may shrink a period to keep its run short.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// At most `max` messages in any `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: usize,
    pub period: Duration,
}

impl Limit {
    pub const fn new(max: usize, period: Duration) -> Limit {
        Limit { max, period }
    }
}

/// What a platform enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub overall: Option<Limit>,
    pub per_chat: Option<Limit>,
    /// Only for group chats, on top of `per_chat`.
    pub per_group: Option<Limit>,
}

const SECOND: Duration = Duration::from_secs(1);

impl Limits {
    /// Telegram: 30 messages a second per bot, one a second per chat, 20 a minute per group.
    pub const fn telegram() -> Limits {
        Limits {
            overall: Some(Limit::new(30, SECOND)),
            per_chat: Some(Limit::new(1, SECOND)),
            per_group: Some(Limit::new(20, Duration::from_secs(60))),
        }
    }

    /// WhatsApp Cloud API: 80 messages a second per number, one per 6 s to one recipient.
    pub const fn whatsapp() -> Limits {
        Limits {
            overall: Some(Limit::new(80, SECOND)),
            per_chat: Some(Limit::new(1, Duration::from_secs(6))),
            per_group: None,
        }
    }
}

/// Which limit a refused message broke, and how long until it would have fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Overall(Duration),
    Chat(Duration),
    Group(Duration),
}

impl Refusal {
    pub fn wait(self) -> Duration {
        match self {
            Refusal::Overall(d) | Refusal::Chat(d) | Refusal::Group(d) => d,
        }
    }

    /// The wait in whole seconds, at least one, as Telegram's `retry_after` says it.
    pub fn retry_after_secs(self) -> u64 {
        self.wait().as_secs_f64().ceil().max(1.0) as u64
    }
}

/// The arrivals of the last period under one limit.
#[derive(Debug, Default)]
struct Arrivals(VecDeque<Instant>);

impl Arrivals {
    /// How long until one more fits at `now`, if it does not now.
    fn full(&mut self, limit: Limit, now: Instant) -> Option<Duration> {
        while self
            .0
            .front()
            .is_some_and(|&at| now.duration_since(at) >= limit.period)
        {
            self.0.pop_front();
        }
        (self.0.len() >= limit.max).then(|| {
            let oldest = self.0[self.0.len() - limit.max];
            (oldest + limit.period).saturating_duration_since(now)
        })
    }
}

/// A platform's limits as enforced, with what they refused.
#[derive(Debug)]
pub struct Enforcer {
    limits: Limits,
    overall: Arrivals,
    chats: HashMap<String, (Arrivals, Arrivals)>,
    refused: Vec<Refusal>,
}

impl Enforcer {
    pub fn new(limits: Limits) -> Enforcer {
        Enforcer {
            limits,
            overall: Arrivals::default(),
            chats: HashMap::new(),
            refused: Vec::new(),
        }
    }

    /// Admits a message to `chat` arriving now, counting it, or refuses it.
    pub fn admit(&mut self, chat: &str, group: bool) -> Result<(), Refusal> {
        let now = Instant::now();
        let (per_chat, per_group) = self.chats.entry(chat.to_string()).or_default();
        let broken = [
            self.limits
                .overall
                .and_then(|l| self.overall.full(l, now).map(Refusal::Overall)),
            self.limits
                .per_chat
                .and_then(|l| per_chat.full(l, now).map(Refusal::Chat)),
            self.limits
                .per_group
                .filter(|_| group)
                .and_then(|l| per_group.full(l, now).map(Refusal::Group)),
        ];
        if let Some(refusal) = broken.into_iter().flatten().max_by_key(|r| r.wait()) {
            self.refused.push(refusal);
            return Err(refusal);
        }
        self.overall.0.push_back(now);
        per_chat.0.push_back(now);
        if group {
            per_group.0.push_back(now);
        }
        Ok(())
    }

    /// Every refusal so far, in order.
    pub fn refused(&self) -> &[Refusal] {
        &self.refused
    }
}
