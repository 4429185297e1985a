//! Scenario tests: whole plans for small accounts, as the CSM would read them.

use super::*;
use crate::domain::{
    AccountId, ContactId, ContactRole, MessageCategory, Segment, StaffId, TouchKind,
};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn contact(id: i64, role: ContactRole) -> ContactInput {
    ContactInput {
        id: ContactId(id),
        role,
        time_zone: None,
        added_on: date(2000, 1, 1),
        opted_out: Vec::new(),
        reachable: true,
    }
}

/// A mid-market account in UTC with a decision maker (1), a champion (2) and a user (3).
fn account(day_zero: NaiveDate, renewal: Option<NaiveDate>) -> AccountInput {
    AccountInput {
        id: AccountId(1),
        segment: Segment::MidMarket,
        day_zero,
        renewal_date: renewal,
        time_zone: Tz::UTC,
        csm: Some(StaffId(7)),
        contacts: vec![
            contact(1, ContactRole::DecisionMaker),
            contact(2, ContactRole::Champion),
            contact(3, ContactRole::User),
        ],
        closed_tickets: Vec::new(),
    }
}

/// Planning well before day 0, so nothing is late.
fn early(day_zero: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(
        &(day_zero - chrono::Duration::days(10))
            .and_hms_opt(0, 0, 0)
            .unwrap(),
    )
}

fn plan_default(account: &AccountInput) -> Vec<PlannedTouch> {
    plan(
        account,
        &[],
        &CalendarConfig::default(),
        early(account.day_zero),
    )
}

fn find<'a>(plan: &'a [PlannedTouch], key: &str) -> &'a PlannedTouch {
    plan.iter()
        .find(|t| t.touch_key == key)
        .unwrap_or_else(|| panic!("no touch {key} in {:#?}", keys(plan)))
}

fn keys(plan: &[PlannedTouch]) -> Vec<&str> {
    plan.iter().map(|t| t.touch_key.as_str()).collect()
}

fn skip_reason(touch: &PlannedTouch) -> &str {
    match &touch.decision {
        Decision::Skip(reason) => reason,
        Decision::Send => panic!("{} is sent, not skipped", touch.touch_key),
    }
}

fn describe(t: &PlannedTouch) -> String {
    let who = match t.recipient {
        Recipient::Contact(id) => format!("c{id}"),
        Recipient::Staff(id) => format!("s{id}"),
        Recipient::Nobody => "-".to_string(),
    };
    let what = match &t.decision {
        Decision::Send => "send".to_string(),
        Decision::Skip(r) => format!("skip: {r}"),
    };
    format!(
        "{} {} {} {} {}",
        t.due_local.format("%Y-%m-%d %a %H:%M"),
        t.touch_key,
        t.template,
        who,
        what
    )
}

fn every_day() -> Vec<Weekday> {
    use Weekday::*;
    vec![Mon, Tue, Wed, Thu, Fri, Sat, Sun]
}

fn sends(plan: &[PlannedTouch]) -> Vec<&PlannedTouch> {
    plan.iter().filter(|t| t.is_send()).collect()
}

fn day_rule(key: &str, kind: TouchKind, day: u32) -> RuleConfig {
    RuleConfig {
        key: key.to_string(),
        kind,
        template: key.to_string(),
        day: Some(day),
        from_day: None,
        to_day: None,
        every_days: None,
        days_before_renewal: None,
        segments: Vec::new(),
        recipients: None,
        in_quiet_months: QuietMove::Stay,
    }
}

fn only_rules(rules: Vec<RuleConfig>) -> CalendarConfig {
    CalendarConfig {
        rules,
        ..CalendarConfig::default()
    }
}

// ---- the default calendar -------------------------------------------------------------------

#[test]
fn the_default_calendar_of_a_mid_market_account_started_on_a_monday_matches_the_playbook() {
    // Day 0 is Monday 2027-03-01; renewal a year later. Contacts: 1 decision maker,
    // 2 champion, 3 user; CSM 7.
    let acc = account(date(2027, 3, 1), Some(date(2028, 3, 1)));
    let plan = plan_default(&acc);
    let got: Vec<String> = plan.iter().map(describe).collect();
    let expected = [
        "2027-03-01 Mon 10:00 welcome:c1 welcome c1 send",
        "2027-03-01 Mon 10:00 welcome:c2 welcome c2 send",
        "2027-03-01 Mon 10:00 welcome:c3 welcome c3 send",
        "2027-03-08 Mon 10:00 checkin-week-1 checkin-week-1 c2 send",
        "2027-03-15 Mon 10:00 checkin-week-2 checkin-week-2 c2 send",
        "2027-03-22 Mon 10:00 checkin-week-3 checkin-week-3 c2 send",
        "2027-03-29 Mon 10:00 checkin-week-4 checkin-week-4 c2 send",
        "2027-03-31 Wed 10:00 checkpoint-30 task-checkpoint-30 s7 send",
        "2027-03-31 Wed 10:00 nps-30 nps c1 send",
        // Day 90 is a Sunday: everything moves to Monday, and the champion's check-in folds
        // into the NPS the champion gets that day.
        "2027-05-31 Mon 10:00 checkin-biweekly#1 checkin c2 skip: merged into nps-90",
        "2027-05-31 Mon 10:00 nps-90 nps c2 send",
        "2027-05-31 Mon 10:00 results-review-90 task-review-90 s7 send",
        "2027-06-14 Mon 10:00 checkin-biweekly#2 checkin c2 send",
        "2027-06-28 Mon 10:00 checkin-biweekly#3 checkin c2 send",
        "2027-07-12 Mon 10:00 checkin-biweekly#4 checkin c2 send",
        "2027-07-26 Mon 10:00 checkin-biweekly#5 checkin c2 send",
        "2027-08-09 Mon 10:00 checkin-biweekly#6 checkin c2 send",
        "2027-08-23 Mon 10:00 checkin-biweekly#7 checkin c2 send",
        "2027-08-30 Mon 10:00 checkin-monthly#1 checkin c2 send",
        "2027-08-30 Mon 10:00 nps-180 nps c3 send",
        // Day 180 falls in August: the business review waits for September.
        "2027-09-01 Wed 10:00 qbr-half-yearly#1 qbr c2 send",
        "2027-09-27 Mon 10:00 checkin-monthly#2 checkin c2 send",
        "2027-10-27 Wed 10:00 checkin-monthly#3 checkin c2 send",
        "2027-11-02 Tue 10:00 task-renewal-120@2028-03-01 task-renewal-120 s7 send",
        "2027-11-26 Fri 10:00 checkin-monthly#4 checkin c2 send",
        "2027-12-02 Thu 10:00 renewal-90@2028-03-01 renewal-90 c1 send",
        "2027-12-02 Thu 10:00 task-renewal-90@2028-03-01 task-renewal-90 s7 send",
        "2028-01-03 Mon 10:00 renewal-60@2028-03-01 renewal-60 c1 send",
        "2028-01-03 Mon 10:00 task-renewal-60@2028-03-01 task-renewal-60 s7 send",
        "2028-01-31 Mon 10:00 renewal-30@2028-03-01 renewal-30 c1 send",
        "2028-01-31 Mon 10:00 task-renewal-30@2028-03-01 task-renewal-30 s7 send",
        "2028-02-23 Wed 10:00 renewal-7@2028-03-01 renewal-7 c1 send",
        "2028-02-23 Wed 10:00 task-renewal-7@2028-03-01 task-renewal-7 s7 send",
        "2028-02-28 Mon 10:00 qbr-half-yearly#2 qbr c2 send",
    ];
    assert_eq!(got, expected);
}

