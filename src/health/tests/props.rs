//! Properties over arbitrary facts: the score stays in range, answers never hurt, and more
//! data never breaks the scorer.

use super::*;
use proptest::option::of;
use proptest::prelude::*;

fn usage() -> impl Strategy<Value = UsageFacts> {
    (
        of(0u32..500),
        of(0u32..500),
        of(0u32..40),
        of(-0.5f64..1.5),
        of(0u32..500),
    )
        .prop_map(|(a, l, d, f, b)| UsageFacts {
            active_users: a,
            licences: l,
            login_days_last_30: d,
            feature_adoption: f,
            active_users_30_days_ago: b,
        })
}

fn engagement() -> impl Strategy<Value = EngagementFacts> {
    (
        of(0u32..100),
        of(0u32..120),
        prop::collection::vec(any::<bool>(), 0..8),
        of(0u32..5),
        of(0u32..10),
        of(0u32..10),
        of(0u32..5),
    )
        .prop_map(|(s, a, c, n, u, o, r)| EngagementFacts {
            touches_sent_90d: s,
            touches_answered_90d: a,
            read_unanswered_early: r,
            recent_checkins_answered: c,
            nps_answers_90d: n,
            unreachable_contacts: u,
            opted_out_contacts: o,
        })
}

fn support() -> impl Strategy<Value = SupportFacts> {
    (
        of(0u32..40),
        of(0u32..40),
        of(prop::collection::vec(-5i64..60, 0..4)),
        of(0.0f64..6.0),
    )
        .prop_map(|(t, p, c, csat)| SupportFacts {
            tickets_last_30d: t,
            tickets_prior_30d: p,
            critical_open_since: c.map(|days| days.into_iter().map(days_ago).collect()),
            csat_avg_90d: csat,
        })
}

fn rest() -> impl Strategy<Value = (PaymentFacts, OutcomeFacts, RelationshipFacts)> {
    (
        of(0u32..12),
        of(0u32..12),
        of(0u32..20),
        of(0u32..25),
        of(0u32..8),
        of(any::<bool>()),
        of(any::<bool>()),
        of((0u8..=10, -10i64..500)),
    )
        .prop_map(|(on, late, set, met, contacts, sponsor, champion, nps)| {
            (
                PaymentFacts {
                    on_time_6m: on,
                    late_6m: late,
                },
                OutcomeFacts {
                    goals_set: set,
                    goals_met: met,
                },
                RelationshipFacts {
                    active_contacts: contacts,
                    executive_sponsor: sponsor,
                    champion,
                    last_nps: nps.map(|(score, days)| NpsAnswer {
                        score,
                        at: days_ago(days),
                    }),
                },
            )
        })
}

fn input() -> impl Strategy<Value = HealthInput> {
    (of(-10i64..400), usage(), engagement(), support(), rest()).prop_map(
        |(days, usage, engagement, support, (payments, outcomes, relationship))| HealthInput {
            now: now(),
            days_since_day_zero: days,
            usage,
            engagement,
            support,
            payments,
            outcomes,
            relationship,
        },
    )
}

fn configs() -> Vec<HealthConfig> {
    let mut with_payments = HealthConfig::default();
    with_payments.weights.payments = 15.0;
    vec![HealthConfig::default(), with_payments, rule_model()]
}

fn assert_well_formed(health: &HealthScore) -> Result<(), TestCaseError> {
    if let Some(s) = health.score {
        prop_assert!(s <= 100);
        prop_assert!(health.category.is_some());
    } else {
        prop_assert!(health.category.is_none());
    }
    for c in &health.components {
        prop_assert!(c.value.is_none_or(|v| v <= 100));
        prop_assert_eq!(c.is_known(), !health.missing.contains(&c.name));
    }
    Ok(())
}

proptest! {
    #[test]
    fn the_score_is_always_between_0_and_100(input in input()) {
        for config in configs() {
            assert_well_formed(&score(&input, &config))?;
        }
    }

    #[test]
    fn more_answered_touches_never_lower_engagement(
        input in input(),
        sent in 1u32..60,
        fewer in 0u32..60,
        more in 0u32..60,
    ) {
        let (fewer, more) = (fewer.min(more), fewer.max(more));
        let engagement_with = |answered| {
            let mut input = input.clone();
            input.engagement.touches_sent_90d = Some(sent);
            input.engagement.touches_answered_90d = Some(answered);
            value_of(&input, "engagement").expect("answer rate is known")
        };
        prop_assert!(engagement_with(fewer) <= engagement_with(more));
    }

    #[test]
    fn more_answered_checkins_never_lower_engagement(input in input(), at in 0usize..8) {
        let mut input = input;
        if input.engagement.recent_checkins_answered.len() <= at {
            input.engagement.recent_checkins_answered.resize(at + 1, false);
        }
        input.engagement.recent_checkins_answered[at] = false;
        let before = value_of(&input, "engagement");
        input.engagement.recent_checkins_answered[at] = true;
        let after = value_of(&input, "engagement");
        prop_assert!(after >= before);
    }

    #[test]
    fn adding_a_known_component_never_panics_or_loses_the_score(
        input in input(),
        extra in rest(),
    ) {
        let (_, outcomes, relationship) = extra;
        for config in configs() {
            let before = score(&input, &config);
            let mut more = input.clone();
            more.outcomes = OutcomeFacts { goals_set: Some(outcomes.goals_set.unwrap_or(0) + 1), ..outcomes };
            more.outcomes.goals_met.get_or_insert(0);
            more.relationship = relationship.clone();
            more.relationship.active_contacts.get_or_insert(2);
            let after = score(&more, &config);
            assert_well_formed(&after)?;
            if config.model == ModelKind::Weighted {
                // Outcomes and relationship are now known, so a score exists.
                prop_assert!(after.score.is_some());
                prop_assert!(after.missing.len() <= before.missing.len());
            }
        }
    }

    #[test]
    fn scoring_is_deterministic(input in input()) {
        for config in configs() {
            prop_assert_eq!(score(&input, &config), score(&input, &config));
        }
    }
}
