//! How long a plan holds. The calendar's answer depends on `now` only through a few
//! comparisons (a day against the recipient's today, the send window against the clock, a
//! ticket against its CSAT window, a touch due now). Each comparison the planner makes is
//! noted here with the first instant at which it could come out the other way; the earliest
//! of them is when the same inputs could give another plan. Until then, planning again is
//! wasted work (the nightly re-plan skips such accounts).
//!
//! Touches skipped as overdue are not noted: their reason counts the days ("overdue by 9
//! days"), but they lie in the past and the outbox never rewrites a past skipped touch.

use std::cell::{Cell, RefCell};

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;

use super::window::resolve_local;

#[derive(Default)]
pub(super) struct Stability {
    /// The earliest local instant per zone (a handful of zones per account).
    local: RefCell<Vec<(Tz, NaiveDateTime)>>,
    utc: Cell<Option<DateTime<Utc>>>,
}

impl Stability {
    /// The answer may change from this local instant in `tz` on.
    pub fn local(&self, tz: Tz, at: NaiveDateTime) {
        let mut zones = self.local.borrow_mut();
        match zones.iter_mut().find(|(z, _)| *z == tz) {
            Some((_, earliest)) if at < *earliest => *earliest = at,
            Some(_) => {}
            None => zones.push((tz, at)),
        }
    }

    /// The answer may change from the local midnight that starts `day` in `tz` on.
    pub fn day(&self, tz: Tz, day: NaiveDate) {
        self.local(tz, day.and_time(NaiveTime::MIN));
    }

    /// The answer may change from the local midnight after `day` in `tz` on.
    pub fn day_after(&self, tz: Tz, day: NaiveDate) {
        self.day(tz, day + Duration::days(1));
    }

    /// The answer may change from `at` on.
    pub fn instant(&self, at: DateTime<Utc>) {
        if self.utc.get().is_none_or(|t| at < t) {
            self.utc.set(Some(at));
        }
    }

    /// The earliest instant noted, or the end of time when nothing depends on the clock.
    pub fn until(&self) -> DateTime<Utc> {
        let local = self
            .local
            .borrow()
            .iter()
            // A local midnight skipped by a clock change resolves to the first valid instant,
            // which is later; the hour before it is taken instead, to stay on the safe side.
            .map(|(tz, at)| resolve_local(*tz, *at - Duration::hours(1)).0)
            .min();
        [local, self.utc.get()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}
