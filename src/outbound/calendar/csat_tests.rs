//! The CSAT survey after a closed support ticket, as the calendar plans it.

use super::*;
use crate::domain::{AccountId, ContactId, ContactRole, MessageCategory, Segment, StaffId};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
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
        added_on: date(2026, 1, 1),
        opted_out: Vec::new(),
        reachable: true,
    }
}

/// An SMB account in UTC that went live on Monday 2027-01-04, with a decision maker (1), a
/// champion (2) and a user (3), and `tickets` closed.
fn account(tickets: Vec<ClosedTicket>) -> AccountInput {
    AccountInput {
        id: AccountId(1),
        segment: Segment::Smb,
        day_zero: date(2027, 1, 4),
        renewal_date: None,
        time_zone: Tz::UTC,
        csm: Some(StaffId(7)),
        contacts: vec![
            contact(1, ContactRole::DecisionMaker),
            contact(2, ContactRole::Champion),
            contact(3, ContactRole::User),
        ],
        closed_tickets: tickets,
    }
}

fn closed(ticket: &str, at: DateTime<Utc>, raised_by: Option<i64>) -> ClosedTicket {
    ClosedTicket {
        ticket: ticket.to_string(),
        closed_at: at,
        raised_by: raised_by.map(ContactId),
        csat: None,
    }
}

/// The calendar without its rules, so only the surveys about tickets are planned.
fn no_rules() -> CalendarConfig {
    CalendarConfig {
        rules: Vec::new(),
        ..CalendarConfig::default()
    }
}

fn sent(key: &str, kind: TouchKind, contact: i64, at: DateTime<Utc>) -> SentTouch {
    SentTouch {
        touch_key: key.to_string(),
        kind,
        contact_id: Some(ContactId(contact)),
        sent_at: at,
    }
}

fn csats(plan: &[PlannedTouch]) -> Vec<&PlannedTouch> {
    plan.iter().filter(|t| t.kind == TouchKind::Csat).collect()
}

fn only_csat(plan: &[PlannedTouch]) -> &PlannedTouch {
    let found = csats(plan);
    assert_eq!(found.len(), 1, "{found:#?}");
    found[0]
}

fn skip_reason(touch: &PlannedTouch) -> &str {
    match &touch.decision {
        Decision::Skip(reason) => reason,
        Decision::Send => panic!("{} is sent, not skipped", touch.touch_key),
    }
}

#[test]
fn a_ticket_closed_at_midday_is_surveyed_an_hour_later_by_the_contact_who_raised_it() {
    // Tuesday 2027-03-02, 12:30 UTC: ticket T-1, raised by the user (3), is closed.
    let acc = account(vec![closed("T-1", utc(2027, 3, 2, 12, 30), Some(3))]);
    let plan = plan(&acc, &[], &no_rules(), utc(2027, 3, 2, 12, 31));
    let csat = only_csat(&plan);
    assert_eq!(csat.touch_key, "csat@T-1");
    assert_eq!(csat.rule, "csat");
    assert_eq!(csat.template, "csat");
    assert_eq!(csat.recipient, Recipient::Contact(ContactId(3)));
    assert!(csat.is_send());
    assert_eq!(csat.due_at, utc(2027, 3, 2, 13, 30));
    assert_eq!(csat.notes, ["contact 3 raised ticket T-1"]);
}

#[test]
fn a_ticket_closed_in_the_evening_is_surveyed_when_the_contacts_window_next_opens() {
    // Friday 17:30 UTC is 18:30 in Berlin; an hour later the contact's window has closed, and
    // the weekend follows.
    let mut acc = account(vec![closed("T-1", utc(2027, 3, 5, 17, 30), Some(3))]);
    acc.contacts[2].time_zone = Some(chrono_tz::Europe::Berlin);
    let plan = plan(&acc, &[], &no_rules(), utc(2027, 3, 5, 17, 31));
    let csat = only_csat(&plan);
    assert!(csat.is_send());
    assert_eq!(
        csat.due_local,
        date(2027, 3, 8).and_hms_opt(10, 0, 0).unwrap()
    );
    assert_eq!(csat.due_at, utc(2027, 3, 8, 9, 0));
    assert_eq!(
        csat.notes,
        [
            "contact 3 raised ticket T-1",
            "moved from 2027-03-05 to 2027-03-08: the send window on 2027-03-05 closes before \
             it is due; 2027-03-06 is a Saturday, not a sending day"
        ]
    );
}

