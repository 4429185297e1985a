//! The weighted model: each component scored 0-100, combined by weight. Unknown components
//! are left out and their weight shared among the known ones in proportion, so a gap in the
//! data neither sinks nor lifts the score.

use super::components::{self, Assessment};
use super::config::{HealthConfig, Weights};
use super::explain;
use super::input::HealthInput;
use super::score::{ComponentScore, HealthScore};

type Scorer = fn(&HealthInput, &HealthConfig) -> Assessment;

/// The components in the order they are shown, each with its weight from a profile.
fn components(weights: &Weights) -> [(&'static str, f64, Scorer); 6] {
    [
        ("usage", weights.usage, components::usage),
        ("engagement", weights.engagement, components::engagement),
        ("support", weights.support, components::support),
        ("outcomes", weights.outcomes, components::outcomes),
        (
            "relationship",
            weights.relationship,
            components::relationship,
        ),
        ("payments", weights.payments, components::payments),
    ]
}

pub(crate) fn score(input: &HealthInput, config: &HealthConfig) -> HealthScore {
    let (weights, onboarding) = config.weights_for(input.days_since_day_zero);
    let model = if onboarding {
        "weighted (onboarding)"
    } else {
        "weighted"
    };

    let assessed: Vec<(&str, f64, Assessment)> = components(weights)
        .into_iter()
        // A weight of 0 (or a nonsensical one) switches the component off altogether.
        .filter(|(_, weight, _)| weight.is_finite() && *weight > 0.0)
        .map(|(name, weight, scorer)| (name, weight, scorer(input, config)))
        .collect();

    let known_weight: f64 = assessed
        .iter()
        .filter(|(_, _, a)| a.value().is_some())
        .map(|(_, w, _)| w)
        .sum();

    let mut total = 0.0;
    let mut missing = Vec::new();
    let mut out = Vec::with_capacity(assessed.len());
    for (name, weight, assessment) in &assessed {
        let value = assessment.value();
        let (effective_weight, explanation) = match value {
            Some(v) => {
                let share = weight / known_weight;
                total += share * f64::from(v);
                let text = explain::component(name, v, &assessment.reasons(), &assessment.no_data);
                (share, text)
            }
            None => {
                missing.push(name.to_string());
                (0.0, explain::unknown_component(name, &assessment.no_data))
            }
        };
        out.push(ComponentScore {
            name: name.to_string(),
            weight: *weight,
            effective_weight,
            value,
            points: None,
            explanation,
        });
    }

    let score = (known_weight > 0.0).then(|| components::round_score(total));
    HealthScore {
        score,
        category: score.map(|s| config.bands.category(s)),
        model: model.to_string(),
        components: out,
        missing,
    }
}