#[test]
fn each_default_touch_lands_on_its_nominal_day_when_that_is_a_working_day() {
    let acc = account(date(2027, 3, 1), Some(date(2028, 3, 1)));
    let plan = plan_default(&acc);
    for (key, day) in [
        ("welcome:c1", date(2027, 3, 1)),
        ("checkin-week-1", date(2027, 3, 8)),
        ("checkin-week-4", date(2027, 3, 29)),
        ("nps-30", date(2027, 3, 31)),
        ("checkpoint-30", date(2027, 3, 31)),
        ("renewal-90@2028-03-01", date(2027, 12, 2)),
        ("task-renewal-120@2028-03-01", date(2027, 11, 2)),
        ("renewal-7@2028-03-01", date(2028, 2, 23)),
    ] {
        let touch = find(&plan, key);
        assert_eq!(touch.nominal_date, day, "{key}");
        assert_eq!(touch.due_local, day.and_hms_opt(10, 0, 0).unwrap(), "{key}");
        assert!(touch.notes.is_empty(), "{key}: {:?}", touch.notes);
    }
}

#[test]
fn renewal_touches_go_to_the_decision_maker_and_their_tasks_to_the_csm() {
    let acc = account(date(2027, 3, 1), Some(date(2028, 3, 1)));
    let plan = plan_default(&acc);
    assert_eq!(
        find(&plan, "renewal-60@2028-03-01").recipient,
        Recipient::Contact(ContactId(1))
    );
    let task = find(&plan, "task-renewal-60@2028-03-01");
    assert_eq!(task.recipient, Recipient::Staff(StaffId(7)));
    assert_eq!(task.kind, TouchKind::RenewalTask);
    assert_eq!(find(&plan, "checkpoint-30").kind, TouchKind::Task);
}

#[test]
fn without_a_renewal_date_the_plan_runs_a_year_and_has_no_renewal_touches() {
    let acc = account(date(2027, 3, 1), None);
    let plan = plan_default(&acc);
    assert!(
        plan.iter()
            .all(|t| t.kind != TouchKind::Renewal && t.kind != TouchKind::RenewalTask)
    );
    assert!(plan.iter().all(|t| t.nominal_date <= date(2028, 2, 29)));
    assert!(plan.iter().any(|t| t.touch_key == "qbr-half-yearly#2"));
}

#[test]
fn changing_the_renewal_date_gives_the_renewal_touches_new_keys() {
    let before = plan_default(&account(date(2027, 3, 1), Some(date(2028, 3, 1))));
    let after = plan_default(&account(date(2027, 3, 1), Some(date(2028, 4, 3))));
    assert!(keys(&before).contains(&"renewal-30@2028-03-01"));
    assert!(keys(&after).contains(&"renewal-30@2028-04-03"));
    assert!(!keys(&after).contains(&"renewal-30@2028-03-01"));
    // Touches that do not hang on the renewal date keep their keys.
    assert!(keys(&after).contains(&"nps-90"));
}

#[test]
fn every_touch_key_is_unique_within_the_account() {
    let plan = plan_default(&account(date(2027, 3, 1), Some(date(2028, 3, 1))));
    let mut all = keys(&plan);
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n);
}

// ---- weekends, holidays, quiet months --------------------------------------------------------

#[test]
fn a_touch_due_on_a_saturday_moves_to_monday() {
    // Day 0 on a Saturday: the welcome waits for Monday.
    let plan = plan_default(&account(date(2027, 3, 6), None));
    let welcome = find(&plan, "welcome:c1");
    assert_eq!(
        welcome.due_local,
        date(2027, 3, 8).and_hms_opt(10, 0, 0).unwrap()
    );
    assert_eq!(
        welcome.notes,
        ["moved from 2027-03-06 to 2027-03-08: 2027-03-06 is a Saturday, not a sending day"]
    );
}