#[test]
fn a_survey_on_a_day_the_contact_already_had_a_touch_moves_to_the_next_working_day() {
    let acc = account(vec![closed("T-1", utc(2027, 3, 2, 12, 30), Some(3))]);
    let history = [sent(
        "checkin#4",
        TouchKind::Checkin,
        3,
        utc(2027, 3, 2, 10, 0),
    )];
    let plan = plan(&acc, &history, &no_rules(), utc(2027, 3, 2, 12, 31));
    let csat = only_csat(&plan);
    assert!(csat.is_send());
    assert_eq!(csat.due_at, utc(2027, 3, 3, 10, 0));
    assert_eq!(
        csat.notes[1],
        "moved from 2027-03-02 to 2027-03-03: the contact already has checkin#4 on 2027-03-02"
    );
}

#[test]
fn a_survey_the_fatigue_limits_would_push_past_seven_days_is_dropped_with_the_reason() {
    // The user answered an NPS survey eight days before: surveys are kept 30 days apart, so
    // the first free day would be weeks after the ticket.
    let acc = account(vec![closed("T-1", utc(2027, 3, 2, 12, 30), Some(3))]);
    let history = [sent("nps-30", TouchKind::Nps, 3, utc(2027, 2, 22, 10, 0))];
    let plan = plan(&acc, &history, &no_rules(), utc(2027, 3, 2, 12, 31));
    let csat = only_csat(&plan);
    let reason = skip_reason(csat);
    assert!(
        reason.starts_with(
            "dropped: it could not go out by 2027-03-09, 7 days after ticket T-1 was closed: \
             the contact has a survey on 2027-02-22, and surveys are kept 30 days apart"
        ),
        "{reason}"
    );
    assert_eq!(csat.recipient, Recipient::Contact(ContactId(3)));
    assert_eq!(csat.due_at, utc(2027, 3, 2, 13, 30));
}

#[test]
fn a_check_in_on_the_day_of_a_survey_for_the_same_contact_is_merged_into_the_survey() {
    // The default calendar: the week-1 check-in goes to the champion on Monday 2027-01-11, the
    // day the champion's ticket is surveyed.
    let acc = account(vec![closed("T-9", utc(2027, 1, 11, 8, 0), Some(2))]);
    let plan = plan(
        &acc,
        &[],
        &CalendarConfig::default(),
        utc(2027, 1, 11, 8, 1),
    );
    let csat = only_csat(&plan);
    assert!(csat.is_send());
    assert_eq!(csat.due_at, utc(2027, 1, 11, 10, 0));
    let checkin = plan
        .iter()
        .find(|t| t.touch_key == "checkin-week-1")
        .unwrap();
    assert_eq!(skip_reason(checkin), "merged into csat@T-9");
}

#[test]
fn a_ticket_closed_with_a_rating_from_the_helpdesk_brings_no_survey() {
    let mut ticket = closed("T-1", utc(2027, 3, 2, 12, 30), Some(3));
    ticket.csat = Some(4);
    let plan = plan(
        &account(vec![ticket]),
        &[],
        &no_rules(),
        utc(2027, 3, 2, 12, 31),
    );
    assert!(csats(&plan).is_empty(), "{plan:#?}");
}

#[test]
fn a_ticket_closed_more_than_seven_days_ago_brings_no_survey_and_a_recent_one_goes_out_now() {
    let acc = account(vec![
        closed("T-old", utc(2027, 2, 22, 12, 0), Some(3)),
        closed("T-recent", utc(2027, 2, 24, 12, 0), Some(2)),
    ]);
    let now = utc(2027, 3, 2, 12, 31);
    let plan = plan(&acc, &[], &no_rules(), now);
    let csat = only_csat(&plan);
    assert_eq!(csat.touch_key, "csat@T-recent");
    assert!(csat.is_send());
    assert_eq!(csat.due_at, now);
    assert_eq!(
        csat.notes[1],
        "was due on 2027-02-24, 6 days before it was planned; moved to the next free slot"
    );
}

