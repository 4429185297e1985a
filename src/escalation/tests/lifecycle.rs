use crate::escalation::{ChurnReason, Outcome, OutcomeParseError, Status, nps_recovered};

fn parse(text: &str) -> Result<Outcome, OutcomeParseError> {
    text.parse()
}

#[test]
fn a_churn_to_a_named_competitor_keeps_the_name_as_typed() {
    assert_eq!(
        parse("churned:competitor:Acme CRM"),
        Ok(Outcome::Churned(ChurnReason::Competitor("Acme CRM".into())))
    );
}

#[test]
fn churn_keys_accept_any_case_and_dashes() {
    assert_eq!(
        parse(" Churned:Missing-Feature: Bulk export "),
        Ok(Outcome::Churned(ChurnReason::MissingFeature(
            "Bulk export".into()
        )))
    );
    assert_eq!(
        parse("churned:business changed"),
        Ok(Outcome::Churned(ChurnReason::BusinessChanged))
    );
}

#[test]
fn every_simple_churn_reason_parses() {
    for (text, reason) in [
        ("churned:price", ChurnReason::Price),
        ("churned:service", ChurnReason::Service),
        ("churned:business_changed", ChurnReason::BusinessChanged),
        ("churned:budget", ChurnReason::Budget),
    ] {
        assert_eq!(parse(text), Ok(Outcome::Churned(reason)), "{text}");
    }
}

#[test]
fn a_competitor_name_may_contain_a_colon() {
    assert_eq!(
        parse("churned:competitor:Acme: CRM edition"),
        Ok(Outcome::Churned(ChurnReason::Competitor(
            "Acme: CRM edition".into()
        )))
    );
}

#[test]
fn the_other_outcomes_parse() {
    assert_eq!(parse("saved"), Ok(Outcome::Saved));
    assert_eq!(parse("Recovered"), Ok(Outcome::Recovered));
    assert_eq!(parse("no-action"), Ok(Outcome::NoAction));
    assert_eq!(
        parse("other: merged into the parent account"),
        Ok(Outcome::Other("merged into the parent account".into()))
    );
}

#[test]
fn churned_without_a_reason_lists_the_reasons() {
    let err = parse("churned").unwrap_err();
    assert_eq!(err, OutcomeParseError::MissingChurnReason);
    assert!(err.to_string().contains("competitor:<which>"), "{err}");
}

#[test]
fn a_competitor_churn_without_a_name_asks_for_it() {
    let err = parse("churned:competitor").unwrap_err().to_string();
    assert_eq!(
        err,
        "churned:competitor needs the competitor's name after another colon, e.g. \
         churned:competitor:Acme CRM"
    );
    let err = parse("churned:missing_feature:  ").unwrap_err().to_string();
    assert!(err.contains("feature's name"), "{err}");
}

#[test]
fn an_unknown_churn_reason_is_named_in_the_error() {
    let err = parse("churned:weather").unwrap_err();
    assert_eq!(err, OutcomeParseError::UnknownChurnReason("weather".into()));
    assert!(
        err.to_string()
            .starts_with("'weather' is not a churn reason")
    );
}

#[test]
fn a_detail_where_none_belongs_is_refused() {
    let err = parse("churned:price:too high").unwrap_err().to_string();
    assert_eq!(
        err,
        "'churned:price' takes no further detail, but ':too high' was given; write just \
         'churned:price'"
    );
    assert!(parse("saved:by Anna").is_err());
}

#[test]
fn an_unknown_or_empty_outcome_shows_the_accepted_forms() {
    let err = parse("won").unwrap_err().to_string();
    assert!(
        err.starts_with("'won' is not an outcome; use one of: saved"),
        "{err}"
    );
    assert_eq!(parse("  "), Err(OutcomeParseError::Empty));
    assert_eq!(parse("other:"), Err(OutcomeParseError::MissingOtherText));
}

#[test]
fn every_outcome_is_written_the_way_it_is_read() {
    let outcomes = [
        Outcome::Saved,
        Outcome::Recovered,
        Outcome::NoAction,
        Outcome::Other("moved to a partner".into()),
        Outcome::Churned(ChurnReason::Price),
        Outcome::Churned(ChurnReason::MissingFeature("SSO".into())),
        Outcome::Churned(ChurnReason::Service),
        Outcome::Churned(ChurnReason::BusinessChanged),
        Outcome::Churned(ChurnReason::Competitor("Acme CRM".into())),
        Outcome::Churned(ChurnReason::Budget),
    ];
    for outcome in outcomes {
        assert_eq!(
            parse(&outcome.to_string()),
            Ok(outcome.clone()),
            "{outcome}"
        );
    }
}

#[test]
fn an_escalation_is_acknowledged_then_resolved() {
    assert_eq!(
        Status::Open.transition(Status::Acknowledged),
        Ok(Status::Acknowledged)
    );
    assert_eq!(
        Status::Acknowledged.transition(Status::Resolved),
        Ok(Status::Resolved)
    );
    assert_eq!(
        Status::Open.transition(Status::Resolved),
        Ok(Status::Resolved)
    );
}

#[test]
fn a_resolved_escalation_cannot_be_reopened() {
    let err = Status::Resolved.transition(Status::Open).unwrap_err();
    assert!(err.to_string().contains("already resolved"), "{err}");
    let err = Status::Acknowledged
        .transition(Status::Acknowledged)
        .unwrap_err();
    assert_eq!(err.to_string(), "this escalation is already acknowledged");
    assert!(Status::Acknowledged.transition(Status::Open).is_err());
}

#[test]
fn a_detractor_recovers_with_a_higher_answer_that_is_no_longer_a_detractor() {
    assert!(nps_recovered(3, 7, 6));
    assert!(nps_recovered(6, 10, 6));
}

#[test]
fn a_happier_detractor_has_not_recovered_yet() {
    assert!(!nps_recovered(2, 6, 6));
}

#[test]
fn a_passive_answer_no_higher_than_before_is_not_a_recovery() {
    // Only reachable with a stricter detractor line than the default.
    assert!(!nps_recovered(8, 8, 8));
    assert!(!nps_recovered(5, 4, 3));
}
