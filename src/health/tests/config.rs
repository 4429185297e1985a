//! The `[health]` settings: shipped defaults, parsing and validation.

use super::*;

#[test]
fn the_shipped_default_toml_is_the_default_config() {
    let text = format!("[health]\n{DEFAULT_TOML}");
    let table: toml::Table = toml::from_str(&text).unwrap();
    let parsed: HealthConfig = table["health"].clone().try_into().unwrap();
    assert_eq!(parsed, HealthConfig::default());
}

#[test]
fn the_default_toml_parses_on_its_own_as_a_section_body() {
    assert_eq!(
        HealthConfig::from_section_body(DEFAULT_TOML).unwrap(),
        HealthConfig::default()
    );
}

#[test]
fn the_default_toml_works_below_a_health_header_in_a_bigger_file() {
    #[derive(serde::Deserialize)]
    struct File {
        #[allow(dead_code)]
        bot: toml::Table,
        health: HealthConfig,
        #[allow(dead_code)]
        later: toml::Table,
    }
    let text = format!("[bot]\nname = \"touchbot\"\n\n[health]\n{DEFAULT_TOML}\n[later]\nx = 1\n");
    let file: File = toml::from_str(&text).unwrap();
    assert_eq!(file.health, HealthConfig::default());
}

#[test]
fn the_default_config_is_valid() {
    assert_eq!(HealthConfig::default().validate(), Vec::new());
}

#[test]
fn the_config_survives_a_round_trip_through_toml() {
    let mut config = HealthConfig {
        model: ModelKind::Rules,
        ..HealthConfig::default()
    };
    config.weights.payments = 12.5;
    let text = toml::to_string(&config).unwrap();
    assert_eq!(toml::from_str::<HealthConfig>(&text).unwrap(), config);
}

#[test]
fn a_partial_section_keeps_the_defaults_for_everything_else() {
    let config =
        HealthConfig::from_section_body("model = \"rules\"\n[health.weights]\nusage = 40\n")
            .unwrap();
    assert_eq!(config.model, ModelKind::Rules);
    assert_eq!(config.weights.usage, 40.0);
    assert_eq!(config.weights.engagement, 25.0);
    assert_eq!(config.bands, Bands::default());
}

#[test]
fn a_misspelt_key_is_rejected_by_name() {
    let err = HealthConfig::from_section_body("[health.weights]\nusgae = 40\n").unwrap_err();
    assert!(err.to_string().contains("usgae"), "{err}");
}

#[test]
fn an_unknown_model_is_rejected() {
    let err = HealthConfig::from_section_body("model = \"magic\"\n").unwrap_err();
    assert!(err.to_string().contains("magic"), "{err}");
}

fn paths(config: &HealthConfig) -> Vec<String> {
    config
        .validate()
        .into_iter()
        .map(|(path, _)| path)
        .collect()
}

const NO_WEIGHTS: Weights = Weights {
    usage: 0.0,
    engagement: 0.0,
    support: 0.0,
    outcomes: 0.0,
    relationship: 0.0,
    payments: 0.0,
};

#[test]
fn weights_that_are_all_zero_are_caught() {
    let config = HealthConfig {
        weights: NO_WEIGHTS,
        ..HealthConfig::default()
    };
    let issues = config.validate();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].0, "health.weights");
    assert!(issues[0].1.contains("every weight is 0"), "{}", issues[0].1);
}

#[test]
fn onboarding_weights_that_are_all_zero_are_caught_separately() {
    let mut config = HealthConfig::default();
    config.onboarding.weights = NO_WEIGHTS;
    assert_eq!(paths(&config), ["health.onboarding.weights"]);
}

#[test]
fn a_negative_weight_is_caught_by_its_path() {
    let mut config = HealthConfig::default();
    config.weights.usage = -5.0;
    config.support.csat_weight = f64::NAN;
    assert_eq!(
        paths(&config),
        ["health.weights.usage", "health.support.csat_weight"]
    );
}

#[test]
fn inverted_band_thresholds_are_caught() {
    let config = HealthConfig {
        bands: Bands {
            green_from: 50,
            yellow_from: 80,
        },
        ..HealthConfig::default()
    };
    let issues = config.validate();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].0, "health.bands.yellow_from");
    assert!(issues[0].1.contains("below green_from"), "{}", issues[0].1);
}

#[test]
fn a_green_threshold_above_100_is_caught() {
    let mut config = HealthConfig::default();
    config.bands.green_from = 101;
    assert_eq!(paths(&config), ["health.bands.green_from"]);
}

#[test]
fn inverted_ticket_bands_and_login_marks_are_caught() {
    let mut config = HealthConfig::default();
    config.support.yellow_from = 12;
    config.rules.login_days_low_from = 20;
    assert_eq!(
        paths(&config),
        [
            "health.support.yellow_from",
            "health.rules.login_days_low_from"
        ]
    );
}

#[test]
fn shares_and_scores_out_of_range_are_caught() {
    let mut config = HealthConfig::default();
    config.usage.full_adoption = 1.5;
    config.engagement.full_answer_rate = 0.0;
    config.relationship.contact_scores = vec![0, 130];
    config.rules.active_share_above = 2.0;
    assert_eq!(
        paths(&config),
        [
            "health.usage.full_adoption",
            "health.engagement.full_answer_rate",
            "health.relationship.contact_scores[1]",
            "health.rules.active_share_above"
        ]
    );
}

#[test]
fn an_empty_contact_score_list_is_caught() {
    let mut config = HealthConfig::default();
    config.relationship.contact_scores = vec![];
    assert_eq!(paths(&config), ["health.relationship.contact_scores"]);
}

#[test]
fn switching_a_whole_component_off_by_its_parts_is_caught() {
    let mut config = HealthConfig::default();
    config.usage.seats_weight = 0.0;
    config.usage.logins_weight = 0.0;
    config.usage.adoption_weight = 0.0;
    assert_eq!(paths(&config), ["health.usage"]);
}

#[test]
fn a_read_unanswered_wait_longer_than_the_reply_window_is_refused_with_the_range() {
    let mut config = HealthConfig::default();
    config.engagement.read_unanswered_days = 10;
    let issues = config.validate();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].0, "health.engagement.read_unanswered_days");
    assert!(issues[0].1.contains("use 1 to 7"), "{}", issues[0].1);
}
