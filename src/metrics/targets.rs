//! The targets a CS team is held to (DOMAIN.md, "Team metrics"): every one is "strictly
//! above", so a figure equal to its target is not yet on target. A figure is judged as it is
//! shown, in whole units, so "110%" never reads as on target for an NRR target above 110%.

use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Target {
    pub name: &'static str,
    /// In the unit the figure is shown in: NPS points, health points, or percent.
    pub above: f64,
}

pub const NPS: Target = Target {
    name: "NPS",
    above: 50.0,
};
pub const AVERAGE_HEALTH: Target = Target {
    name: "average health",
    above: 75.0,
};
pub const NRR: Target = Target {
    name: "NRR",
    above: 110.0,
};
pub const GRR: Target = Target {
    name: "GRR",
    above: 90.0,
};

impl Target {
    pub fn met(self, value: f64) -> bool {
        value.round() > self.above
    }

    /// "on target" or "below target".
    pub fn verdict(self, value: f64) -> &'static str {
        if self.met(value) {
            "on target"
        } else {
            "below target"
        }
    }
}
