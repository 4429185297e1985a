use chrono::NaiveDate;

use super::{account, now, scored};
use crate::domain::AccountId;
use crate::health::Category;
use crate::metrics::targets::{AVERAGE_HEALTH, GRR, NPS, NRR};
use crate::metrics::text::{block, count, health_line, nps_line, renewals_lines, retention_line};
use crate::metrics::{
    Facts, NoRetention, Nps, Params, RenewalAhead, Retention, Scope, TeamMetrics, compute,
};

fn empty() -> TeamMetrics {
    let facts = Facts {
        now: now(),
        staff: Vec::new(),
        accounts: Vec::new(),
        nps: Vec::new(),
        nps_kept: Vec::new(),
        responses: Vec::new(),
        escalations: Vec::new(),
        payments: Vec::new(),
    };
    compute(&facts, Scope::Portfolio, &Params::default())
}

#[test]
fn an_empty_portfolio_reads_as_no_data_rather_than_zeros() {
    let text = block(&empty(), 5);
    assert_eq!(
        text,
        "NPS, last 90 days: no answers yet\n\
         Health: no account scored yet\n\
         Replies: no touch asked anything in the last 90 days\n\
         Open escalations: none\n\
         Renewals in the next 120 days: none\n\
         Revenue retention: not enough payment data (no payment has an amount recorded)\n"
    );
}

#[test]
fn counts_read_as_english_for_one_and_for_many() {
    assert_eq!(count(1, "accounts"), "1 account");
    assert_eq!(count(0, "accounts"), "0 accounts");
    assert_eq!(count(1, "touches"), "1 touch");
    assert_eq!(count(2, "touches"), "2 touches");
    assert_eq!(count(1, "passives"), "1 passive");
}

#[test]
fn a_target_is_met_only_strictly_above_it_as_shown() {
    assert!(!NPS.met(50.0));
    assert!(NPS.met(51.0));
    assert!(!AVERAGE_HEALTH.met(75.4), "shown as 75");
    assert!(AVERAGE_HEALTH.met(75.5), "shown as 76");
    assert!(!NRR.met(110.0000001));
    assert!(NRR.met(111.0));
    assert!(!GRR.met(90.0));
    assert!(GRR.met(91.0));
}

#[test]
fn the_nps_line_shows_the_answers_and_the_target() {
    let mut m = empty();
    m.nps = Nps {
        answers: 7,
        promoters: 3,
        passives: 2,
        detractors: 2,
    };
    assert_eq!(
        nps_line(&m),
        "NPS, last 90 days: +14 from 7 answers (3 promoters, 2 passives, 2 detractors) — below target (> +50)"
    );
    m.nps = Nps {
        answers: 2,
        promoters: 2,
        passives: 0,
        detractors: 0,
    };
    assert!(nps_line(&m).ends_with(
        "+100 from 2 answers (2 promoters, 0 passives, 0 detractors) — on target (> +50)"
    ));
    m.nps = Nps {
        answers: 1,
        promoters: 0,
        passives: 0,
        detractors: 1,
    };
    assert!(nps_line(&m).ends_with(
        "-100 from 1 answer (0 promoters, 0 passives, 1 detractor) — below target (> +50)"
    ));
}

#[test]
fn the_health_line_shows_categories_average_and_trend() {
    let facts = Facts {
        now: now(),
        staff: Vec::new(),
        accounts: vec![
            scored(account(1, "A"), 90, Some(6)),
            scored(account(2, "B"), 70, Some(-1)),
            account(3, "C"),
        ],
        nps: Vec::new(),
        nps_kept: Vec::new(),
        responses: Vec::new(),
        escalations: Vec::new(),
        payments: Vec::new(),
    };
    let m = compute(&facts, Scope::Portfolio, &Params::default());
    assert_eq!(
        health_line(&m),
        "Health: 1 green, 1 yellow, 0 red (1 not scored); average 80, up 3 over 30 days — on target (> 75)"
    );
}

#[test]
fn renewals_beyond_the_limit_are_counted_not_listed() {
    let mut m = empty();
    m.renewals = (0..4)
        .map(|i| RenewalAhead {
            account: AccountId(i),
            name: format!("Acc{i}"),
            date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap() + chrono::Days::new(i as u64),
            days: i,
            health: (i == 2).then_some(30),
            category: (i == 2).then_some(Category::Red),
        })
        .collect();
    assert_eq!(
        renewals_lines(&m, 3),
        "Renewals in the next 120 days: 4 (1 red, 3 not scored)\n\
         \x20 Acc0: 2026-03-02, today, health not scored\n\
         \x20 Acc1: 2026-03-03, tomorrow, health not scored\n\
         \x20 Acc2: 2026-03-04, in 2 days, health 30 red\n\
         \x20 and 1 more\n"
    );
}

#[test]
fn the_retention_line_judges_nrr_and_grr_against_their_targets() {
    let mut m = empty();
    m.retention = Retention::Measured {
        nrr: 1.104,
        grr: 0.93,
        accounts: 8,
        before_cents: 1,
        now_cents: 1,
    };
    assert_eq!(
        retention_line(&m),
        "Revenue retention, last 12 months against the 12 before, 8 paying accounts: \
         NRR 110% — below target (> 110%); GRR 93% — on target (> 90%)"
    );
    m.retention = Retention::NotEnoughData {
        reason: NoRetention::ShortHistory,
    };
    assert_eq!(
        retention_line(&m),
        "Revenue retention: not enough payment data (payment amounts go back less than two years)"
    );
}
