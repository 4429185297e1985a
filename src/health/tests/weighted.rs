use super::*;

const STANDARD: [&str; 5] = ["usage", "engagement", "support", "outcomes", "relationship"];

#[test]
fn an_account_with_no_data_has_no_score_and_every_component_is_missing() {
    let health = score(&nothing(), &HealthConfig::default());
    assert_eq!(health.score, None);
    assert_eq!(health.missing, STANDARD);
    assert!(health.components.iter().all(|c| c.value.is_none()));
    assert!(health.components.iter().all(|c| c.effective_weight == 0.0));
}

#[test]
fn only_engagement_and_support_known_share_the_weight_25_to_20() {
    let mut input = nothing();
    input.engagement.recent_checkins_answered = vec![true, false, true, true];
    input.support.tickets_last_30d = Some(7);
    let health = score(&input, &HealthConfig::default());

    let engagement = part(&health, "engagement");
    let support = part(&health, "support");
    assert_eq!(engagement.value, Some(75));
    assert_eq!(support.value, Some(60));
    assert!((engagement.effective_weight - 25.0 / 45.0).abs() < 1e-9);
    assert!((support.effective_weight - 20.0 / 45.0).abs() < 1e-9);
    assert_eq!(engagement.weight, 25.0);
    // (25 × 75 + 20 × 60) / 45 = 68.3
    assert_eq!(health.score, Some(68));
    assert_eq!(health.missing, ["usage", "outcomes", "relationship"]);
}

#[test]
fn an_unknown_component_counts_neither_as_zero_nor_as_a_hundred() {
    let mut input = nothing();
    input.outcomes = OutcomeFacts {
        goals_set: Some(4),
        goals_met: Some(3),
    };
    let health = score(&input, &HealthConfig::default());
    assert_eq!(health.score, Some(75));
    assert_eq!(part(&health, "outcomes").effective_weight, 1.0);
}

#[test]
fn effective_weights_of_known_components_add_up_to_one() {
    let mut input = thriving();
    input.outcomes = OutcomeFacts::default();
    let health = score(&input, &HealthConfig::default());
    let sum: f64 = health.components.iter().map(|c| c.effective_weight).sum();
    assert!((sum - 1.0).abs() < 1e-9, "sum was {sum}");
    assert_eq!(health.missing, ["outcomes"]);
}

#[test]
fn the_score_is_the_weighted_mean_of_the_component_values_shown() {
    let mut input = thriving();
    input.usage.login_days_last_30 = Some(4);
    input.engagement.recent_checkins_answered = vec![false, false, true, true];
    input.support.tickets_last_30d = Some(12);
    let health = score(&input, &HealthConfig::default());
    let expected: f64 = health
        .components
        .iter()
        .map(|c| c.effective_weight * f64::from(c.value.unwrap()))
        .sum();
    assert_eq!(health.score, Some(expected.round() as u8));
}

#[test]
fn a_thriving_account_is_green_with_every_component_known() {
    let health = score(&thriving(), &HealthConfig::default());
    assert_eq!(health.category, Some(Category::Green));
    assert!(health.score.unwrap() >= 90, "{health:#?}");
    assert!(health.missing.is_empty());
    assert_eq!(health.model, "weighted");
}

#[test]
fn a_component_weighted_zero_is_left_out_and_not_reported_missing() {
    let health = score(&nothing(), &HealthConfig::default());
    assert!(health.components.iter().all(|c| c.name != "payments"));
    assert!(!health.missing.contains(&"payments".to_string()));
}

#[test]
fn payments_count_once_they_are_given_a_weight() {
    let mut config = HealthConfig::default();
    config.weights.payments = 15.0;
    let mut input = nothing();
    input.payments = PaymentFacts {
        on_time_6m: Some(3),
        late_6m: Some(1),
    };
    let health = score(&input, &config);
    assert_eq!(health.score, Some(75));
    assert_eq!(
        part(&health, "payments").explanation,
        "payments 75: 3 of 4 payments on time in 6 months"
    );
}

#[test]
fn the_onboarding_profile_applies_on_day_89() {
    let mut input = thriving();
    input.days_since_day_zero = Some(89);
    let health = score(&input, &HealthConfig::default());
    assert_eq!(health.model, "weighted (onboarding)");
    assert_eq!(part(&health, "usage").weight, 35.0);
    assert_eq!(part(&health, "outcomes").weight, 5.0);
}

#[test]
fn the_onboarding_profile_no_longer_applies_on_day_90() {
    let mut input = thriving();
    input.days_since_day_zero = Some(90);
    let health = score(&input, &HealthConfig::default());
    assert_eq!(health.model, "weighted");
    assert_eq!(part(&health, "usage").weight, 30.0);
    assert_eq!(part(&health, "outcomes").weight, 15.0);
}

#[test]
fn onboarding_weights_change_the_score_of_a_young_account() {
    // Strong use and conversation, no goals met yet: onboarding judges it more kindly.
    let mut input = thriving();
    input.outcomes.goals_met = Some(0);
    input.days_since_day_zero = Some(30);
    let young = score(&input, &HealthConfig::default()).score.unwrap();
    input.days_since_day_zero = Some(120);
    let established = score(&input, &HealthConfig::default()).score.unwrap();
    assert!(young > established, "{young} vs {established}");
}

#[test]
fn an_account_without_a_known_day_zero_is_scored_with_the_standard_weights() {
    let mut input = thriving();
    input.days_since_day_zero = None;
    assert_eq!(score(&input, &HealthConfig::default()).model, "weighted");
}

#[test]
fn the_onboarding_length_is_configurable() {
    let mut config = HealthConfig::default();
    config.onboarding.days = 30;
    let mut input = thriving();
    input.days_since_day_zero = Some(29);
    assert_eq!(score(&input, &config).model, "weighted (onboarding)");
    input.days_since_day_zero = Some(30);
    assert_eq!(score(&input, &config).model, "weighted");
}

#[test]
fn scoring_the_same_facts_twice_gives_the_same_result() {
    let config = HealthConfig::default();
    assert_eq!(score(&thriving(), &config), score(&thriving(), &config));
}
