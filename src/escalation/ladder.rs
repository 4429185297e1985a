//! Who owns an escalation as it ages (DOMAIN.md, "Escalation path"): the account's CSM first,
//! then the CS manager, then the VP of CS together with the executive sponsor.
//!
//! Days are counted in whole 24-hour periods from the moment the escalation opened, not in
//! calendar dates: day 1 is the first 24 hours, day 8 starts exactly 7 × 24 hours after
//! opening. That keeps the ladder the same for a CSM in any time zone and across clock changes.
//! The ladder climbs while the escalation is open or acknowledged; acknowledging it does not
//! stop the clock, only resolving does.

use super::config::LadderConfig;
use super::lifecycle::Status;
use chrono::{DateTime, Utc};

/// A rung of the ladder. Ordered: `Csm < Manager < Vp`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Csm,
    Manager,
    /// The VP of CS, and the account's executive sponsor with them.
    Vp,
}

impl Level {
    pub const ALL: &'static [Level] = &[Level::Csm, Level::Manager, Level::Vp];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Csm => "csm",
            Level::Manager => "manager",
            Level::Vp => "vp",
        }
    }
}

impl std::str::FromStr for Level {
    type Err = crate::domain::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase();
        Level::ALL
            .iter()
            .copied()
            .find(|l| l.as_str() == norm)
            .ok_or_else(|| {
                crate::domain::ParseError(format!(
                    "'{}' is not a ladder level; use one of: csm, manager, vp",
                    s.trim()
                ))
            })
    }
}

/// The escalation's day number: 1 during the first 24 hours after opening, 2 during the next,
/// and so on. A `now` before the opening counts as day 1.
pub fn escalation_day(opened_at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    const DAY_SECONDS: i64 = 24 * 60 * 60;
    (now - opened_at).num_seconds().max(0) / DAY_SECONDS + 1
}

/// The highest rung the escalation has reached at `now`.
pub fn ladder_level(opened_at: DateTime<Utc>, now: DateTime<Utc>, config: &LadderConfig) -> Level {
    let day = escalation_day(opened_at, now);
    if day >= i64::from(config.vp_from_day) {
        Level::Vp
    } else if day >= i64::from(config.manager_from_day) {
        Level::Manager
    } else {
        Level::Csm
    }
}

/// The rungs to post now, lowest first, given the highest one already notified (`None` when
/// nobody has been told yet). Each rung is posted once: after posting, record the last one
/// returned as `notified`. A rung skipped over (the bot was down across day 8) is still
/// returned, so the manager hears about it before the VP does. Nothing is due once resolved.
pub fn steps_due(
    opened_at: DateTime<Utc>,
    now: DateTime<Utc>,
    notified: Option<Level>,
    status: Status,
    config: &LadderConfig,
) -> Vec<Level> {
    if status == Status::Resolved {
        return Vec::new();
    }
    let reached = ladder_level(opened_at, now, config);
    Level::ALL
        .iter()
        .copied()
        .filter(|level| *level <= reached && notified.is_none_or(|done| *level > done))
        .collect()
}
