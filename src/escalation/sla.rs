//! The first-response SLA (DOMAIN.md: within 4 working hours), measured in working time: only
//! the hours between `start` and `end` on working days that are not holidays count, read in
//! the team's time zone.
//!
//! Each working day's window is turned into two instants separately, so a clock change at night
//! shifts the window with local time and a working day stays as long as it is on the wall
//! clock. A start or end time that a clock change skips becomes the first instant after the
//! gap; one that happens twice becomes the earlier instant.

use super::config::SlaConfig;
use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// How far ahead to look for working time. Validation rules out a week without working days;
/// ten years of holidays are not a real configuration.
const SEARCH_DAYS: u32 = 3660;

/// When the first response is due: `first_response_hours` of working time after `opened_at`.
/// `tz` is normally `config.time_zone`; a caller may pass the CSM's own zone instead. A
/// deadline that lands exactly on the end of a working day stays on that day.
pub fn sla_deadline(opened_at: DateTime<Utc>, tz: Tz, config: &SlaConfig) -> DateTime<Utc> {
    let mut remaining = Duration::hours(i64::from(config.first_response_hours));
    let mut day = opened_at.with_timezone(&tz).date_naive();
    for _ in 0..SEARCH_DAYS {
        if is_working_day(day, config) {
            let start = instant(tz, day.and_time(config.start.0));
            let end = instant(tz, day.and_time(config.end.0));
            let from = start.max(opened_at);
            if end > from {
                let available = end - from;
                if remaining <= available {
                    return from + remaining;
                }
                remaining -= available;
            }
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    // Only reachable with a configuration that validation rejects: fall back to plain hours.
    opened_at + Duration::hours(i64::from(config.first_response_hours))
}

/// Whether the first response came (or, with none yet, is) later than the deadline. Answering
/// exactly at the deadline meets it.
pub fn sla_breached(
    opened_at: DateTime<Utc>,
    first_response_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    tz: Tz,
    config: &SlaConfig,
) -> bool {
    let deadline = sla_deadline(opened_at, tz, config);
    first_response_at.unwrap_or(now) > deadline
}

pub fn is_working_day(day: NaiveDate, config: &SlaConfig) -> bool {
    config.days.contains(&day.weekday()) && !config.holidays.contains(&day)
}

fn instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            // Gaps last at most a few hours: step forward a minute at a time.
            (1..=24 * 60)
                .find_map(|m| {
                    tz.from_local_datetime(&(local + Duration::minutes(m)))
                        .earliest()
                })
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| Utc.from_utc_datetime(&local))
        }
    }
}
