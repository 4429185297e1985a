//! Open escalations by age, in the buckets of the escalation ladder (DOMAIN.md): with the CSM
//! (days 1-7 by default), with the CS manager (days 8-14), with the VP (day 15 on). The
//! boundaries come from `[escalation.ladder]`, so the buckets follow a changed ladder, and a
//! day is counted as the ladder counts it (`escalation::escalation_day`). Acknowledged
//! escalations are still open: only resolving stops the clock.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::facts::OpenEscalation;
use crate::escalation::config::LadderConfig;
use crate::escalation::{Level, ladder_level};

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct EscalationAges {
    pub open: u32,
    /// One bucket per rung, lowest first.
    pub buckets: Vec<AgeBucket>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AgeBucket {
    /// Who owns an escalation of this age: csm, manager or vp.
    pub level: &'static str,
    pub from_day: u32,
    /// The last day in the bucket; `None` for the open-ended last one.
    pub to_day: Option<u32>,
    pub count: u32,
}

impl AgeBucket {
    /// "days 1-7", "day 15+".
    pub fn label(&self) -> String {
        let days = self.days();
        match self.to_day {
            Some(to) if to != self.from_day => format!("days {days}"),
            _ => format!("day {days}"),
        }
    }

    /// "1-7", "15+".
    pub fn days(&self) -> String {
        match self.to_day {
            Some(to) if to == self.from_day => to.to_string(),
            Some(to) => format!("{}-{to}", self.from_day),
            None => format!("{}+", self.from_day),
        }
    }
}

pub fn escalation_ages<'a>(
    open: impl IntoIterator<Item = &'a OpenEscalation>,
    now: DateTime<Utc>,
    ladder: &LadderConfig,
) -> EscalationAges {
    // Checked at start: 2 <= manager_from_day < vp_from_day.
    let (manager, vp) = (ladder.manager_from_day, ladder.vp_from_day);
    let mut buckets = vec![
        AgeBucket {
            level: Level::Csm.as_str(),
            from_day: 1,
            to_day: Some(manager.saturating_sub(1)),
            count: 0,
        },
        AgeBucket {
            level: Level::Manager.as_str(),
            from_day: manager,
            to_day: Some(vp.saturating_sub(1)),
            count: 0,
        },
        AgeBucket {
            level: Level::Vp.as_str(),
            from_day: vp,
            to_day: None,
            count: 0,
        },
    ];
    let mut total = 0;
    for e in open {
        total += 1;
        let i = match ladder_level(e.opened_at, now, ladder) {
            Level::Csm => 0,
            Level::Manager => 1,
            Level::Vp => 2,
        };
        buckets[i].count += 1;
    }
    EscalationAges {
        open: total,
        buckets,
    }
}
