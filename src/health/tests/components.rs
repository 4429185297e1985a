//! The rules inside each component of the weighted model.

use super::*;

fn with_usage(usage: UsageFacts) -> HealthInput {
    HealthInput { usage, ..nothing() }
}

fn seats(active: u32, licences: u32) -> HealthInput {
    with_usage(UsageFacts {
        active_users: Some(active),
        licences: Some(licences),
        ..UsageFacts::default()
    })
}

// ---- usage -----------------------------------------------------------------------------------

#[test]
fn seats_score_in_proportion_until_80_percent_of_licences_are_active() {
    assert_eq!(value_of(&seats(4, 10), "usage"), Some(50));
    assert_eq!(value_of(&seats(8, 10), "usage"), Some(100));
    assert_eq!(value_of(&seats(10, 10), "usage"), Some(100));
    assert_eq!(value_of(&seats(0, 10), "usage"), Some(0));
}

#[test]
fn more_active_users_than_licences_still_scores_at_most_100() {
    assert_eq!(value_of(&seats(30, 10), "usage"), Some(100));
}

#[test]
fn licences_of_zero_leave_usage_unknown_rather_than_dividing_by_zero() {
    assert_eq!(value_of(&seats(3, 0), "usage"), None);
}

#[test]
fn active_users_without_licences_leave_usage_unknown() {
    let input = with_usage(UsageFacts {
        active_users: Some(5),
        ..UsageFacts::default()
    });
    assert_eq!(value_of(&input, "usage"), None);
}

#[test]
fn login_days_reach_full_marks_at_20_of_30() {
    let logins = |days| {
        with_usage(UsageFacts {
            login_days_last_30: Some(days),
            ..UsageFacts::default()
        })
    };
    assert_eq!(value_of(&logins(10), "usage"), Some(50));
    assert_eq!(value_of(&logins(20), "usage"), Some(100));
    assert_eq!(value_of(&logins(0), "usage"), Some(0));
}

#[test]
fn feature_adoption_reaches_full_marks_at_60_percent() {
    let adoption = |share| {
        with_usage(UsageFacts {
            feature_adoption: Some(share),
            ..UsageFacts::default()
        })
    };
    assert_eq!(value_of(&adoption(0.3), "usage"), Some(50));
    assert_eq!(value_of(&adoption(0.9), "usage"), Some(100));
}

#[test]
fn usage_parts_combine_by_their_weights() {
    // seats 50 (×40), logins 100 (×40), adoption 0 (×20) → 60
    let input = with_usage(UsageFacts {
        active_users: Some(4),
        licences: Some(10),
        login_days_last_30: Some(25),
        feature_adoption: Some(0.0),
        active_users_30_days_ago: None,
    });
    assert_eq!(value_of(&input, "usage"), Some(60));
}

#[test]
fn active_users_falling_by_more_than_30_percent_costs_20_points() {
    let mut input = seats(6, 10);
    input.usage.active_users_30_days_ago = Some(10);
    // seats 75, minus 20 for a 40% fall
    assert_eq!(value_of(&input, "usage"), Some(55));
    assert!(
        explanation_of(&input, "usage")
            .starts_with("usage 55: active users down 40% in 30 days (from 10 to 6)")
    );
}

#[test]
fn active_users_falling_by_exactly_30_percent_costs_nothing() {
    let mut input = seats(7, 10);
    input.usage.active_users_30_days_ago = Some(10);
    assert_eq!(value_of(&input, "usage"), Some(88));
}

#[test]
fn a_usage_trend_alone_does_not_make_usage_known() {
    let input = with_usage(UsageFacts {
        active_users: Some(2),
        active_users_30_days_ago: Some(10),
        ..UsageFacts::default()
    });
    assert_eq!(value_of(&input, "usage"), None);
}

// ---- engagement ------------------------------------------------------------------------------

fn checkins(answers: &[bool]) -> HealthInput {
    let mut input = nothing();
    input.engagement.recent_checkins_answered = answers.to_vec();
    input
}

fn touches(sent: u32, answered: u32) -> HealthInput {
    let mut input = nothing();
    input.engagement.touches_sent_90d = Some(sent);
    input.engagement.touches_answered_90d = Some(answered);
    input
}

#[test]
fn three_of_the_last_four_checkins_unanswered_scores_25_and_says_so() {
    let input = checkins(&[false, true, false, false]);
    assert_eq!(value_of(&input, "engagement"), Some(25));
    assert_eq!(
        explanation_of(&input, "engagement"),
        "engagement 25: 3 of the last 4 check-ins unanswered (no data on answers to touches)"
    );
}

#[test]
fn only_the_latest_four_checkins_count() {
    let input = checkins(&[true, true, true, true, false, false, false]);
    assert_eq!(value_of(&input, "engagement"), Some(100));
}

#[test]
fn the_number_of_checkins_that_count_is_configurable() {
    let mut config = HealthConfig::default();
    config.engagement.checkins_considered = 2;
    let health = score(&checkins(&[true, false, false, false]), &config);
    assert_eq!(part(&health, "engagement").value, Some(50));
}