#[test]
fn a_touch_on_a_holiday_moves_to_the_next_working_day() {
    let config = CalendarConfig {
        holidays: vec![date(2027, 3, 8), date(2027, 3, 9)],
        ..CalendarConfig::default()
    };
    let acc = account(date(2027, 3, 1), None);
    let plan = plan(&acc, &[], &config, early(acc.day_zero));
    let checkin = find(&plan, "checkin-week-1");
    assert_eq!(checkin.due_local.date(), date(2027, 3, 10));
    assert_eq!(
        checkin.notes,
        ["moved from 2027-03-08 to 2027-03-10: 2027-03-08 is a public holiday"]
    );
}

#[test]
fn renewal_work_due_in_the_quiet_months_moves_earlier_into_june() {
    // Renewal on 2027-10-01: 90 days before is 2027-07-03, 60 days before 2027-08-02.
    let acc = account(date(2026, 10, 1), Some(date(2027, 10, 1)));
    let plan = plan_default(&acc);
    let kickoff = find(&plan, "renewal-90@2027-10-01");
    assert_eq!(kickoff.due_local.date(), date(2027, 6, 30));
    assert!(kickoff.is_send());
    assert_eq!(
        kickoff.notes,
        ["2027-07-03 falls in the quiet months (July, August); moved earlier to 2027-06-30"]
    );
    // The 60-day reminder lands on the same June day and is folded into the kick-off.
    assert_eq!(
        skip_reason(find(&plan, "renewal-60@2027-10-01")),
        "merged into renewal-90@2027-10-01"
    );
    let task = find(&plan, "task-renewal-90@2027-10-01");
    assert_eq!(task.due_local.date(), date(2027, 6, 30));
    // The 120-day review is in early June already and stays put.
    assert_eq!(
        find(&plan, "task-renewal-120@2027-10-01").due_local.date(),
        date(2027, 6, 3)
    );
}

#[test]
fn the_thirty_and_seven_day_renewal_deadlines_stay_in_the_quiet_months() {
    // Renewal on 2027-08-31: 30 days before is Sunday 2027-08-01, 7 days before 2027-08-24.
    let acc = account(date(2026, 8, 31), Some(date(2027, 8, 31)));
    let plan = plan_default(&acc);
    assert_eq!(
        find(&plan, "renewal-30@2027-08-31").due_local.date(),
        date(2027, 8, 2)
    );
    assert_eq!(
        find(&plan, "renewal-7@2027-08-31").due_local.date(),
        date(2027, 8, 24)
    );
}

#[test]
fn a_renewal_touch_moved_to_a_june_weekend_goes_back_to_friday_not_into_july() {
    // 2029-06-30 is a Saturday; renewal 2029-10-01 puts the 90-day kick-off on 2029-07-03.
    let acc = account(date(2028, 10, 1), Some(date(2029, 10, 1)));
    let plan = plan_default(&acc);
    let kickoff = find(&plan, "renewal-90@2029-10-01");
    assert_eq!(kickoff.due_local.date(), date(2029, 6, 29));
    assert_eq!(kickoff.due_local.weekday(), Weekday::Fri);
}

#[test]
fn renewal_work_planned_after_june_has_passed_stays_in_the_quiet_months() {
    // Planned on 2027-07-10 for a renewal on 2027-10-01: the end of June is gone, so the
    // 60-day reminder keeps its August day instead of being lost.
    let acc = account(date(2026, 10, 1), Some(date(2027, 10, 1)));
    let plan = plan(
        &acc,
        &[],
        &CalendarConfig::default(),
        utc(2027, 7, 10, 8, 0),
    );
    let reminder = find(&plan, "renewal-60@2027-10-01");
    assert!(reminder.is_send());
    assert_eq!(reminder.due_local.date(), date(2027, 8, 2));
    assert!(
        reminder.notes[0].contains("kept in the quiet months"),
        "{:?}",
        reminder.notes
    );
    assert_eq!(
        skip_reason(find(&plan, "renewal-90@2027-10-01")),
        "overdue by 5 days when planned"
    );
}

#[test]
fn a_business_review_due_in_the_quiet_months_moves_later_into_september() {
    let mut acc = account(date(2027, 1, 4), None);
    acc.segment = Segment::Enterprise;
    let plan = plan_default(&acc);
    // Enterprise reviews on days 90, 181, 272, 363: day 181 is 2027-07-04.
    let qbr = find(&plan, "qbr-quarterly#2");
    assert_eq!(qbr.nominal_date, date(2027, 7, 4));
    assert_eq!(qbr.due_local.date(), date(2027, 9, 1));
    assert_eq!(qbr.kind, TouchKind::Qbr);
}

#[test]
fn check_ins_are_sent_in_the_quiet_months_as_usual() {
    let plan = plan_default(&account(date(2027, 3, 1), None));
    assert_eq!(
        find(&plan, "checkin-biweekly#4").due_local.date(),
        date(2027, 7, 12)
    );
}

// ---- time zones and clock changes --------------------------------------------------------------

#[test]
fn ten_o_clock_stays_ten_o_clock_local_across_a_daylight_saving_change() {
    // New York moves its clocks forward on Sunday 2027-03-14.
    let mut acc = account(date(2027, 3, 1), None);
    acc.time_zone = chrono_tz::America::New_York;
    let plan = plan_default(&acc);
    let before = find(&plan, "checkin-week-1");
    let after = find(&plan, "checkin-week-2");
    assert_eq!(before.due_local.time(), after.due_local.time());
    assert_eq!(before.due_at, utc(2027, 3, 8, 15, 0));
    assert_eq!(after.due_at, utc(2027, 3, 15, 14, 0));
}

