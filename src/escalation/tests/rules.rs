use super::*;
use crate::escalation::input::{
    HelpKind, HelpRequest, OpenTicket, RelationshipEvent, RelationshipKind, RenewalState,
    SentTouch, UsageChange,
};
use crate::escalation::{EscalationConfig, Magnitude, Reason, Severity, Trigger, evaluate};
use chrono::NaiveDate;

fn run(state: &AccountState) -> Vec<Trigger> {
    evaluate(state, &EscalationConfig::default(), now())
}

fn reasons(state: &AccountState) -> Vec<Reason> {
    run(state).iter().map(|t| t.reason).collect()
}

fn only(state: &AccountState, reason: Reason) -> Trigger {
    let triggers = run(state);
    assert_eq!(
        triggers.iter().map(|t| t.reason).collect::<Vec<_>>(),
        vec![reason],
        "{triggers:#?}"
    );
    triggers.into_iter().next().unwrap()
}

#[test]
fn a_calm_account_has_no_red_signals() {
    assert!(run(&calm()).is_empty());
}

// --- NPS ---

#[test]
fn an_nps_of_6_escalates_as_critical_with_the_clients_words() {
    let state = AccountState {
        last_nps: Some(nps(6, Some("  reports keep\n timing out "))),
        ..calm()
    };
    let t = only(&state, Reason::Detractor);
    assert_eq!(t.severity, Severity::Critical);
    assert_eq!(t.evidence, "NPS 6 from Maria: \"reports keep timing out\"");
    assert!(!t.already_escalated);
}

#[test]
fn an_nps_of_7_is_a_passive_and_does_not_escalate() {
    let state = AccountState {
        last_nps: Some(nps(7, Some("fine"))),
        ..calm()
    };
    assert!(run(&state).is_empty());
}

#[test]
fn a_detractor_without_a_comment_says_there_was_none() {
    let state = AccountState {
        last_nps: Some(nps(0, Some("   "))),
        ..calm()
    };
    assert_eq!(
        only(&state, Reason::Detractor).evidence,
        "NPS 0 from Maria, no comment"
    );
}

#[test]
fn a_lower_detractor_score_has_a_larger_magnitude() {
    let low = AccountState {
        last_nps: Some(nps(2, None)),
        ..calm()
    };
    let high = AccountState {
        last_nps: Some(nps(6, None)),
        ..calm()
    };
    assert!(only(&low, Reason::Detractor).magnitude > only(&high, Reason::Detractor).magnitude);
}

#[test]
fn a_detractor_answer_already_escalated_is_marked_so() {
    let mut answer = nps(3, None);
    answer.already_escalated = true;
    let state = AccountState {
        last_nps: Some(answer),
        ..calm()
    };
    assert!(only(&state, Reason::Detractor).already_escalated);
}

#[test]
fn a_long_comment_is_cut_at_a_word_boundary() {
    let long = "slow ".repeat(100);
    let state = AccountState {
        last_nps: Some(nps(1, Some(&long))),
        ..calm()
    };
    let evidence = only(&state, Reason::Detractor).evidence;
    assert!(evidence.ends_with("slow…\""), "{evidence}");
    assert!(evidence.chars().count() < 240, "{evidence}");
}

#[test]
fn the_detractor_threshold_follows_the_config() {
    let mut config = EscalationConfig::default();
    config.detractor.max_score = 4;
    let state = AccountState {
        last_nps: Some(nps(5, None)),
        ..calm()
    };
    assert!(evaluate(&state, &config, now()).is_empty());
}

// --- Health ---

fn health(score: u8, category: HealthCategory, previous: HealthCategory) -> HealthState {
    HealthState {
        score: Some(score),
        category: Some(category),
        previous_category: Some(previous),
        history: vec![(days_ago(5), score)],
    }
}

#[test]
fn health_turning_red_names_the_category_it_left() {
    let state = AccountState {
        health: health(45, HealthCategory::Red, HealthCategory::Yellow),
        ..AccountState::default()
    };
    let t = only(&state, Reason::HealthRed);
    assert_eq!(t.evidence, "health turned red at 45 (was yellow)");
    assert_eq!(t.severity, Severity::Warning);
}

#[test]
fn health_that_stays_red_is_still_an_active_signal() {
    let state = AccountState {
        health: health(40, HealthCategory::Red, HealthCategory::Red),
        ..AccountState::default()
    };
    assert_eq!(
        only(&state, Reason::HealthRed).evidence,
        "health is red at 40"
    );
}

#[test]
fn an_account_without_a_health_score_triggers_no_health_rule() {
    let state = AccountState {
        health: HealthState::default(),
        renewal: Some(RenewalState {
            date: NaiveDate::from_ymd_opt(2027, 7, 16).unwrap(),
            days_left: 30,
            progress_recorded: true,
        }),
        ..AccountState::default()
    };
    assert!(run(&state).is_empty());
}

