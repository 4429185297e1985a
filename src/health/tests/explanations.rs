//! What a manager reads: explanations and the one-line summary.

use super::*;

#[test]
fn the_worst_reason_comes_first() {
    let mut input = nothing();
    input.engagement.touches_sent_90d = Some(10);
    input.engagement.touches_answered_90d = Some(6);
    input.engagement.recent_checkins_answered = vec![false, false, false, true];
    assert_eq!(
        explanation_of(&input, "engagement"),
        "engagement 63: 3 of the last 4 check-ins unanswered; \
         6 of 10 touches answered in the last 90 days"
    );
}

#[test]
fn penalties_are_named_before_the_parts() {
    let mut input = thriving();
    input.engagement.opted_out_contacts = Some(2);
    let text = explanation_of(&input, "engagement");
    assert!(
        text.starts_with("engagement 85: 2 contacts opted out; "),
        "{text}"
    );
    assert!(
        text.ends_with("answered 1 NPS survey in the last 90 days"),
        "{text}"
    );
}

#[test]
fn an_unknown_component_says_which_data_is_missing() {
    assert_eq!(
        explanation_of(&nothing(), "usage"),
        "usage unknown: no data on active users and licences, login days or feature adoption"
    );
    assert_eq!(
        explanation_of(&nothing(), "outcomes"),
        "outcomes unknown: no data on goals set and met"
    );
}

#[test]
fn the_summary_gives_score_category_weakest_component_and_gaps() {
    let mut input = nothing();
    input.engagement.recent_checkins_answered = vec![false, false, false, true];
    input.support.tickets_last_30d = Some(2);
    let summary = score(&input, &HealthConfig::default()).summary();
    // (25 × 25 + 20 × 100) / 45 = 58.3
    assert_eq!(
        summary,
        "58 yellow (weighted); weakest: engagement 25: 3 of the last 4 check-ins unanswered \
         (no data on answers to touches); no data: usage, outcomes, relationship"
    );
    assert!(!summary.contains('\n'));
}

#[test]
fn the_summary_of_an_account_without_data_says_so() {
    assert_eq!(
        score(&nothing(), &HealthConfig::default()).summary(),
        "not enough data (weighted); no data: usage, engagement, support, outcomes, relationship"
    );
}

#[test]
fn the_summary_of_the_rule_model_names_the_rule_that_cost_most() {
    let mut input = nothing();
    input.usage.login_days_last_30 = Some(20);
    input.support.critical_open_since = Some(vec![days_ago(10)]);
    let summary = score(&input, &rule_model()).summary();
    assert!(
        summary.starts_with(
            "10 red (rules); weakest: critical tickets -20: a critical ticket open for 10 days"
        ),
        "{summary}"
    );
}
