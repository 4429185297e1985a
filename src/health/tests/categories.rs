use super::*;

#[test]
fn a_score_of_80_is_green_and_79_is_yellow() {
    let bands = Bands::default();
    assert_eq!(bands.category(80), Category::Green);
    assert_eq!(bands.category(79), Category::Yellow);
    assert_eq!(bands.category(100), Category::Green);
}

#[test]
fn a_score_of_50_is_yellow_and_49_is_red() {
    let bands = Bands::default();
    assert_eq!(bands.category(50), Category::Yellow);
    assert_eq!(bands.category(49), Category::Red);
    assert_eq!(bands.category(0), Category::Red);
}

#[test]
fn configured_thresholds_move_the_category_edges() {
    let bands = Bands {
        green_from: 75,
        yellow_from: 40,
    };
    assert_eq!(bands.category(75), Category::Green);
    assert_eq!(bands.category(74), Category::Yellow);
    assert_eq!(bands.category(40), Category::Yellow);
    assert_eq!(bands.category(39), Category::Red);
}

/// Only outcomes known, so the score is exactly the share of goals met.
fn scored_with_goals_met(met: u32) -> HealthScore {
    let mut input = nothing();
    input.outcomes = OutcomeFacts {
        goals_set: Some(100),
        goals_met: Some(met),
    };
    score(&input, &HealthConfig::default())
}

#[test]
fn a_scored_account_at_49_is_red_and_at_50_is_yellow() {
    let at_49 = scored_with_goals_met(49);
    assert_eq!(
        (at_49.score, at_49.category),
        (Some(49), Some(Category::Red))
    );
    let at_50 = scored_with_goals_met(50);
    assert_eq!(
        (at_50.score, at_50.category),
        (Some(50), Some(Category::Yellow))
    );
}

#[test]
fn a_scored_account_at_79_is_yellow_and_at_80_is_green() {
    let at_79 = scored_with_goals_met(79);
    assert_eq!(
        (at_79.score, at_79.category),
        (Some(79), Some(Category::Yellow))
    );
    let at_80 = scored_with_goals_met(80);
    assert_eq!(
        (at_80.score, at_80.category),
        (Some(80), Some(Category::Green))
    );
}

#[test]
fn an_account_without_a_score_has_no_category() {
    let health = score(&nothing(), &HealthConfig::default());
    assert_eq!(health.category, None);
}