fn dropping(from: u8, to: u8, peak_days_ago: i64) -> AccountState {
    AccountState {
        health: HealthState {
            score: Some(to),
            category: Some(HealthCategory::Yellow),
            previous_category: Some(HealthCategory::Green),
            history: vec![(days_ago(peak_days_ago), from), (days_ago(1), to)],
        },
        ..AccountState::default()
    }
}

#[test]
fn a_drop_of_exactly_20_points_does_not_escalate() {
    assert!(run(&dropping(80, 60, 10)).is_empty());
}

#[test]
fn a_drop_of_21_points_escalates_with_the_numbers() {
    let t = only(&dropping(80, 59, 12), Reason::HealthDrop);
    assert_eq!(
        t.evidence,
        "health fell 21 points in 12 days (from 80 to 59)"
    );
    assert_eq!(t.magnitude, Magnitude(21.0));
}

#[test]
fn a_peak_exactly_30_days_ago_still_counts() {
    assert_eq!(reasons(&dropping(80, 55, 30)), vec![Reason::HealthDrop]);
}

#[test]
fn a_peak_older_than_30_days_does_not_count() {
    let mut state = dropping(80, 55, 30);
    state.health.history[0].0 -= Duration::minutes(1);
    assert!(run(&state).is_empty());
}

#[test]
fn the_drop_is_measured_from_the_highest_score_in_the_window() {
    let state = AccountState {
        health: HealthState {
            score: Some(50),
            category: Some(HealthCategory::Yellow),
            previous_category: Some(HealthCategory::Yellow),
            history: vec![(days_ago(25), 60), (days_ago(15), 75), (days_ago(3), 52)],
        },
        ..AccountState::default()
    };
    assert_eq!(
        only(&state, Reason::HealthDrop).evidence,
        "health fell 25 points in 15 days (from 75 to 50)"
    );
}

// --- Usage ---

fn usage(before: f64, now: f64) -> AccountState {
    AccountState {
        usage: Some(UsageChange {
            now,
            thirty_days_ago: before,
        }),
        ..calm()
    }
}

#[test]
fn usage_down_exactly_30_percent_does_not_escalate() {
    assert!(run(&usage(100.0, 70.0)).is_empty());
    assert!(run(&usage(10.0, 7.0)).is_empty());
}

#[test]
fn usage_down_just_over_30_percent_escalates() {
    let t = only(&usage(100.0, 69.0), Reason::UsageDrop);
    assert_eq!(t.evidence, "usage down 31% in 30 days (from 100 to 69)");
}

#[test]
fn usage_with_no_baseline_is_not_a_drop() {
    assert!(run(&usage(0.0, 0.0)).is_empty());
}

#[test]
fn rising_usage_is_not_a_drop() {
    assert!(run(&usage(50.0, 80.0)).is_empty());
}

// --- Tickets ---

fn tickets(opened: &[DateTime<Utc>]) -> AccountState {
    AccountState {
        critical_tickets: opened
            .iter()
            .enumerate()
            .map(|(i, at)| OpenTicket {
                reference: format!("#{}", 4820 + i),
                opened_at: *at,
            })
            .collect(),
        ..calm()
    }
}

#[test]
fn a_critical_ticket_open_exactly_7_days_is_not_yet_a_signal() {
    assert!(run(&tickets(&[days_ago(7)])).is_empty());
}

#[test]
fn a_critical_ticket_open_7_days_and_a_minute_escalates() {
    let t = only(
        &tickets(&[days_ago(7) - Duration::minutes(1)]),
        Reason::CriticalTicket,
    );
    assert_eq!(t.evidence, "critical ticket #4820 open 7 days");
    assert_eq!(t.magnitude, Magnitude(1.0));
}

#[test]
fn several_overdue_tickets_name_the_oldest_and_count_the_rest() {
    let t = only(
        &tickets(&[days_ago(9), days_ago(12), days_ago(2)]),
        Reason::CriticalTicket,
    );
    assert_eq!(
        t.evidence,
        "critical ticket #4821 open 12 days (and 1 more open over 7 days)"
    );
    assert_eq!(t.magnitude, Magnitude(2.0));
}

// --- Silence ---

fn touches(sent: &[(i64, bool)]) -> AccountState {
    AccountState {
        touches: sent
            .iter()
            .map(|(ago, answered)| SentTouch {
                sent_at: days_ago(*ago),
                answered: *answered,
            })
            .collect(),
        ..calm()
    }
}

#[test]
fn three_unanswered_touches_over_only_20_days_are_not_silence_yet() {
    assert!(
        run(&touches(&[
            (2, false),
            (10, false),
            (20, false),
            (30, true)
        ]))
        .is_empty()
    );
}

