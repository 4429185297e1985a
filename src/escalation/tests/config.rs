use crate::escalation::config::EscalationConfig;
use crate::escalation::{DEFAULT_TOML, Severity};

#[test]
fn the_shipped_defaults_parse_to_the_built_in_defaults() {
    let parsed = EscalationConfig::from_section_body(DEFAULT_TOML).unwrap();
    assert_eq!(parsed, EscalationConfig::default());

    #[derive(serde::Deserialize)]
    struct File {
        escalation: EscalationConfig,
    }
    let file: File = toml::from_str(&format!("[escalation]\n{DEFAULT_TOML}")).unwrap();
    assert_eq!(file.escalation, EscalationConfig::default());
}

#[test]
fn the_defaults_pass_validation() {
    assert_eq!(EscalationConfig::default().validate(), Vec::new());
}

#[test]
fn a_partial_section_keeps_the_other_defaults() {
    let config = EscalationConfig::from_section_body(
        "digest_non_critical = false\n[escalation.silence]\nmin_days = 14\n",
    )
    .unwrap();
    assert!(!config.digest_non_critical);
    assert_eq!(config.silence.min_days, 14);
    assert_eq!(config.silence.min_touches, 3);
    assert_eq!(config.detractor.severity, Severity::Critical);
}

#[test]
fn an_unknown_key_is_refused_with_its_name() {
    let err = EscalationConfig::from_section_body("[escalation.silence]\nmin_weeks = 3\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("min_weeks"), "{err}");
}

#[test]
fn a_bad_time_zone_is_refused() {
    let err = EscalationConfig::from_section_body("[escalation.sla]\ntime_zone = \"Mars/Base\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("Mars/Base"), "{err}");
}

#[test]
fn validation_names_every_broken_setting_by_its_path() {
    let mut config = EscalationConfig::default();
    config.silence.min_touches = 0;
    config.detractor.max_score = 11;
    config.ladder.vp_from_day = 8;
    config.sla.end = config.sla.start;
    config.usage_drop.realert_margin = 0.0;
    config.renewal.urgent_days = 40;
    let paths: Vec<String> = config.validate().into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        vec![
            "escalation.detractor.max_score",
            "escalation.silence.min_touches",
            "escalation.renewal.urgent_days",
            "escalation.usage_drop.realert_margin",
            "escalation.ladder.vp_from_day",
            "escalation.sla.end",
        ]
    );
}

#[test]
fn validation_messages_say_what_to_write_instead() {
    let mut config = EscalationConfig::default();
    config.sla.days.clear();
    let issues = config.validate();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].0, "escalation.sla.days");
    assert!(issues[0].1.contains("days = [\"Mon\""), "{}", issues[0].1);
}

#[test]
fn the_config_survives_a_round_trip_through_toml() {
    let text = toml::to_string(&EscalationConfig::default()).unwrap();
    let back: EscalationConfig = toml::from_str(&text).unwrap();
    assert_eq!(back, EscalationConfig::default());
}
