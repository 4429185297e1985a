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
mod tests {
    use super::*;
    use crate::channel::ratelimit::{GroupLimit, RateLimits};
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

    #[tokio::test]
    async fn a_second_message_to_the_same_chat_waits_for_its_turn() {
        let throttle = Throttle::new(&ChannelLimit {
            per_chat_every_seconds: Some(0.2),
            ..ChannelLimit::unlimited()
        });
        let started = std::time::Instant::now();
        drop(throttle.wait_turn("chat-1").await);
        drop(throttle.wait_turn("chat-2").await);
        assert!(started.elapsed() < Duration::from_millis(100));
        drop(throttle.wait_turn("chat-1").await);
        assert!(started.elapsed() >= Duration::from_millis(150));
    }

    #[test]
    fn a_chat_whose_last_message_is_on_its_way_is_not_ready_and_says_for_how_long() {
        let throttle = Throttle::new(&RateLimits::default().telegram);
        let first = throttle.take_chat("42").unwrap();
        let on_its_way = throttle.take_chat("42").err().unwrap();
        assert_eq!(on_its_way.wait, Duration::from_secs(1));
        assert_eq!(on_its_way.ready, None, "not known before the answer");
        assert!(
            throttle.take_chat("43").is_ok(),
            "another chat is not held up"
        );
        let answered = Instant::now();
        drop(first);
        let not_yet = throttle.take_chat("42").err().unwrap();
        assert!(
            not_yet.wait > Duration::from_millis(900) && not_yet.wait <= Duration::from_secs(1)
        );
        let ready = not_yet.ready.unwrap();
        assert!(ready >= answered + Duration::from_secs(1));
        assert!(ready <= Instant::now() + Duration::from_secs(1));
    }

    #[tokio::test]
    async fn when_a_chat_is_ready_is_known_once_its_last_messages_answer_is_back() {
        let throttle = Throttle::new(&RateLimits::default().whatsapp);
        let gap = Duration::from_secs(6);
        let first = throttle.take_chat("+1").unwrap();
        let answer = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let answered = Instant::now();
            drop(first);
            answered
        };
        let patience = Duration::from_secs(5);
        let (answered, second) = tokio::join!(answer, throttle.when_ready("+1", patience));
        let ready = second.ready.unwrap();
        assert!(ready >= answered + gap && ready < answered + gap + Duration::from_millis(50));
        assert!(throttle.take_chat("+1").is_err(), "only said, not taken");

        let held = throttle.take_chat("+2").unwrap();
        let gave_up = throttle.when_ready("+2", Duration::from_millis(50)).await;
        assert_eq!(gave_up.ready, None, "no longer than its patience");
        drop(held);
    }

    #[test]
    fn messages_deferred_on_the_same_ready_instant_get_one_time_after_now() {
        let throttle = Throttle::new(&RateLimits::default().whatsapp);
        drop(throttle.take_chat("+1").unwrap());
        let ready = throttle.take_chat("+1").err().unwrap().ready.unwrap();
        let first = throttle.defer_until("+1", ready, (at(0), Instant::now()));
        assert!(first > at(5) && first <= at(6) + TimeDelta::milliseconds(10));
        std::thread::sleep(Duration::from_millis(3));
        let later = at(0) + TimeDelta::milliseconds(3);
        assert_eq!(
            throttle.defer_until("+1", ready, (later, Instant::now())),
            first
        );
        assert!(throttle.defer_until("+1", ready, (at(7), Instant::now())) > at(7));
    }

    #[test]
    fn a_group_takes_twenty_messages_a_minute_and_a_private_chat_is_not_counted_so() {
        let throttle = Throttle::new(&ChannelLimit {
            per_group: Some(GroupLimit::per_minute(20)),
            ..ChannelLimit::unlimited()
        });
        for _ in 0..20 {
            drop(throttle.take_chat("-100500").unwrap());
            drop(throttle.take_chat("4242").unwrap());
        }
        let wait = throttle.take_chat("-100500").err().unwrap().wait;
        assert!(wait > Duration::from_secs(59), "{wait:?}");
        assert!(throttle.take_chat("4242").is_ok());
    }

    #[tokio::test]
    async fn the_overall_pace_lets_a_full_window_go_and_then_waits_for_its_oldest_answer() {
        let throttle = Throttle::new(&ChannelLimit {
            overall_per_second: Some(3),
            ..ChannelLimit::unlimited()
        });
        let started = std::time::Instant::now();
        for chat in ["a", "b", "c"] {
            drop(throttle.wait_turn(chat).await);
        }
        assert!(started.elapsed() < Duration::from_millis(100));
        drop(throttle.wait_turn("d").await);
        assert!(started.elapsed() >= Duration::from_millis(950));
    }
}
