//! Account health: turns what we know about an account into a score 0-100, a category (green,
//! yellow, red) and reasons a manager can read. A pure core: the facts come in as a plain
//! [`HealthInput`] built elsewhere, nothing here touches the database or the clock.
//!
//! Two models, chosen in [`HealthConfig`]: the weighted model (components scored 0-100 and
//! combined by weight, with an onboarding profile for young accounts) and the rule model
//! (points for a few plain rules). Missing data is never read as good or bad: an unknown part
//! is left out and named in [`HealthScore::missing`]; with nothing known there is no score.
//!
//! - `input`: the facts; `config` and `validate`: the settings and their checks
//! - `components`: how each component of the weighted model is scored; `weighted`: combining them
//! - `rules`: the rule model; `score` and `explain`: the result and its wording
//! - `trend`: changes over time and the drops and turns that escalate

mod components;
mod config;
mod explain;
mod input;
mod rules;
mod score;
mod trend;
mod validate;
mod weighted;

pub mod store;

#[cfg(test)]
mod tests;

pub use config::{
    Bands, ConfigParseError, DEFAULT_TOML, EngagementRules, HealthConfig, ModelKind, Onboarding,
    RelationshipRules, RulePoints, SupportRules, UsageRules, Weights,
};
pub use input::{
    EngagementFacts, HealthInput, NpsAnswer, NpsBand, OutcomeFacts, PaymentFacts,
    RelationshipFacts, SupportFacts, UsageFacts,
};
pub use score::{Category, ComponentScore, HealthScore};
pub use trend::{
    ScoreDrop, ScorePoint, Trend, change_over, dropped_more_than, largest_drop, score_at, trend,
    turned_red,
};

/// Scores one account with the model the settings choose. Pure and deterministic: the same
/// input and settings always give the same result.
pub fn score(input: &HealthInput, config: &HealthConfig) -> HealthScore {
    match config.model {
        ModelKind::Weighted => weighted::score(input, config),
        ModelKind::Rules => rules::score(input, config),
    }
}
