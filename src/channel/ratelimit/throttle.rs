//! The in-process pace keeper of one channel (see [`Throttle`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;

use super::ChannelLimit;
use super::window::Window;

/// The in-process pace keeper of one channel: a sliding window over all chats, one per chat,
/// and one per group (see [`Window`]), and pauses after a platform's "slow down".
///
/// The windows run on the monotonic clock (they protect the platform now, whatever clock the
/// dispatcher was given), while pauses are kept in the dispatcher's own time, so a test or the
/// accelerated demo sees a pause end exactly when its `now` passes it.
pub struct Throttle {
    state: Mutex<State>,
    /// Woken whenever an answer comes back, so that waiters look at the windows again.
    answered: Notify,
    paused: Mutex<HashMap<String, DateTime<Utc>>>,
}

struct State {
    overall: Option<Window>,
    /// The empty windows a chat, and a group, starts with.
    chat: Option<Window>,
    group: Option<Window>,
    chats: HashMap<String, ChatWindows>,
    taken_since_sweep: usize,
}

/// Added to a deferral, so that a message claimed again finds its chat ready.
const DEFER_MARGIN: Duration = Duration::from_millis(5);

/// Chats seen between two sweeps of the idle ones, so the map stays about as large as the
/// set of chats written to in the last period.
const SWEEP_EVERY: usize = 1024;

struct ChatWindows {
    chat: Option<Window>,
    group: Option<Window>,
    /// The instant the chat was last found ready at, and the time its messages were deferred
    /// to then: every message deferred on that instant gets that same time.
    deferred: Option<(Instant, DateTime<Utc>)>,
}

impl ChatWindows {
    fn each(&mut self) -> impl Iterator<Item = &mut Window> {
        self.chat.iter_mut().chain(self.group.iter_mut())
    }

    /// Why the chat cannot take a message at `now`, if it cannot.
    fn not_yet(&mut self, now: Instant) -> Option<NotYet> {
        let wait = self.each().map(|w| w.wait(now)).max()?;
        if wait.is_zero() {
            return None;
        }
        let ready = self
            .each()
            .try_fold(now, |latest, w| w.ready(now).map(|at| at.max(latest)));
        Some(NotYet { ready, wait })
    }
}

impl State {
    /// The windows of `address`, or `None` when no limit applies to it alone.
    fn windows_of(&mut self, address: &str) -> Option<&mut ChatWindows> {
        let group = self.group.as_ref().filter(|_| is_group(address));
        if self.chat.is_none() && group.is_none() {
            return None;
        }
        let fresh = ChatWindows {
            chat: self.chat.clone(),
            group: group.cloned(),
            deferred: None,
        };
        Some(self.chats.entry(address.to_string()).or_insert(fresh))
    }

    fn sweep(&mut self, now: Instant) {
        self.taken_since_sweep += 1;
        if self.taken_since_sweep >= SWEEP_EVERY {
            self.taken_since_sweep = 0;
            self.chats
                .retain(|_, windows| !windows.each().all(|w| w.idle(now)));
        }
    }
}

/// Whether an address is a Telegram group or supergroup (their chat ids are negative): the
/// only chats the group limit applies to.
pub fn is_group(address: &str) -> bool {
    address.starts_with('-')
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pace = self.lock();
        f.debug_struct("Throttle")
            .field("overall", &pace.overall.is_some())
            .field("per_chat", &pace.chat.is_some())
            .field("per_group", &pace.group.is_some())
            .finish_non_exhaustive()
    }
}

/// Why a chat cannot take a message now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotYet {
    /// When it can, or `None` while its last message is on its way: the gap counts from that
    /// one's answer.
    pub ready: Option<Instant>,
    /// How long until then; a whole gap, the least it can be, while not known yet.
    pub wait: Duration,
}

/// A send's place in its channel's pace, held from when it may leave until its answer came
/// back: dropping it records the answer, from which the windows count.
#[must_use = "the place is given up when dropped"]
pub struct Turn<'a> {
    throttle: &'a Throttle,
    chat: Option<String>,
    overall: bool,
}

impl Throttle {
    pub fn new(limit: &ChannelLimit) -> Self {
        let second = Duration::from_secs(1);
        let overall = limit
            .overall_per_second
            .filter(|n| *n > 0)
            .map(|n| Window::new(n as usize, second));
        let chat = limit
            .per_chat_every_seconds
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| Window::new(1, Duration::from_secs_f64(s)));
        let group = limit
            .per_group
            .filter(|g| g.messages > 0 && !g.every.is_zero())
            .map(|g| Window::new(g.messages as usize, g.every));
        Throttle {
            state: Mutex::new(State {
                overall,
                chat,
                group,
                chats: HashMap::new(),
                taken_since_sweep: 0,
            }),
            answered: Notify::new(),
            paused: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `address`'s turn if the chat (and its group) may get a message now; otherwise
    /// says until when it may not, so the caller can do something else meanwhile.
    pub fn take_chat(&self, address: &str) -> Result<Turn<'_>, NotYet> {
        let now = Instant::now();
        let mut pace = self.lock();
        let Some(windows) = pace.windows_of(address) else {
            return Ok(self.turn(None));
        };
        if let Some(not_yet) = windows.not_yet(now) {
            return Err(not_yet);
        }
        windows.each().for_each(Window::take);
        pace.sweep(now);
        Ok(self.turn(Some(address.to_string())))
    }

