use super::*;
use crate::escalation::{
    Decision, Delivery, EscalationConfig, Magnitude, OpenEscalation, Reason, ResolvedEscalation,
    Severity, Trigger, evaluate, reconcile,
};

fn trigger(reason: Reason, severity: Severity, magnitude: f64) -> Trigger {
    Trigger {
        reason,
        severity,
        evidence: format!("{reason} evidence"),
        magnitude: Magnitude(magnitude),
        already_escalated: false,
    }
}

fn event(reason: Reason, already_escalated: bool) -> Trigger {
    Trigger {
        already_escalated,
        ..trigger(reason, Severity::Critical, 1.0)
    }
}

fn open(reason: Reason, severity: Severity, magnitude: f64) -> OpenEscalation {
    OpenEscalation {
        reason,
        severity,
        magnitude: Magnitude(magnitude),
        opened_at: days_ago(3),
    }
}

fn resolved(reason: Reason, magnitude: f64, days: i64) -> ResolvedEscalation {
    ResolvedEscalation {
        reason,
        severity: Severity::Warning,
        magnitude: Magnitude(magnitude),
        resolved_at: days_ago(days),
    }
}

fn decide(triggers: &[Trigger], open: &[OpenEscalation]) -> Vec<Decision> {
    reconcile(triggers, open, &[], &EscalationConfig::default(), now())
}

fn one(decisions: Vec<Decision>) -> Decision {
    assert_eq!(decisions.len(), 1, "{decisions:#?}");
    decisions.into_iter().next().unwrap()
}

#[test]
fn a_new_signal_opens_an_escalation() {
    let t = trigger(Reason::HealthDrop, Severity::Warning, 25.0);
    assert_eq!(
        one(decide(std::slice::from_ref(&t), &[])),
        Decision::Open {
            trigger: t,
            delivery: Delivery::Digest
        }
    );
}

#[test]
fn the_same_signal_twice_only_updates_silently() {
    let t = trigger(Reason::HealthDrop, Severity::Warning, 25.0);
    let d = one(decide(
        std::slice::from_ref(&t),
        &[open(Reason::HealthDrop, Severity::Warning, 25.0)],
    ));
    assert_eq!(d, Decision::Update { trigger: t });
    assert_eq!(d.delivery(), None);
}

#[test]
fn a_signal_that_got_better_updates_silently() {
    let d = one(decide(
        &[trigger(Reason::UsageDrop, Severity::Warning, 35.0)],
        &[open(Reason::UsageDrop, Severity::Warning, 50.0)],
    ));
    assert!(matches!(d, Decision::Update { .. }), "{d:?}");
}

#[test]
fn a_drop_worse_by_the_margin_realerts() {
    let d = one(decide(
        &[trigger(Reason::HealthDrop, Severity::Warning, 35.0)],
        &[open(Reason::HealthDrop, Severity::Warning, 25.0)],
    ));
    match d {
        Decision::Realert {
            was_magnitude,
            delivery,
            ..
        } => {
            assert_eq!(was_magnitude, Magnitude(25.0));
            assert_eq!(delivery, Delivery::Digest);
        }
        other => panic!("expected a re-alert, got {other:?}"),
    }
}

#[test]
fn a_drop_worse_by_less_than_the_margin_only_updates() {
    let d = one(decide(
        &[trigger(Reason::HealthDrop, Severity::Warning, 34.0)],
        &[open(Reason::HealthDrop, Severity::Warning, 25.0)],
    ));
    assert!(matches!(d, Decision::Update { .. }), "{d:?}");
}

#[test]
fn a_higher_severity_realerts_at_once() {
    let d = one(decide(
        &[trigger(
            Reason::RenewalNoProgress30,
            Severity::Critical,
            2.0,
        )],
        &[open(Reason::RenewalNoProgress30, Severity::Warning, 1.0)],
    ));
    assert!(matches!(d, Decision::Realert { .. }), "{d:?}");
    assert_eq!(d.delivery(), Some(Delivery::Immediate));
}

#[test]
fn a_second_request_for_help_while_one_is_open_realerts() {
    let d = one(decide(
        &[event(Reason::HelpRequested, false)],
        &[open(Reason::HelpRequested, Severity::Critical, 1.0)],
    ));
    assert!(matches!(d, Decision::Realert { .. }), "{d:?}");
}

#[test]
fn a_request_already_posted_keeps_the_open_escalation_quiet() {
    let d = one(decide(
        &[event(Reason::HelpRequested, true)],
        &[open(Reason::HelpRequested, Severity::Critical, 1.0)],
    ));
    assert!(matches!(d, Decision::Update { .. }), "{d:?}");
}

