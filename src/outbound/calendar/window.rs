//! Calendar arithmetic in the recipient's local time: working days, holidays, quiet months,
//! and turning a local date and time into one instant even across clock changes.

use super::config::{CalendarConfig, QuietMove};
use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

/// Why a day is not a sending day, before any per-contact limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayBlock {
    NotASendingDay(Weekday),
    Holiday,
    Quiet,
}

impl DayBlock {
    pub fn describe(&self, day: NaiveDate) -> String {
        match self {
            DayBlock::NotASendingDay(weekday) => {
                format!("{day} is a {}, not a sending day", weekday_name(*weekday))
            }
            DayBlock::Holiday => format!("{day} is a public holiday"),
            DayBlock::Quiet => format!("{day} falls in the quiet months"),
        }
    }
}

pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

pub fn month_name(month: u32) -> &'static str {
    u8::try_from(month)
        .ok()
        .and_then(|m| chrono::Month::try_from(m).ok())
        .map(|m| m.name())
        .unwrap_or("?")
}

impl CalendarConfig {
    pub fn is_quiet(&self, day: NaiveDate) -> bool {
        self.quiet_months.contains(&day.month())
    }

    /// Whether messages may go out on this local day at all, for a rule with this quiet-month
    /// behaviour.
    pub fn day_block(&self, day: NaiveDate, quiet: QuietMove) -> Option<DayBlock> {
        let weekday = day.weekday();
        if !self.send_window.days.contains(&weekday) {
            Some(DayBlock::NotASendingDay(weekday))
        } else if self.holidays.contains(&day) {
            Some(DayBlock::Holiday)
        } else if quiet != QuietMove::Stay && self.is_quiet(day) {
            Some(DayBlock::Quiet)
        } else {
            None
        }
    }

    /// Moves a date out of the quiet months in the rule's direction: to the last day before
    /// the quiet stretch, or the first day after it. `None` when no move is needed.
    pub fn leave_quiet_months(&self, day: NaiveDate, quiet: QuietMove) -> Option<NaiveDate> {
        let step = match quiet {
            QuietMove::Stay => return None,
            QuietMove::Earlier => -1,
            QuietMove::Later => 1,
        };
        if !self.is_quiet(day) {
            return None;
        }
        let mut moved = day;
        // A year of steps is enough: validation rejects a config where every month is quiet.
        for _ in 0..366 {
            moved += Duration::days(step);
            if !self.is_quiet(moved) {
                return Some(moved);
            }
        }
        None
    }

    pub fn quiet_months_text(&self) -> String {
        let names: Vec<&str> = self.quiet_months.iter().map(|m| month_name(*m)).collect();
        names.join(", ")
    }
}

/// The instant a local wall-clock time means in `tz`. A time skipped by a spring-forward
/// change becomes the first instant after the gap; a time that happens twice when clocks go
/// back becomes the earlier of the two. The note says what happened, if anything.
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> (DateTime<Utc>, Option<String>) {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => (t.with_timezone(&Utc), None),
        LocalResult::Ambiguous(a, b) => (a.min(b).with_timezone(&Utc), None),
        LocalResult::None => {
            // Gaps are at most a few hours; walk forward minute by minute to the first time
            // that exists.
            let mut probe = local;
            for _ in 0..(24 * 60) {
                probe += Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    let note = format!(
                        "{} does not exist on {} in {} (the clocks go forward); sent at {}",
                        local.format("%H:%M"),
                        local.date(),
                        tz.name(),
                        t.format("%H:%M")
                    );
                    return (t.with_timezone(&Utc), Some(note));
                }
            }
            // Unreachable for real zones; fall back to reading the time as UTC.
            (Utc.from_utc_datetime(&local), None)
        }
    }
}

/// The local date and time of an instant in `tz`.
pub fn local_of(tz: Tz, at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&tz).naive_local()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_time_inside_the_spring_forward_gap_becomes_the_first_valid_instant() {
        let local = date(2027, 3, 14).and_time(NaiveTime::from_hms_opt(2, 30, 0).unwrap());
        let (at, note) = resolve_local(chrono_tz::America::New_York, local);
        assert_eq!(at.to_rfc3339(), "2027-03-14T07:00:00+00:00");
        assert!(note.unwrap().contains("sent at 03:00"));
    }

    #[test]
    fn an_ambiguous_fall_back_time_picks_the_earlier_instant() {
        let local = date(2027, 11, 7).and_time(NaiveTime::from_hms_opt(1, 30, 0).unwrap());
        let (at, note) = resolve_local(chrono_tz::America::New_York, local);
        assert_eq!(at.to_rfc3339(), "2027-11-07T05:30:00+00:00");
        assert_eq!(note, None);
    }

    #[test]
    fn earlier_rules_leave_july_for_the_end_of_june_and_later_ones_for_september() {
        let config = CalendarConfig::default();
        assert_eq!(
            config.leave_quiet_months(date(2027, 8, 10), QuietMove::Earlier),
            Some(date(2027, 6, 30))
        );
        assert_eq!(
            config.leave_quiet_months(date(2027, 7, 10), QuietMove::Later),
            Some(date(2027, 9, 1))
        );
        assert_eq!(
            config.leave_quiet_months(date(2027, 7, 10), QuietMove::Stay),
            None
        );
    }
}