#[test]
fn no_checkins_on_record_leave_that_part_unknown() {
    let input = touches(10, 6);
    assert_eq!(value_of(&input, "engagement"), Some(100));
    assert!(explanation_of(&input, "engagement").ends_with("(no data on check-in answers)"));
}

#[test]
fn touches_answered_score_in_proportion_until_60_percent() {
    assert_eq!(value_of(&touches(10, 3), "engagement"), Some(50));
    assert_eq!(value_of(&touches(10, 6), "engagement"), Some(100));
    assert_eq!(value_of(&touches(10, 0), "engagement"), Some(0));
}

#[test]
fn no_touches_sent_leaves_the_answer_rate_unknown() {
    assert_eq!(value_of(&touches(0, 0), "engagement"), None);
}

fn read_unanswered(sent: u32, answered: u32, read: u32) -> HealthInput {
    let mut input = touches(sent, answered);
    input.engagement.read_unanswered_early = Some(read);
    input
}

#[test]
fn a_survey_read_and_left_unanswered_counts_as_a_missed_answer_before_its_window_ends() {
    // 6 of 10 due touches answered scores 100; two more read and ignored make it 6 of 12.
    assert_eq!(value_of(&touches(10, 6), "engagement"), Some(100));
    assert_eq!(value_of(&read_unanswered(10, 6, 2), "engagement"), Some(83));
    assert_eq!(
        explanation_of(&read_unanswered(10, 6, 2), "engagement"),
        "engagement 83: 6 of 12 touches answered in the last 90 days (2 read but unanswered \
         for 3 days already) (no data on check-in answers)"
    );
}

#[test]
fn a_first_survey_read_and_ignored_is_known_engagement_though_none_is_due_yet() {
    let mut input = nothing();
    input.engagement.read_unanswered_early = Some(1);
    assert_eq!(value_of(&input, "engagement"), Some(0));
    assert_eq!(value_of(&read_unanswered(0, 0, 0), "engagement"), None);
}

#[test]
fn more_answers_than_touches_count_as_every_touch_answered() {
    assert_eq!(value_of(&touches(4, 9), "engagement"), Some(100));
    assert!(explanation_of(&touches(4, 9), "engagement").contains("4 of 4 touches answered"));
}

#[test]
fn each_unreachable_or_opted_out_contact_costs_10_points() {
    let mut input = checkins(&[true, true, true, true]);
    input.engagement.unreachable_contacts = Some(1);
    input.engagement.opted_out_contacts = Some(1);
    assert_eq!(value_of(&input, "engagement"), Some(80));
    assert!(
        explanation_of(&input, "engagement")
            .starts_with("engagement 80: 1 contact unreachable, 1 contact opted out")
    );
}

#[test]
fn lost_contacts_cost_at_most_30_points_together() {
    let mut input = checkins(&[true, true, true, true]);
    input.engagement.unreachable_contacts = Some(5);
    input.engagement.opted_out_contacts = Some(2);
    assert_eq!(value_of(&input, "engagement"), Some(70));
}

#[test]
fn penalties_alone_do_not_make_engagement_known() {
    let mut input = nothing();
    input.engagement.unreachable_contacts = Some(3);
    assert_eq!(value_of(&input, "engagement"), None);
}

#[test]
fn an_answered_nps_survey_adds_a_bonus() {
    let mut input = checkins(&[true, false]);
    input.engagement.nps_answers_90d = Some(1);
    assert_eq!(value_of(&input, "engagement"), Some(55));
    input.engagement.nps_answers_90d = Some(0);
    assert_eq!(value_of(&input, "engagement"), Some(50));
}

// ---- support ---------------------------------------------------------------------------------

fn tickets(last_30: u32) -> HealthInput {
    let mut input = nothing();
    input.support.tickets_last_30d = Some(last_30);
    input
}

fn critical_open_for(ages: &[TimeDelta]) -> HealthInput {
    let mut input = nothing();
    input.support.critical_open_since = Some(ages.iter().map(|age| now() - *age).collect());
    input
}

#[test]
fn four_tickets_a_month_is_green_and_five_is_yellow() {
    assert_eq!(value_of(&tickets(4), "support"), Some(100));
    assert_eq!(value_of(&tickets(5), "support"), Some(60));
}

#[test]
fn ten_tickets_a_month_is_still_yellow_and_eleven_is_red() {
    assert_eq!(value_of(&tickets(10), "support"), Some(60));
    assert_eq!(value_of(&tickets(11), "support"), Some(20));
    assert!(
        explanation_of(&tickets(11), "support")
            .starts_with("support 20: 11 tickets in the last 30 days (red: over 10)")
    );
}

#[test]
fn tickets_rising_by_three_or_more_cost_10_points() {
    let mut input = tickets(4);
    input.support.tickets_prior_30d = Some(1);
    assert_eq!(value_of(&input, "support"), Some(90));
    input.support.tickets_prior_30d = Some(2);
    assert_eq!(value_of(&input, "support"), Some(100));
}