#[test]
fn a_window_starting_inside_the_spring_forward_gap_sends_once_at_the_first_valid_time() {
    let mut config = CalendarConfig::default();
    config.send_window.start = ClockTime::hm(2, 30);
    config.send_window.days = every_day();
    let mut acc = account(date(2027, 3, 14), None);
    acc.time_zone = chrono_tz::America::New_York;
    let plan = plan(&acc, &[], &config, early(acc.day_zero));
    let welcomes: Vec<&PlannedTouch> = plan
        .iter()
        .filter(|t| t.touch_key == "welcome:c1")
        .collect();
    assert_eq!(welcomes.len(), 1);
    let welcome = welcomes[0];
    assert_eq!(welcome.due_at, utc(2027, 3, 14, 7, 0));
    assert_eq!(
        welcome.due_local,
        date(2027, 3, 14).and_hms_opt(3, 0, 0).unwrap()
    );
    assert!(
        welcome.notes[0].contains("02:30 does not exist on 2027-03-14"),
        "{:?}",
        welcome.notes
    );
}

#[test]
fn a_time_repeated_when_the_clocks_go_back_is_sent_once_at_the_earlier_instant() {
    // New York moves its clocks back on Sunday 2027-11-07: 01:30 happens twice.
    let mut config = CalendarConfig::default();
    config.send_window.start = ClockTime::hm(1, 30);
    config.send_window.days = every_day();
    let mut acc = account(date(2027, 11, 7), None);
    acc.time_zone = chrono_tz::America::New_York;
    let plan = plan(&acc, &[], &config, early(acc.day_zero));
    let welcomes: Vec<&PlannedTouch> = plan
        .iter()
        .filter(|t| t.touch_key == "welcome:c1")
        .collect();
    assert_eq!(welcomes.len(), 1);
    assert_eq!(welcomes[0].due_at, utc(2027, 11, 7, 5, 30));
    assert_eq!(
        welcomes[0].due_local,
        date(2027, 11, 7).and_hms_opt(1, 30, 0).unwrap()
    );
}

#[test]
fn a_touch_is_timed_in_the_contacts_own_zone_not_the_accounts() {
    let mut acc = account(date(2027, 3, 1), None);
    acc.contacts[1].time_zone = Some(chrono_tz::Asia::Almaty);
    let plan = plan_default(&acc);
    let checkin = find(&plan, "checkin-week-1");
    assert_eq!(checkin.recipient, Recipient::Contact(ContactId(2)));
    assert_eq!(checkin.time_zone, chrono_tz::Asia::Almaty);
    assert_eq!(
        checkin.due_local,
        date(2027, 3, 8).and_hms_opt(10, 0, 0).unwrap()
    );
    assert_eq!(checkin.due_at, utc(2027, 3, 8, 5, 0));
    // The account's other contacts keep the account's zone.
    assert_eq!(find(&plan, "welcome:c1").due_at, utc(2027, 3, 1, 10, 0));
}

#[test]
fn the_weekend_is_judged_by_the_recipients_local_date() {
    // Friday 20:00 in UTC is already Saturday morning in Auckland; with a 10:00 window the
    // Auckland contact's welcome on local Saturday moves to their Monday.
    let mut acc = account(date(2027, 3, 6), None);
    acc.contacts[0].time_zone = Some(chrono_tz::Pacific::Auckland);
    let plan = plan_default(&acc);
    let welcome = find(&plan, "welcome:c1");
    assert_eq!(welcome.due_local.date(), date(2027, 3, 8));
    assert_eq!(welcome.due_local.weekday(), Weekday::Mon);
}

// ---- late enrolment and re-planning ------------------------------------------------------------

#[test]
fn touches_long_past_when_planned_are_skipped_as_overdue() {
    let acc = account(date(2027, 3, 1), None);
    let now = utc(2027, 3, 17, 12, 0);
    let plan = plan(&acc, &[], &CalendarConfig::default(), now);
    assert_eq!(
        skip_reason(find(&plan, "welcome:c1")),
        "overdue by 16 days when planned"
    );
    assert_eq!(
        skip_reason(find(&plan, "checkin-week-1")),
        "overdue by 9 days when planned"
    );
}

#[test]
fn a_touch_missed_within_the_grace_period_is_sent_at_the_next_free_slot() {
    let acc = account(date(2027, 3, 1), None);
    let now = utc(2027, 3, 17, 12, 0);
    let plan = plan(&acc, &[], &CalendarConfig::default(), now);
    let checkin = find(&plan, "checkin-week-2");
    assert!(checkin.is_send());
    assert_eq!(checkin.due_at, now);
    assert_eq!(
        checkin.notes,
        ["was due on 2027-03-15, 2 days before it was planned; moved to the next free slot"]
    );
}

#[test]
fn late_touches_are_spread_over_days_not_sent_in_a_burst() {
    let config = CalendarConfig {
        grace_days: 20,
        ..CalendarConfig::default()
    };
    let acc = account(date(2027, 3, 1), None);
    let now = utc(2027, 3, 17, 12, 0);
    let plan = plan(&acc, &[], &config, now);
    let champion: Vec<&PlannedTouch> = sends(&plan)
        .into_iter()
        .filter(|t| t.recipient == Recipient::Contact(ContactId(2)))
        .take(3)
        .collect();
    let days: Vec<NaiveDate> = champion.iter().map(|t| t.due_local.date()).collect();
    // Welcome, week-1 and week-2 check-ins were all missed: one a day, from today.
    assert_eq!(
        days,
        [date(2027, 3, 17), date(2027, 3, 18), date(2027, 3, 19)]
    );
    assert_eq!(champion[0].touch_key, "welcome:c2");
    assert!(champion.iter().all(|t| t.due_at >= now));
}

#[test]
fn a_touch_due_today_after_the_window_closed_goes_out_the_next_working_day() {
    let acc = account(date(2027, 3, 1), None);
    let now = utc(2027, 3, 8, 20, 0);
    let plan = plan(&acc, &[], &CalendarConfig::default(), now);
    let checkin = find(&plan, "checkin-week-1");
    assert_eq!(checkin.due_at, utc(2027, 3, 9, 10, 0));
}