#[test]
fn a_ticket_that_names_nobody_asks_the_champion_by_the_recipient_rules() {
    let acc = account(vec![closed("T-1", utc(2027, 3, 2, 12, 30), None)]);
    let plan = plan(&acc, &[], &no_rules(), utc(2027, 3, 2, 12, 31));
    let csat = only_csat(&plan);
    assert!(csat.is_send());
    assert_eq!(csat.recipient, Recipient::Contact(ContactId(2)));
    assert_eq!(
        csat.notes,
        [
            "ticket T-1 does not say who raised it",
            "asked the contact [calendar.recipients] csat picks"
        ]
    );
}

#[test]
fn a_ticket_raised_by_someone_no_longer_on_the_account_asks_the_champion_instead() {
    let acc = account(vec![closed("T-1", utc(2027, 3, 2, 12, 30), Some(9))]);
    let plan = plan(&acc, &[], &no_rules(), utc(2027, 3, 2, 12, 31));
    let csat = only_csat(&plan);
    assert_eq!(csat.recipient, Recipient::Contact(ContactId(2)));
    assert_eq!(
        csat.notes[0],
        "contact 9, who raised ticket T-1, is no longer on the account"
    );
}

#[test]
fn without_the_fallback_a_ticket_that_names_nobody_is_skipped_with_the_reason() {
    let mut config = no_rules();
    config.csat.ask_when_raiser_unknown = false;
    let acc = account(vec![closed("T-1", utc(2027, 3, 2, 12, 30), None)]);
    let plan = plan(&acc, &[], &config, utc(2027, 3, 2, 12, 31));
    let csat = only_csat(&plan);
    assert_eq!(csat.recipient, Recipient::Nobody);
    assert_eq!(
        skip_reason(csat),
        "nobody on the account is known to have raised the ticket"
    );
}

#[test]
fn a_raiser_who_opted_out_of_surveys_is_not_replaced_by_another_contact() {
    let mut acc = account(vec![closed("T-1", utc(2027, 3, 2, 12, 30), Some(3))]);
    acc.contacts[2].opted_out = vec![MessageCategory::Survey];
    let plan = plan(&acc, &[], &no_rules(), utc(2027, 3, 2, 12, 31));
    let csat = only_csat(&plan);
    assert_eq!(csat.recipient, Recipient::Contact(ContactId(3)));
    assert_eq!(
        skip_reason(csat),
        "contact 3 opted out of survey messages; nobody else is asked about their ticket"
    );
}

#[test]
fn a_survey_already_sent_is_not_planned_again() {
    let acc = account(vec![closed("T-1", utc(2027, 3, 2, 12, 30), Some(3))]);
    let history = [sent(
        "csat@T-1",
        TouchKind::Csat,
        3,
        utc(2027, 3, 2, 13, 30),
    )];
    let plan = plan(&acc, &history, &no_rules(), utc(2027, 3, 2, 14, 0));
    assert!(csats(&plan).is_empty(), "{plan:#?}");
}

#[test]
fn a_ticket_closed_twice_gets_one_survey_after_its_latest_closing() {
    let acc = account(vec![
        closed("T-1", utc(2027, 3, 1, 12, 0), Some(3)),
        closed("T-1", utc(2027, 3, 2, 12, 30), Some(3)),
    ]);
    let plan = plan(&acc, &[], &no_rules(), utc(2027, 3, 2, 12, 31));
    assert_eq!(only_csat(&plan).due_at, utc(2027, 3, 2, 13, 30));
}

#[test]
fn with_surveys_after_tickets_turned_off_nothing_is_planned_for_them() {
    let mut config = no_rules();
    config.csat.enabled = false;
    let acc = account(vec![closed("T-1", utc(2027, 3, 2, 12, 30), Some(3))]);
    assert!(plan(&acc, &[], &config, utc(2027, 3, 2, 12, 31)).is_empty());
}

#[test]
fn validate_rejects_survey_settings_that_could_never_send() {
    let mut config = CalendarConfig::default();
    config.csat.within_days = 1;
    config.csat.delay_minutes = 24 * 60;
    config.recipients.csat = vec![RecipientChoice::EachContact];
    let issues = config.validate().unwrap_err();
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        ["calendar.csat.delay_minutes", "calendar.recipients.csat"]
    );
    assert!(issues[0].message.contains("raise within_days"));

    config = CalendarConfig::default();
    config.csat.within_days = 0;
    let issues = config.validate().unwrap_err();
    assert_eq!(issues[0].path, "calendar.csat.within_days");
}