#[test]
fn an_event_escalated_before_does_not_reopen_after_it_was_resolved() {
    let d = one(decide(&[event(Reason::Detractor, true)], &[]));
    assert!(matches!(d, Decision::Hold { until: None, .. }), "{d:?}");
    assert_eq!(d.delivery(), None);
}

#[test]
fn a_signal_that_disappeared_is_suggested_as_cleared_not_resolved() {
    let decisions = decide(&[], &[open(Reason::HealthDrop, Severity::Warning, 25.0)]);
    assert_eq!(
        one(decisions),
        Decision::ConditionCleared {
            reason: Reason::HealthDrop,
            opened_at: days_ago(3),
            delivery: Delivery::Digest,
        }
    );
}

#[test]
fn a_departed_sponsor_is_never_suggested_as_cleared() {
    assert!(decide(&[], &[open(Reason::SponsorLeft, Severity::Critical, 1.0)]).is_empty());
}

#[test]
fn a_state_signal_resolved_recently_is_held_unless_worse() {
    let config = EscalationConfig::default();
    let held = reconcile(
        &[trigger(Reason::Silence, Severity::Warning, 4.0)],
        &[],
        &[resolved(Reason::Silence, 3.0, 2)],
        &config,
        now(),
    );
    assert_eq!(
        held,
        vec![Decision::Hold {
            trigger: trigger(Reason::Silence, Severity::Warning, 4.0),
            until: Some(days_ago(2) + Duration::days(14)),
        }]
    );
    let worse = reconcile(
        &[trigger(Reason::Silence, Severity::Warning, 6.0)],
        &[],
        &[resolved(Reason::Silence, 3.0, 2)],
        &config,
        now(),
    );
    assert!(matches!(one(worse), Decision::Open { .. }));
}

#[test]
fn a_state_signal_that_persists_past_the_quiet_time_reopens() {
    let decisions = reconcile(
        &[trigger(Reason::Silence, Severity::Warning, 3.0)],
        &[],
        &[resolved(Reason::Silence, 3.0, 14)],
        &EscalationConfig::default(),
        now(),
    );
    assert!(matches!(one(decisions), Decision::Open { .. }));
}

#[test]
fn critical_signals_go_out_at_once_and_the_rest_wait_for_the_digest() {
    let decisions = decide(
        &[
            trigger(Reason::Detractor, Severity::Critical, 4.0),
            trigger(Reason::Silence, Severity::Warning, 3.0),
            trigger(Reason::ChampionChanged, Severity::Info, 1.0),
        ],
        &[],
    );
    let deliveries: Vec<_> = decisions.iter().map(Decision::delivery).collect();
    assert_eq!(
        deliveries,
        vec![
            Some(Delivery::Immediate),
            Some(Delivery::Digest),
            Some(Delivery::Digest)
        ]
    );
}

#[test]
fn without_a_digest_every_post_goes_out_at_once() {
    let config = EscalationConfig {
        digest_non_critical: false,
        ..EscalationConfig::default()
    };
    let decisions = reconcile(
        &[trigger(Reason::Silence, Severity::Warning, 3.0)],
        &[open(Reason::UsageDrop, Severity::Warning, 40.0)],
        &[],
        &config,
        now(),
    );
    let deliveries: Vec<_> = decisions.iter().map(Decision::delivery).collect();
    assert_eq!(
        deliveries,
        vec![Some(Delivery::Immediate), Some(Delivery::Immediate)]
    );
}

#[test]
fn a_later_passive_answer_suggests_the_detractor_escalation_is_cleared() {
    let config = EscalationConfig::default();
    let before = AccountState {
        last_nps: Some(nps(4, Some("too slow"))),
        ..calm()
    };
    let first = reconcile(&evaluate(&before, &config, now()), &[], &[], &config, now());
    assert!(matches!(one(first), Decision::Open { .. }));

    let opened = open(Reason::Detractor, Severity::Critical, 3.0);
    let after = AccountState {
        last_nps: Some(nps(8, None)),
        ..calm()
    };
    let second = reconcile(
        &evaluate(&after, &config, now()),
        std::slice::from_ref(&opened),
        &[],
        &config,
        now(),
    );
    assert!(matches!(
        one(second),
        Decision::ConditionCleared {
            reason: Reason::Detractor,
            ..
        }
    ));
}

#[test]
fn the_most_recently_opened_duplicate_is_the_one_compared() {
    let mut old = open(Reason::HealthDrop, Severity::Warning, 10.0);
    old.opened_at = days_ago(20);
    let recent = open(Reason::HealthDrop, Severity::Warning, 30.0);
    let d = one(decide(
        &[trigger(Reason::HealthDrop, Severity::Warning, 32.0)],
        &[old, recent],
    ));
    assert!(matches!(d, Decision::Update { .. }), "{d:?}");
}