#[test]
fn touches_already_sent_are_not_planned_again() {
    let acc = account(date(2027, 3, 1), None);
    let history = [SentTouch {
        touch_key: "welcome:c1".to_string(),
        kind: TouchKind::Welcome,
        contact_id: Some(ContactId(1)),
        sent_at: utc(2027, 3, 1, 10, 0),
    }];
    let plan = plan(
        &acc,
        &history,
        &CalendarConfig::default(),
        utc(2027, 3, 1, 11, 0),
    );
    assert!(!keys(&plan).contains(&"welcome:c1"));
    assert!(keys(&plan).contains(&"welcome:c2"));
}

#[test]
fn a_touch_already_sent_today_keeps_the_contact_free_of_another_one_that_day() {
    let acc = account(date(2027, 3, 1), None);
    // An ad-hoc check-in already went to the champion on the day of the week-1 check-in.
    let history = [SentTouch {
        touch_key: "manual-17".to_string(),
        kind: TouchKind::Qbr,
        contact_id: Some(ContactId(2)),
        sent_at: utc(2027, 3, 8, 9, 0),
    }];
    let plan = plan(
        &acc,
        &history,
        &CalendarConfig::default(),
        utc(2027, 3, 8, 9, 30),
    );
    assert_eq!(
        skip_reason(find(&plan, "checkin-week-1")),
        "merged into manual-17"
    );
}

// ---- fatigue -------------------------------------------------------------------------------

#[test]
fn nps_surveys_rotate_over_the_accounts_contacts_by_role() {
    let plan = plan_default(&account(date(2027, 3, 1), None));
    let to = |key| find(&plan, key).recipient;
    assert_eq!(to("nps-30"), Recipient::Contact(ContactId(1)));
    assert_eq!(to("nps-90"), Recipient::Contact(ContactId(2)));
    assert_eq!(to("nps-180"), Recipient::Contact(ContactId(3)));
}

#[test]
fn the_nps_rotation_continues_from_the_last_survey_sent() {
    let acc = account(date(2027, 3, 1), None);
    let history = [SentTouch {
        touch_key: "nps-30".to_string(),
        kind: TouchKind::Nps,
        contact_id: Some(ContactId(2)),
        sent_at: utc(2027, 3, 31, 10, 0),
    }];
    let plan = plan(
        &acc,
        &history,
        &CalendarConfig::default(),
        utc(2027, 4, 1, 8, 0),
    );
    assert_eq!(
        find(&plan, "nps-90").recipient,
        Recipient::Contact(ContactId(3))
    );
    assert_eq!(
        find(&plan, "nps-180").recipient,
        Recipient::Contact(ContactId(1))
    );
}

#[test]
fn the_nps_rotation_passes_over_contacts_who_opted_out_of_surveys() {
    let mut acc = account(date(2027, 3, 1), None);
    acc.contacts[0].opted_out = vec![MessageCategory::Survey];
    let plan = plan_default(&acc);
    let nps = find(&plan, "nps-30");
    assert_eq!(nps.recipient, Recipient::Contact(ContactId(2)));
    assert!(
        nps.notes
            .contains(&"contact 1 opted out of survey messages".to_string())
    );
}

#[test]
fn a_contact_who_just_had_a_survey_is_passed_over_in_the_rotation() {
    let acc = account(date(2027, 3, 1), None);
    let history = [SentTouch {
        touch_key: "csat-ticket-88".to_string(),
        kind: TouchKind::Csat,
        contact_id: Some(ContactId(1)),
        sent_at: utc(2027, 3, 20, 10, 0),
    }];
    let plan = plan(
        &acc,
        &history,
        &CalendarConfig::default(),
        utc(2027, 3, 21, 8, 0),
    );
    assert_eq!(
        find(&plan, "nps-30").recipient,
        Recipient::Contact(ContactId(2))
    );
}

#[test]
fn a_survey_waits_until_the_gap_since_the_contacts_last_survey_has_passed() {
    let mut acc = account(date(2027, 3, 1), None);
    acc.contacts.truncate(1);
    let history = [SentTouch {
        touch_key: "csat-ticket-88".to_string(),
        kind: TouchKind::Csat,
        contact_id: Some(ContactId(1)),
        sent_at: utc(2027, 3, 22, 10, 0),
    }];
    let plan = plan(
        &acc,
        &history,
        &CalendarConfig::default(),
        utc(2027, 3, 23, 8, 0),
    );
    let nps = find(&plan, "nps-30");
    // 30 days after Monday 2027-03-22 is Wednesday 2027-04-21.
    assert_eq!(nps.due_local.date(), date(2027, 4, 21));
    assert_eq!(
        nps.notes,
        [
            "moved from 2027-03-31 to 2027-04-21: the contact has a survey on 2027-03-22, and \
          surveys are kept 30 days apart; 2027-04-03 is a Saturday, not a sending day"
        ]
    );
}

#[test]
fn a_check_in_on_the_same_day_as_an_nps_for_the_same_contact_is_merged_into_it() {
    // Day 0 on a Saturday: week-4 check-in (day 28, Saturday) and nps-30 (day 30) both land
    // on Monday for the only contact.
    let mut acc = account(date(2027, 3, 6), None);
    acc.contacts = vec![contact(2, ContactRole::Champion)];
    let plan = plan_default(&acc);
    let checkin = find(&plan, "checkin-week-4");
    assert_eq!(skip_reason(checkin), "merged into nps-30");
    assert_eq!(checkin.due_local.date(), date(2027, 4, 5));
    assert!(find(&plan, "nps-30").is_send());
}