#[test]
fn no_critical_ticket_open_scores_full_marks() {
    assert_eq!(value_of(&critical_open_for(&[]), "support"), Some(100));
}

#[test]
fn a_critical_ticket_open_exactly_7_days_is_not_yet_overdue() {
    let input = critical_open_for(&[TimeDelta::days(7)]);
    assert_eq!(value_of(&input, "support"), Some(50));
}

#[test]
fn a_critical_ticket_open_longer_than_7_days_is_overdue() {
    let input = critical_open_for(&[TimeDelta::days(7) + TimeDelta::hours(1)]);
    assert_eq!(value_of(&input, "support"), Some(0));
    let input = critical_open_for(&[TimeDelta::days(2), TimeDelta::days(9)]);
    assert_eq!(
        explanation_of(&input, "support"),
        "support 0: 2 critical tickets open, the oldest for 9 days \
         (no data on ticket volume or CSAT)"
    );
}

#[test]
fn unknown_critical_tickets_are_not_taken_as_none_open() {
    assert_eq!(value_of(&nothing(), "support"), None);
}

#[test]
fn csat_maps_1_to_5_onto_0_to_100() {
    let csat = |c| {
        let mut input = nothing();
        input.support.csat_avg_90d = Some(c);
        value_of(&input, "support")
    };
    assert_eq!(csat(5.0), Some(100));
    assert_eq!(csat(4.0), Some(75));
    assert_eq!(csat(3.0), Some(50));
    assert_eq!(csat(1.0), Some(0));
}

// ---- outcomes --------------------------------------------------------------------------------

#[test]
fn outcomes_score_the_share_of_goals_met() {
    let mut input = nothing();
    input.outcomes = OutcomeFacts {
        goals_set: Some(5),
        goals_met: Some(3),
    };
    assert_eq!(value_of(&input, "outcomes"), Some(60));
    assert_eq!(
        explanation_of(&input, "outcomes"),
        "outcomes 60: 3 of 5 goals met"
    );
}

#[test]
fn no_goals_set_leaves_outcomes_unknown() {
    let mut input = nothing();
    input.outcomes = OutcomeFacts {
        goals_set: Some(0),
        goals_met: Some(0),
    };
    assert_eq!(value_of(&input, "outcomes"), None);
}

// ---- relationship ----------------------------------------------------------------------------

fn contacts(n: u32) -> HealthInput {
    let mut input = nothing();
    input.relationship.active_contacts = Some(n);
    input
}

#[test]
fn a_single_contact_is_a_risk() {
    assert_eq!(value_of(&contacts(1), "relationship"), Some(30));
    assert_eq!(
        explanation_of(&contacts(1), "relationship"),
        "relationship 30: a single active contact \
         (no data on an executive sponsor, a champion or NPS)"
    );
}

#[test]
fn two_contacts_are_healthier_and_three_or_more_are_best() {
    assert_eq!(value_of(&contacts(0), "relationship"), Some(0));
    assert_eq!(value_of(&contacts(2), "relationship"), Some(80));
    assert_eq!(value_of(&contacts(3), "relationship"), Some(100));
    assert_eq!(value_of(&contacts(12), "relationship"), Some(100));
}

#[test]
fn a_sponsor_and_a_champion_count_only_when_known() {
    let mut input = contacts(3);
    input.relationship.executive_sponsor = Some(false);
    // contacts 100 (×40), sponsor 0 (×20) → 67; the champion is unknown, not absent.
    assert_eq!(value_of(&input, "relationship"), Some(67));
    input.relationship.champion = Some(true);
    assert_eq!(value_of(&input, "relationship"), Some(75));
}

#[test]
fn the_last_nps_scores_by_its_band() {
    let nps = |score| {
        let mut input = nothing();
        input.relationship.last_nps = Some(NpsAnswer {
            score,
            at: days_ago(10),
        });
        value_of(&input, "relationship")
    };
    assert_eq!(nps(10), Some(100));
    assert_eq!(nps(9), Some(100));
    assert_eq!(nps(8), Some(60));
    assert_eq!(nps(7), Some(60));
    assert_eq!(nps(6), Some(0));
}

#[test]
fn an_nps_older_than_a_year_is_ignored() {
    let mut input = contacts(3);
    input.relationship.last_nps = Some(NpsAnswer {
        score: 2,
        at: days_ago(400),
    });
    assert_eq!(value_of(&input, "relationship"), Some(100));
    assert!(explanation_of(&input, "relationship").contains("the last one is too old"));
}

#[test]
fn a_bonus_never_lifts_a_component_above_100() {
    let mut input = checkins(&[true, true]);
    input.engagement.nps_answers_90d = Some(3);
    assert_eq!(value_of(&input, "engagement"), Some(100));
    assert!(
        explanation_of(&input, "engagement")
            .contains("; answered 3 NPS surveys in the last 90 days")
    );
}

#[test]
fn penalties_never_push_a_component_below_0() {
    let mut input = seats(0, 10);
    input.usage.active_users_30_days_ago = Some(10);
    assert_eq!(value_of(&input, "usage"), Some(0));
}
