//! What the scorer hands back: a number, a category and the reasons behind them.

use serde::{Deserialize, Serialize};

/// What the team should do about an account: expand it, nurture it, or save it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Green,
    Yellow,
    Red,
}

impl Category {
    pub const ALL: &'static [Category] = &[Category::Green, Category::Yellow, Category::Red];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Green => "green",
            Category::Yellow => "yellow",
            Category::Red => "red",
        }
    }

    /// The category as stored (`green`, `yellow`, `red`); anything else is none.
    pub fn from_stored(stored: &str) -> Option<Category> {
        Category::ALL.iter().copied().find(|c| c.as_str() == stored)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthScore {
    /// 0-100, or `None` when no part of the model had data.
    pub score: Option<u8>,
    pub category: Option<Category>,
    /// "weighted", "weighted (onboarding)" or "rules".
    pub model: String,
    pub components: Vec<ComponentScore>,
    /// Names of the components (or rules) that had no data.
    pub missing: Vec<String>,
}

/// One component of the weighted model, or one rule of the rule model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ComponentScore {
    pub name: String,
    /// As configured: the component's weight, or for a rule the most points it can add.
    pub weight: f64,
    /// The share (0-1) of the final score this part carried once unknown parts were left out;
    /// 0 for an unknown part. Rules, which add points rather than share, carry 1 when known.
    pub effective_weight: f64,
    /// The component's own score 0-100; `None` when unknown. Rules leave it `None` and use
    /// `points`.
    pub value: Option<u8>,
    /// Points a rule added (negative: took away); `None` in the weighted model and for a rule
    /// without data.
    pub points: Option<i32>,
    /// Plain words for a manager, e.g. "engagement 40: 3 of the last 4 check-ins unanswered".
    pub explanation: String,
}

impl ComponentScore {
    pub fn is_known(&self) -> bool {
        self.value.is_some() || self.points.is_some()
    }
}

impl HealthScore {
    /// One line for a chat message or a table cell, e.g.
    /// "62 yellow (weighted); weakest: engagement 40: 3 of the last 4 check-ins unanswered;
    /// no data: outcomes".
    pub fn summary(&self) -> String {
        super::explain::summary(self)
    }
}