#[test]
fn two_touches_on_one_day_for_one_contact_are_spaced_to_the_next_working_day() {
    // The champion joins on Monday 2027-03-15, the day of the week-2 check-in: the welcome
    // comes first and the check-in follows a day later.
    let mut acc = account(date(2027, 3, 1), None);
    acc.contacts[1].added_on = date(2027, 3, 15);
    let plan = plan_default(&acc);
    let welcome = find(&plan, "welcome:c2");
    assert_eq!(welcome.due_local.date(), date(2027, 3, 15));
    let checkin = find(&plan, "checkin-week-2");
    assert_eq!(checkin.recipient, Recipient::Contact(ContactId(2)));
    assert_eq!(checkin.due_local.date(), date(2027, 3, 16));
    assert_eq!(
        checkin.notes,
        ["moved from 2027-03-15 to 2027-03-16: the contact already has welcome:c2 on 2027-03-15"]
    );
    // Before joining, the champion's check-ins went to the decision maker.
    assert_eq!(
        find(&plan, "checkin-week-1").recipient,
        Recipient::Contact(ContactId(1))
    );
}

#[test]
fn a_contact_added_later_gets_their_welcome_on_the_day_they_were_added() {
    let mut acc = account(date(2027, 3, 1), None);
    acc.contacts.push(ContactInput {
        added_on: date(2027, 5, 12),
        ..contact(4, ContactRole::User)
    });
    let plan = plan_default(&acc);
    let welcome = find(&plan, "welcome:c4");
    assert_eq!(welcome.nominal_date, date(2027, 5, 12));
    assert_eq!(welcome.due_local.date(), date(2027, 5, 12));
    assert!(welcome.is_send());
}

#[test]
fn touches_beyond_the_weekly_cap_move_to_the_next_week() {
    let mut config = only_rules(vec![
        day_rule("a", TouchKind::Qbr, 0),
        day_rule("b", TouchKind::Qbr, 1),
        day_rule("c", TouchKind::Qbr, 2),
    ]);
    config.fatigue.max_per_week = 2;
    let acc = account(date(2027, 3, 1), None);
    let plan = plan(&acc, &[], &config, early(acc.day_zero));
    let c = find(&plan, "c");
    assert!(c.is_send());
    assert_eq!(c.due_local.date(), date(2027, 3, 8));
    assert!(
        c.notes[0].contains("the contact already has 2 touches in the week of 2027-03-01"),
        "{:?}",
        c.notes
    );
}

#[test]
fn a_check_in_beyond_the_weekly_cap_is_skipped_rather_than_postponed() {
    let mut config = only_rules(vec![
        day_rule("a", TouchKind::Qbr, 0),
        day_rule("b", TouchKind::Qbr, 1),
        day_rule("c", TouchKind::Checkin, 2),
    ]);
    config.fatigue.max_per_week = 2;
    let acc = account(date(2027, 3, 1), None);
    let plan = plan(&acc, &[], &config, early(acc.day_zero));
    assert_eq!(
        skip_reason(find(&plan, "c")),
        "the contact already has 2 touches in the week of 2027-03-01 (at most 2 a week)"
    );
}

#[test]
fn the_higher_priority_touch_keeps_its_day_when_the_week_is_full() {
    // The check-ins (low priority) come first in the week, the QBR last; the QBR still wins.
    let mut config = only_rules(vec![
        day_rule("c1", TouchKind::Checkin, 0),
        day_rule("c2", TouchKind::Checkin, 1),
        day_rule("qbr", TouchKind::Qbr, 2),
    ]);
    config.fatigue.max_per_week = 2;
    let acc = account(date(2027, 3, 1), None);
    let plan = plan(&acc, &[], &config, early(acc.day_zero));
    assert_eq!(find(&plan, "qbr").due_local.date(), date(2027, 3, 3));
    assert!(find(&plan, "c1").is_send());
    assert!(!find(&plan, "c2").is_send());
}

// ---- recipients ----------------------------------------------------------------------------

#[test]
fn a_renewal_reminder_without_a_reachable_decision_maker_is_skipped_with_the_reason() {
    let mut acc = account(date(2027, 3, 1), Some(date(2028, 3, 1)));
    acc.contacts[0].opted_out = vec![MessageCategory::Renewal];
    let plan = plan_default(&acc);
    let renewal = find(&plan, "renewal-30@2028-03-01");
    assert_eq!(skip_reason(renewal), "no reachable decision maker");
    assert_eq!(renewal.recipient, Recipient::Nobody);
    assert_eq!(renewal.notes, ["contact 1 opted out of renewal messages"]);
}

#[test]
fn a_check_in_for_an_unreachable_champion_goes_to_the_decision_maker() {
    let mut acc = account(date(2027, 3, 1), None);
    acc.contacts[1].reachable = false;
    let plan = plan_default(&acc);
    let checkin = find(&plan, "checkin-week-1");
    assert_eq!(checkin.recipient, Recipient::Contact(ContactId(1)));
    assert_eq!(
        checkin.notes,
        [
            "contact 2 is unreachable",
            "no reachable champion; sent to decision maker 1 instead"
        ]
    );
    assert_eq!(
        skip_reason(find(&plan, "welcome:c2")),
        "contact 2 is unreachable"
    );
}

#[test]
fn a_check_in_with_nobody_reachable_is_skipped() {
    let mut acc = account(date(2027, 3, 1), None);
    for c in &mut acc.contacts {
        c.reachable = false;
    }
    let plan = plan_default(&acc);
    assert_eq!(
        skip_reason(find(&plan, "checkin-week-1")),
        "no reachable contact"
    );
    assert_eq!(
        skip_reason(find(&plan, "nps-30")),
        "no reachable contact who accepts surveys"
    );
}

#[test]
fn internal_tasks_are_skipped_when_no_csm_is_assigned() {
    let mut acc = account(date(2027, 3, 1), Some(date(2028, 3, 1)));
    acc.csm = None;
    let plan = plan_default(&acc);
    assert_eq!(skip_reason(find(&plan, "checkpoint-30")), "no CSM assigned");
    assert_eq!(
        skip_reason(find(&plan, "task-renewal-120@2028-03-01")),
        "no CSM assigned"
    );
}