#[test]
fn three_unanswered_touches_over_21_days_are_silence() {
    let t = only(
        &touches(&[(2, false), (10, false), (21, false), (30, true)]),
        Reason::Silence,
    );
    assert_eq!(
        t.evidence,
        "no reply to the last 3 touches, the first sent 21 days ago"
    );
    assert_eq!(t.severity, Severity::Warning);
}

#[test]
fn two_unanswered_touches_are_not_silence_even_after_40_days() {
    assert!(run(&touches(&[(5, false), (40, false), (60, true)])).is_empty());
}

#[test]
fn one_answer_breaks_the_unanswered_run() {
    assert!(
        run(&touches(&[
            (1, false),
            (8, false),
            (15, true),
            (30, false),
            (45, false)
        ]))
        .is_empty()
    );
}

#[test]
fn silence_is_found_whatever_order_the_touches_come_in() {
    let state = touches(&[
        (50, true),
        (22, false),
        (3, false),
        (12, false),
        (30, false),
    ]);
    let t = only(&state, Reason::Silence);
    assert_eq!(t.magnitude, Magnitude(4.0));
}

#[test]
fn a_client_who_never_answered_is_silent_too() {
    assert_eq!(
        reasons(&touches(&[(1, false), (14, false), (28, false)])),
        vec![Reason::Silence]
    );
}

// --- Renewal ---

fn renewal(days_left: i64, score: u8, progress: bool) -> AccountState {
    AccountState {
        health: HealthState {
            score: Some(score),
            category: Some(HealthCategory::Yellow),
            previous_category: Some(HealthCategory::Yellow),
            history: vec![(days_ago(3), score)],
        },
        renewal: Some(RenewalState {
            date: now().date_naive() + Duration::days(days_left),
            days_left,
            progress_recorded: progress,
        }),
        ..AccountState::default()
    }
}

#[test]
fn a_renewal_in_60_days_with_health_49_raises_an_alert() {
    let t = only(&renewal(60, 49, true), Reason::RenewalRisk60);
    assert_eq!(
        t.evidence,
        "renewal on 2027-08-15 (in 60 days) with health 49"
    );
    assert_eq!(t.severity, Severity::Warning);
}

#[test]
fn a_renewal_in_61_days_with_health_49_is_not_yet_a_risk() {
    assert!(run(&renewal(61, 49, true)).is_empty());
}

#[test]
fn a_renewal_in_60_days_with_health_50_is_not_a_risk() {
    assert!(run(&renewal(60, 50, true)).is_empty());
}

#[test]
fn a_renewal_in_30_days_without_progress_escalates() {
    let t = only(&renewal(30, 70, false), Reason::RenewalNoProgress30);
    assert_eq!(t.severity, Severity::Critical);
    assert_eq!(
        t.evidence,
        "renewal on 2027-07-16 (in 30 days) and no progress recorded"
    );
}

#[test]
fn a_renewal_in_30_days_with_progress_recorded_is_fine() {
    assert!(run(&renewal(30, 70, true)).is_empty());
}

#[test]
fn a_renewal_in_31_days_without_progress_is_not_yet_escalated() {
    assert!(run(&renewal(31, 70, false)).is_empty());
}

#[test]
fn the_last_7_days_without_progress_are_urgent_and_worse() {
    let month = only(&renewal(30, 70, false), Reason::RenewalNoProgress30);
    let week = only(&renewal(7, 70, false), Reason::RenewalNoProgress30);
    assert!(week.evidence.ends_with("no progress recorded, urgent"));
    assert!(week.magnitude > month.magnitude);
}

#[test]
fn low_health_and_no_progress_close_to_renewal_raise_both_signals() {
    assert_eq!(
        reasons(&renewal(20, 30, false)),
        vec![Reason::RenewalRisk60, Reason::RenewalNoProgress30]
    );
}

#[test]
fn a_renewal_date_already_passed_raises_nothing() {
    assert!(run(&renewal(-1, 30, false)).is_empty());
}

// --- Relationship and requests for help ---

fn event(
    kind: RelationshipKind,
    detail: Option<&str>,
    ago: i64,
    escalated: bool,
) -> RelationshipEvent {
    RelationshipEvent {
        kind,
        detail: detail.map(str::to_string),
        at: days_ago(ago),
        already_escalated: escalated,
    }
}

#[test]
fn a_departed_executive_sponsor_is_critical() {
    let state = AccountState {
        relationship: vec![event(
            RelationshipKind::SponsorLeft,
            Some("Ivan, the CFO"),
            2,
            false,
        )],
        ..calm()
    };
    let t = only(&state, Reason::SponsorLeft);
    assert_eq!(t.severity, Severity::Critical);
    assert_eq!(
        t.evidence,
        "executive sponsor left: Ivan, the CFO (recorded 2027-06-14)"
    );
}

