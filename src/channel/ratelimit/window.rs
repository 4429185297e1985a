//! A sliding window of sends: at most `max` in any `period`, where a send holds its slot from
//! the moment it is allowed to leave until `period` after its answer came back.
//!
//! Counting from the answer rather than from the start is what makes the pace safe: the
//! platform counts a message when it arrives, which is somewhere between our start and our
//! answer, so two sends whose slots are `period` apart on this side always arrive at least
//! `period` apart over there, however late the network or a loaded machine delivered the
//! first. The price is one round trip per slot and period (a few milliseconds on a second).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub(crate) struct Window {
    max: usize,
    period: Duration,
    /// Sends allowed to leave whose answer has not come back yet.
    in_flight: usize,
    /// When the answers of the last `period` came back, oldest first.
    answered: VecDeque<Instant>,
}

impl Window {
    pub(crate) fn new(max: usize, period: Duration) -> Window {
        Window {
            max: max.max(1),
            period,
            in_flight: 0,
            answered: VecDeque::new(),
        }
    }

    fn forget_before(&mut self, now: Instant) {
        while self
            .answered
            .front()
            .is_some_and(|&at| at + self.period <= now)
        {
            self.answered.pop_front();
        }
    }

    /// When a send may leave: `Some(now)` when a slot is free now, `None` while the slot it
    /// waits for is still in flight (it frees a period after an answer yet to come).
    pub(crate) fn ready(&mut self, now: Instant) -> Option<Instant> {
        self.forget_before(now);
        let held = self.in_flight + self.answered.len();
        if held < self.max {
            return Some(now);
        }
        // The slot that frees first among those that must free before one is ours.
        self.answered
            .get(held - self.max)
            .map(|&at| (at + self.period).max(now))
    }

    /// How long until a send may leave: zero when a slot is free now. With every slot in
    /// flight the wait is not known yet; a whole period is the least it can be.
    pub(crate) fn wait(&mut self, now: Instant) -> Duration {
        self.ready(now)
            .map_or(self.period, |at| at.saturating_duration_since(now))
    }

    /// Takes a slot; call only when `wait` said zero.
    pub(crate) fn take(&mut self) {
        self.in_flight += 1;
    }

    /// The answer of a send that held a slot came back at `now`.
    pub(crate) fn answered(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.answered.push_back(now);
    }

    /// Nothing in flight and nothing recent: the window may be dropped.
    pub(crate) fn idle(&mut self, now: Instant) -> bool {
        self.forget_before(now);
        self.in_flight == 0 && self.answered.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_full_window_frees_a_period_after_the_oldest_answer() {
        let t = Instant::now();
        let mut w = Window::new(2, 1000 * MS);
        assert_eq!(w.wait(t), Duration::ZERO);
        w.take();
        w.take();
        assert_eq!(w.wait(t), 1000 * MS, "both in flight: at least a period");
        w.answered(t + 10 * MS);
        w.answered(t + 30 * MS);
        assert_eq!(w.wait(t + 100 * MS), 910 * MS);
        assert_eq!(w.wait(t + 1010 * MS), Duration::ZERO);
    }

    #[test]
    fn a_full_window_knows_when_it_frees_only_once_the_answer_it_waits_for_is_back() {
        let t = Instant::now();
        let mut w = Window::new(1, 6000 * MS);
        assert_eq!(w.ready(t), Some(t));
        w.take();
        assert_eq!(w.ready(t + 50 * MS), None);
        w.answered(t + 80 * MS);
        assert_eq!(w.ready(t + 100 * MS), Some(t + 6080 * MS));
        assert_eq!(w.ready(t + 6080 * MS), Some(t + 6080 * MS));
    }

    #[test]
    fn a_send_in_flight_keeps_its_slot_however_long_it_takes() {
        let t = Instant::now();
        let mut w = Window::new(1, 1000 * MS);
        w.take();
        assert_eq!(w.wait(t + 5000 * MS), 1000 * MS);
        w.answered(t + 5000 * MS);
        assert!(!w.idle(t + 5500 * MS));
        assert_eq!(w.wait(t + 5500 * MS), 500 * MS);
        assert!(w.idle(t + 6000 * MS));
    }
}