// ---- segments ------------------------------------------------------------------------------

fn rules_used(segment: Segment) -> Vec<String> {
    let mut acc = account(date(2027, 3, 1), Some(date(2028, 3, 1)));
    acc.segment = segment;
    let mut rules: Vec<String> = plan_default(&acc).into_iter().map(|t| t.rule).collect();
    rules.sort();
    rules.dedup();
    rules
}

#[test]
fn enterprise_keeps_bi_weekly_check_ins_through_day_270_and_has_quarterly_reviews() {
    let mut acc = account(date(2027, 3, 1), Some(date(2028, 3, 1)));
    acc.segment = Segment::Enterprise;
    let plan = plan_default(&acc);
    let checkins = plan
        .iter()
        .filter(|t| t.rule == "checkin-enterprise")
        .count();
    assert_eq!(checkins, 13); // days 90, 104, ..., 258
    let qbrs = plan.iter().filter(|t| t.kind == TouchKind::Qbr).count();
    assert_eq!(qbrs, 4);
    assert!(!rules_used(Segment::Enterprise).contains(&"checkin-monthly".to_string()));
}

#[test]
fn mid_market_reviews_twice_a_year_and_smb_never() {
    assert!(rules_used(Segment::MidMarket).contains(&"qbr-half-yearly".to_string()));
    let smb = rules_used(Segment::Smb);
    assert!(!smb.iter().any(|r| r.starts_with("qbr")));
    assert!(smb.contains(&"checkin-smb".to_string()));
    assert!(!smb.contains(&"checkin-biweekly".to_string()));
}

#[test]
fn smb_gets_monthly_check_ins_from_day_90_to_day_270() {
    let mut acc = account(date(2027, 3, 1), None);
    acc.segment = Segment::Smb;
    let plan = plan_default(&acc);
    let days: Vec<i64> = plan
        .iter()
        .filter(|t| t.rule == "checkin-smb")
        .map(|t| (t.nominal_date - acc.day_zero).num_days())
        .collect();
    assert_eq!(days, [90, 120, 150, 180, 210, 240, 270]);
}

// ---- configuration -------------------------------------------------------------------------

#[test]
fn the_shipped_default_toml_is_the_default_config() {
    let parsed = CalendarConfig::from_section_body(DEFAULT_TOML).unwrap();
    assert_eq!(parsed, CalendarConfig::default());
}

#[test]
fn the_default_toml_works_below_a_calendar_header_in_a_bigger_file() {
    #[derive(serde::Deserialize)]
    struct File {
        #[allow(dead_code)]
        bot: toml::Table,
        calendar: CalendarConfig,
    }
    let text = format!("[bot]\nname = \"touchbot\"\n\n[calendar]\n{DEFAULT_TOML}");
    let file: File = toml::from_str(&text).unwrap();
    assert_eq!(file.calendar, CalendarConfig::default());
}

#[test]
fn the_default_config_is_valid() {
    assert_eq!(CalendarConfig::default().validate(), Ok(()));
}

#[test]
fn the_config_survives_a_round_trip_through_toml() {
    let text = toml::to_string(&CalendarConfig::default()).unwrap();
    let back: CalendarConfig = toml::from_str(&text).unwrap();
    assert_eq!(back, CalendarConfig::default());
}

#[test]
fn a_partial_section_keeps_the_defaults_for_what_it_leaves_out() {
    let config = CalendarConfig::from_section_body(
        "grace_days = 5\n[calendar.send_window]\nstart = \"09:30\"\n",
    )
    .unwrap();
    assert_eq!(config.grace_days, 5);
    assert_eq!(config.send_window.start, ClockTime::hm(9, 30));
    assert_eq!(config.send_window.end, ClockTime::hm(19, 0));
    assert_eq!(config.rules, CalendarConfig::default().rules);
}

#[test]
fn a_misspelt_key_is_rejected_with_its_name() {
    let err = CalendarConfig::from_section_body("grace_dayz = 5\n").unwrap_err();
    assert!(err.to_string().contains("grace_dayz"), "{err}");
}

#[test]
fn a_badly_written_time_explains_the_expected_form() {
    let err = CalendarConfig::from_section_body("[calendar.send_window]\nstart = \"10am\"\n")
        .unwrap_err();
    assert!(err.to_string().contains("write it as HH:MM"), "{err}");
}

#[test]
fn validate_catches_a_window_that_ends_before_it_starts() {
    let mut config = CalendarConfig::default();
    config.send_window.start = ClockTime::hm(19, 0);
    config.send_window.end = ClockTime::hm(10, 0);
    let issues = config.validate().unwrap_err();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].path, "calendar.send_window.end");
    assert!(issues[0].message.contains("set `end` later than `start`"));
}

#[test]
fn validate_reports_every_broken_rule_with_its_path() {
    let mut config = CalendarConfig::default();
    config.rules[10].every_days = Some(0);
    config.rules[11].from_day = Some(300);
    config.rules[2].key = "checkin-week-1".to_string();
    config.rules[3].days_before_renewal = Some(5);
    config.quiet_months.push(13);
    config.recipients.renewal = vec![RecipientChoice::Csm];
    let paths: Vec<String> = config
        .validate()
        .unwrap_err()
        .into_iter()
        .map(|i| i.path)
        .collect();
    assert_eq!(
        paths,
        [
            "calendar.quiet_months[2]",
            "calendar.recipients.renewal",
            "calendar.rules[2].key",
            "calendar.rules[3]",
            "calendar.rules[10].every_days",
            "calendar.rules[11].to_day",
        ]
    );
}

#[test]
fn validate_rejects_a_fallback_list_mixed_with_each_contact() {
    let mut config = CalendarConfig::default();
    config.recipients.welcome = vec![RecipientChoice::EachContact, RecipientChoice::Champion];
    config.recipients.task = vec![RecipientChoice::Champion];
    let issues = config.validate().unwrap_err();
    assert_eq!(issues.len(), 2);
    assert_eq!(issues[0].path, "calendar.recipients.welcome");
    assert_eq!(issues[1].path, "calendar.recipients.task");
}