#[test]
fn a_mentioned_competitor_is_named_in_the_evidence() {
    let state = AccountState {
        relationship: vec![
            event(
                RelationshipKind::CompetitorMentioned,
                Some("Acme CRM"),
                3,
                true,
            ),
            event(
                RelationshipKind::CompetitorMentioned,
                Some("Bolt"),
                20,
                true,
            ),
        ],
        ..calm()
    };
    let t = only(&state, Reason::Competitor);
    assert_eq!(
        t.evidence,
        "competitor mentioned: Acme CRM (recorded 2027-06-13); 2 such signals in 30 days"
    );
    assert!(t.already_escalated);
}

#[test]
fn a_changed_champion_is_a_warning() {
    let state = AccountState {
        relationship: vec![event(RelationshipKind::ChampionChanged, None, 1, false)],
        ..calm()
    };
    assert_eq!(
        only(&state, Reason::ChampionChanged).severity,
        Severity::Warning
    );
}

#[test]
fn an_old_relationship_event_is_left_alone() {
    let state = AccountState {
        relationship: vec![event(RelationshipKind::SponsorLeft, None, 31, false)],
        ..calm()
    };
    assert!(run(&state).is_empty());
}

fn help(kind: HelpKind, text: Option<&str>, ago: i64, escalated: bool) -> HelpRequest {
    HelpRequest {
        contact: maria(),
        kind,
        text: text.map(str::to_string),
        at: days_ago(ago),
        already_escalated: escalated,
    }
}

#[test]
fn a_contact_asking_for_help_is_critical_and_quoted() {
    let state = AccountState {
        help_requests: vec![help(
            HelpKind::Help,
            Some("nobody answers our tickets"),
            0,
            false,
        )],
        ..calm()
    };
    let t = only(&state, Reason::HelpRequested);
    assert_eq!(t.severity, Severity::Critical);
    assert_eq!(
        t.evidence,
        "Maria asked for help: \"nobody answers our tickets\""
    );
}

#[test]
fn a_contact_asking_for_the_manager_shows_the_new_request_first() {
    let state = AccountState {
        help_requests: vec![
            help(HelpKind::Help, None, 5, true),
            help(HelpKind::Manager, None, 1, false),
        ],
        ..calm()
    };
    let t = only(&state, Reason::HelpRequested);
    assert_eq!(
        t.evidence,
        "Maria asked to speak to a manager (and 1 more requests)"
    );
    assert!(!t.already_escalated);
}

// --- Config and ordering ---

#[test]
fn a_disabled_rule_stays_silent() {
    let mut config = EscalationConfig::default();
    config.detractor.enabled = false;
    let state = AccountState {
        last_nps: Some(nps(1, None)),
        ..calm()
    };
    assert!(evaluate(&state, &config, now()).is_empty());
}

#[test]
fn many_signals_come_back_one_per_reason_in_a_fixed_order() {
    let mut state = renewal(5, 30, false);
    state.health.category = Some(HealthCategory::Red);
    state.last_nps = Some(nps(2, None));
    state.help_requests = vec![help(HelpKind::Help, None, 0, false)];
    state.critical_tickets = tickets(&[days_ago(10)]).critical_tickets;
    assert_eq!(
        reasons(&state),
        vec![
            Reason::Detractor,
            Reason::HealthRed,
            Reason::CriticalTicket,
            Reason::RenewalRisk60,
            Reason::RenewalNoProgress30,
            Reason::HelpRequested,
        ]
    );
}

#[test]
fn reason_keys_are_stable_and_parse_back() {
    let keys: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "detractor",
            "health_red",
            "health_drop",
            "usage_drop",
            "critical_ticket",
            "silence",
            "renewal_risk_60",
            "renewal_no_progress_30",
            "sponsor_left",
            "champion_changed",
            "competitor",
            "help_requested",
        ]
    );
    for reason in Reason::ALL {
        assert_eq!(reason.as_str().parse::<Reason>().unwrap(), *reason);
        let json = serde_json::to_string(reason).unwrap();
        assert_eq!(json, format!("\"{}\"", reason.as_str()));
    }
    let err = "angry".parse::<Reason>().unwrap_err().to_string();
    assert!(err.contains("'angry' is not an escalation reason"), "{err}");
}

#[test]
fn severities_are_ordered_from_info_to_critical() {
    assert!(Severity::Info < Severity::Warning);
    assert!(Severity::Warning < Severity::Critical);
    assert_eq!("Critical".parse::<Severity>().unwrap(), Severity::Critical);
}