    fn turn(&self, chat: Option<String>) -> Turn<'_> {
        Turn {
            throttle: self,
            chat,
            overall: false,
        }
    }

    /// Waits until `address` may get a message, then until the channel may send one.
    pub async fn wait_turn(&self, address: &str) -> Turn<'_> {
        let mut turn = self.wait_chat(address).await;
        turn.wait_overall().await;
        turn
    }

    /// Waits until `address` may get a message and takes its turn.
    pub async fn wait_chat(&self, address: &str) -> Turn<'_> {
        loop {
            let answered = self.answered.notified();
            tokio::pin!(answered);
            answered.as_mut().enable();
            match self.take_chat(address) {
                Ok(turn) => return turn,
                Err(not_yet) => tokio::select! {
                    _ = answered => {}
                    _ = tokio::time::sleep(not_yet.wait) => {}
                },
            }
        }
    }

    /// Waits until it is known when `address` may get a message, without taking its turn:
    /// at once, unless its last message is on its way; then until that one's answer, for no
    /// longer than `patience`.
    pub async fn when_ready(&self, address: &str, patience: Duration) -> NotYet {
        let deadline = Instant::now() + patience;
        loop {
            let answered = self.answered.notified();
            tokio::pin!(answered);
            answered.as_mut().enable();
            let now = Instant::now();
            let not_yet = self.lock().windows_of(address).and_then(|w| w.not_yet(now));
            let not_yet = not_yet.unwrap_or(NotYet {
                ready: Some(now),
                wait: Duration::ZERO,
            });
            if not_yet.ready.is_some() || now >= deadline {
                return not_yet;
            }
            tokio::select! {
                _ = answered => {}
                _ = tokio::time::sleep(deadline - now) => {}
            }
        }
    }

    /// The time, on the dispatcher's clock, at which a message to `address` waits for the
    /// chat to be ready at `ready`, given that the clock read `now` at instant `then`. Every
    /// message deferred on the same instant gets the same time, so that they fall due together
    /// and go in their queue's order; always after `now`, so a pass never meets them again.
    pub fn defer_until(
        &self,
        address: &str,
        ready: Instant,
        (now, then): (DateTime<Utc>, Instant),
    ) -> DateTime<Utc> {
        // Rounded up and a little more (`now` may have been read a moment before `then`), so
        // the chat is ready when the message is claimed again.
        let wait = ready.saturating_duration_since(then) + DEFER_MARGIN;
        let millis = i64::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(i64::MAX / 2);
        let fresh = now + TimeDelta::milliseconds(millis);
        let mut pace = self.lock();
        let Some(windows) = pace.windows_of(address) else {
            return fresh;
        };
        match windows.deferred {
            Some((at, until)) if at == ready && until > now => until,
            _ => {
                windows.deferred = Some((ready, fresh));
                fresh
            }
        }
    }

    /// Records the answer of a send that held `turn`'s places.
    fn answer(&self, turn: &Turn<'_>) {
        let now = Instant::now();
        let mut pace = self.lock();
        if turn.overall
            && let Some(overall) = pace.overall.as_mut()
        {
            overall.answered(now);
        }
        if let Some(windows) = turn.chat.as_ref().and_then(|c| pace.chats.get_mut(c)) {
            windows.each().for_each(|w| w.answered(now));
        }
        drop(pace);
        self.answered.notify_waiters();
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
        paused.get(address).copied()
    }
}

impl Turn<'_> {
    /// Waits until the channel may send one more message, over all its chats, and takes
    /// that place too.
    pub async fn wait_overall(&mut self) {
        let throttle = self.throttle;
        while !self.overall {
            let answered = throttle.answered.notified();
            tokio::pin!(answered);
            answered.as_mut().enable();
            let wait = {
                let mut pace = throttle.lock();
                let Some(overall) = pace.overall.as_mut() else {
                    return;
                };
                let wait = overall.wait(Instant::now());
                if wait.is_zero() {
                    overall.take();
                    self.overall = true;
                    break;
                }
                wait
            };
            tokio::select! {
                _ = answered => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if self.overall || self.chat.is_some() {
            self.throttle.answer(self);
        }
    }
}

#[cfg(test)]
mod tests;