// ---- invariants ----------------------------------------------------------------------------

mod invariants {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    const ZONES: [Tz; 6] = [
        Tz::UTC,
        chrono_tz::America::New_York,
        chrono_tz::Europe::Berlin,
        chrono_tz::Asia::Almaty,
        chrono_tz::Pacific::Auckland,
        chrono_tz::Australia::Lord_Howe,
    ];

    fn arb_account() -> impl Strategy<Value = AccountInput> {
        (
            0i64..3650,
            proptest::option::of(200i64..500),
            0usize..ZONES.len(),
            0usize..3,
            proptest::collection::vec(
                (
                    0usize..3,
                    proptest::option::of(0usize..ZONES.len()),
                    0i64..200,
                    any::<bool>(),
                ),
                0..4,
            ),
        )
            .prop_map(|(start, renewal, zone, segment, contacts)| {
                let day_zero = date(2024, 1, 1) + chrono::Duration::days(start);
                AccountInput {
                    id: AccountId(1),
                    segment: Segment::ALL[segment],
                    day_zero,
                    renewal_date: renewal.map(|d| day_zero + chrono::Duration::days(d)),
                    time_zone: ZONES[zone],
                    csm: Some(StaffId(7)),
                    contacts: contacts
                        .into_iter()
                        .enumerate()
                        .map(|(i, (role, tz, added, reachable))| ContactInput {
                            id: ContactId(i as i64 + 1),
                            role: ContactRole::ALL[role],
                            time_zone: tz.map(|z| ZONES[z]),
                            added_on: day_zero + chrono::Duration::days(added - 30),
                            opted_out: Vec::new(),
                            reachable: reachable || i == 0,
                        })
                        .collect(),
                    closed_tickets: Vec::new(),
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn every_plan_keeps_the_sending_rules(
            mut acc in arb_account(),
            late in -20i64..200,
            holiday in 0i64..60,
            // Tickets closed up to nine days before `now`: (minutes ago, raiser, rated).
            tickets in proptest::collection::vec(
                (0i64..9 * 24 * 60, proptest::option::of(1i64..5), any::<bool>()),
                0..4,
            ),
        ) {
            let config = CalendarConfig {
                holidays: vec![acc.day_zero + chrono::Duration::days(holiday)],
                ..CalendarConfig::default()
            };
            let now = Utc.from_utc_datetime(&(acc.day_zero + chrono::Duration::days(late)).and_hms_opt(13, 0, 0).unwrap());
            acc.closed_tickets = tickets
                .iter()
                .enumerate()
                .map(|(i, (ago, raiser, rated))| ClosedTicket {
                    ticket: format!("T-{i}"),
                    closed_at: now - chrono::Duration::minutes(*ago),
                    raised_by: raiser.map(ContactId),
                    csat: rated.then_some(5),
                })
                .collect();
            let plan = plan(&acc, &[], &config, now);
            for ticket in &acc.closed_tickets {
                let survey = plan.iter().find(|t| t.touch_key == format!("csat@{}", ticket.ticket));
                let old = now - ticket.closed_at > chrono::Duration::days(i64::from(config.csat.within_days));
                prop_assert_eq!(survey.is_some(), ticket.csat.is_none() && !old, "{}", ticket.ticket);
                if let Some(t) = survey.filter(|t| t.is_send()) {
                    let earliest = ticket.closed_at + chrono::Duration::minutes(i64::from(config.csat.delay_minutes));
                    prop_assert!(t.due_at >= earliest, "{} before the delay", t.touch_key);
                    let last = (ticket.closed_at + chrono::Duration::days(i64::from(config.csat.within_days)))
                        .with_timezone(&t.time_zone)
                        .date_naive();
                    prop_assert!(t.due_local.date() <= last, "{} after its last day", t.touch_key);
                }
            }

            let mut seen = HashSet::new();
            let mut per_week: HashMap<(ContactId, chrono::IsoWeek), u32> = HashMap::new();
            let mut per_day: HashSet<(ContactId, NaiveDate)> = HashSet::new();
            let mut surveys: HashMap<ContactId, Vec<NaiveDate>> = HashMap::new();
            for t in &plan {
                prop_assert!(seen.insert(t.touch_key.clone()), "duplicate key {}", t.touch_key);
                if !t.is_send() {
                    continue;
                }
                let local = t.due_at.with_timezone(&t.time_zone).naive_local();
                prop_assert_eq!(local, t.due_local);
                let day = local.date();
                prop_assert!(config.send_window.days.contains(&day.weekday()), "{} on a {}", t.touch_key, day.weekday());
                prop_assert!(!config.holidays.contains(&day), "{} on a holiday", t.touch_key);
                prop_assert!(local.time() >= config.send_window.start.0 && local.time() < config.send_window.end.0,
                    "{} at {}", t.touch_key, local);
                prop_assert!(t.due_at >= now, "{} is in the past", t.touch_key);
                if let Recipient::Contact(id) = t.recipient {
                    let n = per_week.entry((id, day.iso_week())).or_default();
                    *n += 1;
                    prop_assert!(*n <= config.fatigue.max_per_week, "contact {} over the weekly cap", id);
                    prop_assert!(per_day.insert((id, day)), "contact {} gets two touches on {}", id, day);
                    if t.kind.is_survey() {
                        let gap = i64::from(config.fatigue.survey_gap_days);
                        let earlier = surveys.entry(id).or_default();
                        prop_assert!(earlier.iter().all(|d| (day - *d).num_days().abs() >= gap),
                            "contact {} gets two surveys within {} days", id, gap);
                        earlier.push(day);
                    }
                }
            }
        }
    }
}
