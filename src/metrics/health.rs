//! The portfolio's health at a glance: the average score, how it moved over 30 days, and how
//! many accounts sit in each category. Churned accounts are no longer scored, so they are
//! left out; an account never scored, or scored without enough data, is counted as unscored.

use serde::Serialize;

use super::facts::AccountFacts;
use crate::health::Category;

#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct HealthSummary {
    /// Accounts with a score.
    pub scored: usize,
    /// Served accounts without one.
    pub unscored: usize,
    /// The mean of the latest scores.
    pub average: Option<f64>,
    /// The mean move over 30 days of the accounts scored both now and 30 days ago: the change
    /// of the same accounts, so a new account joining the portfolio does not read as a trend.
    pub change_30d: Option<f64>,
    /// How many accounts `change_30d` rests on.
    pub compared: usize,
    pub green: usize,
    pub yellow: usize,
    pub red: usize,
}

impl HealthSummary {
    pub fn count(&self, category: Category) -> usize {
        match category {
            Category::Green => self.green,
            Category::Yellow => self.yellow,
            Category::Red => self.red,
        }
    }
}

pub fn summarize<'a>(accounts: impl IntoIterator<Item = &'a AccountFacts>) -> HealthSummary {
    let mut out = HealthSummary::default();
    let mut total = 0.0;
    let mut moved = 0.0;
    for a in accounts.into_iter().filter(|a| a.is_served()) {
        let Some((score, h)) = a.health.and_then(|h| h.score.map(|s| (s, h))) else {
            out.unscored += 1;
            continue;
        };
        out.scored += 1;
        total += f64::from(score);
        match h.category {
            Some(Category::Green) => out.green += 1,
            Some(Category::Yellow) => out.yellow += 1,
            Some(Category::Red) => out.red += 1,
            None => {}
        }
        if let Some(change) = h.change_30d {
            out.compared += 1;
            moved += f64::from(change);
        }
    }
    out.average = (out.scored > 0).then(|| total / out.scored as f64);
    out.change_30d = (out.compared > 0).then(|| moved / out.compared as f64);
    out
}
