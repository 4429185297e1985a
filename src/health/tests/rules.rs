//! The points-based rule model.

use super::*;

fn points_of(input: &HealthInput, rule: &str) -> Option<i32> {
    part(&score(input, &rule_model()), rule).points
}

fn logins(days: u32) -> HealthInput {
    let mut input = nothing();
    input.usage.login_days_last_30 = Some(days);
    input
}

fn nps(score: u8) -> HealthInput {
    let mut input = nothing();
    input.relationship.last_nps = Some(NpsAnswer {
        score,
        at: days_ago(5),
    });
    input
}

fn payments(on_time: u32, late: u32) -> HealthInput {
    let mut input = nothing();
    input.payments = PaymentFacts {
        on_time_6m: Some(on_time),
        late_6m: Some(late),
    };
    input
}

#[test]
fn logging_in_on_more_than_15_days_gives_30_points() {
    assert_eq!(points_of(&logins(16), "logins"), Some(30));
    assert_eq!(points_of(&logins(30), "logins"), Some(30));
}

#[test]
fn logging_in_on_5_to_15_days_gives_15_points() {
    assert_eq!(points_of(&logins(15), "logins"), Some(15));
    assert_eq!(points_of(&logins(5), "logins"), Some(15));
}

#[test]
fn logging_in_on_fewer_than_5_days_gives_nothing_but_is_known() {
    assert_eq!(points_of(&logins(4), "logins"), Some(0));
    let health = score(&logins(4), &rule_model());
    assert_eq!(health.score, Some(0));
    assert!(!health.missing.contains(&"logins".to_string()));
}

#[test]
fn more_than_half_the_licences_active_gives_20_points() {
    let seats = |active| {
        let mut input = nothing();
        input.usage.active_users = Some(active);
        input.usage.licences = Some(10);
        input
    };
    assert_eq!(points_of(&seats(6), "active users"), Some(20));
    assert_eq!(points_of(&seats(5), "active users"), Some(0));
}

#[test]
fn no_critical_ticket_open_gives_15_points() {
    let mut input = nothing();
    input.support.critical_open_since = Some(vec![]);
    assert_eq!(points_of(&input, "critical tickets"), Some(15));
}

#[test]
fn a_critical_ticket_open_more_than_7_days_takes_20_points() {
    let mut input = nothing();
    input.support.critical_open_since = Some(vec![days_ago(8)]);
    assert_eq!(points_of(&input, "critical tickets"), Some(-20));
    input.support.critical_open_since = Some(vec![days_ago(7)]);
    assert_eq!(points_of(&input, "critical tickets"), Some(0));
}

#[test]
fn a_promoter_gives_20_points_a_passive_none_and_a_detractor_takes_15() {
    assert_eq!(points_of(&nps(9), "NPS"), Some(20));
    assert_eq!(points_of(&nps(8), "NPS"), Some(0));
    assert_eq!(points_of(&nps(7), "NPS"), Some(0));
    assert_eq!(points_of(&nps(6), "NPS"), Some(-15));
}

#[test]
fn every_payment_on_time_for_6_months_gives_15_points() {
    assert_eq!(points_of(&payments(6, 0), "payments"), Some(15));
    assert_eq!(points_of(&payments(5, 1), "payments"), Some(0));
}

#[test]
fn six_months_without_any_payment_leave_the_payment_rule_unknown() {
    assert_eq!(points_of(&payments(0, 0), "payments"), None);
}

#[test]
fn a_thriving_account_collects_every_point() {
    let health = score(&thriving(), &rule_model());
    assert_eq!(health.score, Some(100));
    assert_eq!(health.category, Some(Category::Green));
    assert_eq!(health.model, "rules");
    assert!(health.missing.is_empty());
}

#[test]
fn a_negative_total_is_clamped_to_zero() {
    let mut input = nps(2);
    input.support.critical_open_since = Some(vec![days_ago(30)]);
    let health = score(&input, &rule_model());
    assert_eq!(health.score, Some(0));
    assert_eq!(health.category, Some(Category::Red));
}

#[test]
fn a_total_above_100_is_clamped_to_100() {
    let mut config = rule_model();
    config.rules.login_high = 90;
    config.rules.promoter = 50;
    let mut input = logins(20);
    input.relationship = nps(10).relationship;
    assert_eq!(score(&input, &config).score, Some(100));
}

#[test]
fn rules_without_data_are_reported_unknown_and_add_nothing() {
    let health = score(&logins(20), &rule_model());
    assert_eq!(health.score, Some(30));
    assert_eq!(
        health.missing,
        ["active users", "critical tickets", "NPS", "payments"]
    );
    let nps = part(&health, "NPS");
    assert_eq!(nps.points, None);
    assert_eq!(nps.effective_weight, 0.0);
    assert_eq!(nps.explanation, "NPS unknown: no data on a recent NPS");
}

#[test]
fn the_rule_model_without_any_data_has_no_score() {
    let health = score(&nothing(), &rule_model());
    assert_eq!(health.score, None);
    assert_eq!(health.category, None);
    assert_eq!(health.missing.len(), 5);
}

#[test]
fn an_old_nps_answer_does_not_count_in_the_rule_model() {
    let mut input = nothing();
    input.relationship.last_nps = Some(NpsAnswer {
        score: 10,
        at: days_ago(366),
    });
    assert_eq!(points_of(&input, "NPS"), None);
}

#[test]
fn rule_explanations_show_the_points_and_the_reason() {
    assert_eq!(
        part(&score(&logins(18), &rule_model()), "logins").explanation,
        "logins +30: logged in on 18 of the last 30 days (more than 15)"
    );
    assert_eq!(
        part(&score(&nps(3), &rule_model()), "NPS").explanation,
        "NPS -15: last NPS 3 (detractor) on 2027-05-27"
    );
}

#[test]
fn the_rule_model_ignores_the_onboarding_profile() {
    let mut input = thriving();
    input.days_since_day_zero = Some(10);
    assert_eq!(score(&input, &rule_model()).model, "rules");
}

#[test]
fn the_payment_rule_says_how_many_payments_were_on_time_or_late() {
    let said = |input: &HealthInput| {
        part(&score(input, &rule_model()), "payments")
            .explanation
            .clone()
    };
    assert_eq!(
        said(&payments(6, 0)),
        "payments +15: all 6 payments of the last 6 months on time"
    );
    assert_eq!(
        said(&payments(1, 0)),
        "payments +15: the one payment of the last 6 months on time"
    );
    assert_eq!(
        said(&payments(5, 1)),
        "payments +0: 1 of 6 payments in the last 6 months late"
    );
}
