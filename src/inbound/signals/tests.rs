use super::*;
use chrono::TimeZone;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn raw(kind: &str) -> RawSignal {
    RawSignal {
        kind: kind.into(),
        occurred_at: at(),
        ..RawSignal::default()
    }
}

fn err(r: &RawSignal) -> String {
    parse_signal(AccountId(7), r).unwrap_err().0
}

#[test]
fn an_unknown_kind_lists_every_accepted_kind() {
    let e = err(&raw("logins"));
    assert!(e.contains("'logins' is not a signal kind"), "{e}");
    for k in SignalKind::ALL {
        assert!(e.contains(k.as_str()), "{e} lacks {k}");
    }
}

#[test]
fn every_kind_reads_back_from_its_name() {
    for k in SignalKind::ALL {
        assert_eq!(k.as_str().parse::<SignalKind>().unwrap(), *k);
    }
}

#[test]
fn a_usage_signal_needs_a_value_in_its_range() {
    assert!(err(&raw("active_users")).contains("needs a value"));
    let mut r = raw("login_days_30");
    r.value = Some(31.0);
    assert!(err(&r).contains("0 to 30"));
    r.value = Some(2.5);
    assert!(err(&r).contains("whole number"));
    let mut r = raw("feature_adoption");
    r.value = Some(1.2);
    assert!(err(&r).contains("share from 0 to 1"));
    r.value = Some(0.4);
    let s = parse_signal(AccountId(7), &r).unwrap();
    assert_eq!(s.value, Some(0.4));
    assert_eq!(s.details, json!({}));
}

#[test]
fn a_kind_without_a_value_refuses_one() {
    let mut r = raw("goal_met");
    r.value = Some(3.0);
    assert!(err(&r).contains("takes no value"));
}

#[test]
fn a_payment_may_carry_the_amount_paid_but_never_a_negative_one() {
    let r = raw("payment_on_time");
    assert_eq!(parse_signal(AccountId(7), &r).unwrap().value, None);
    let mut r = raw("payment_late");
    r.value = Some(1200.5);
    assert_eq!(parse_signal(AccountId(7), &r).unwrap().value, Some(1200.5));
    r.value = Some(-100.0);
    let e = err(&r);
    assert!(
        e.contains("-100 is not a valid value for payment_late"),
        "{e}"
    );
    assert!(e.contains("the amount paid in currency units"), "{e}");
    r.value = Some(f64::NAN);
    assert!(err(&r).contains("the amount paid"));
}

#[test]
fn the_same_payment_with_another_amount_is_another_fact() {
    let mut r = raw("payment_on_time");
    r.value = Some(1000.0);
    let a = parse_signal(AccountId(7), &r).unwrap();
    r.value = Some(1500.0);
    let b = parse_signal(AccountId(7), &r).unwrap();
    assert_ne!(a.idempotency_key, b.idempotency_key);
}

#[test]
fn an_opened_ticket_needs_its_id_and_a_known_severity() {
    let mut r = raw("ticket_opened");
    assert!(err(&r).contains("--ticket"));
    r.ticket = Some("T-1".into());
    assert!(err(&r).contains("--severity"));
    r.severity = Some("urgent".into());
    assert!(err(&r).contains("low, normal, high or critical"));
    r.severity = Some("Critical".into());
    let s = parse_signal(AccountId(7), &r).unwrap();
    assert_eq!(s.details, json!({"ticket": "T-1", "severity": "critical"}));
}

#[test]
fn a_closed_ticket_may_carry_a_csat_from_1_to_5() {
    let mut r = raw("ticket_closed");
    r.ticket = Some("T-1".into());
    r.csat = Some(6.0);
    assert!(err(&r).contains("from 1 to 5"));
    r.csat = Some(4.0);
    let s = parse_signal(AccountId(7), &r).unwrap();
    assert_eq!(s.details, json!({"ticket": "T-1", "csat": 4}));
}

#[test]
fn a_ticket_may_name_the_contact_who_raised_it_and_other_kinds_may_not() {
    let mut r = raw("ticket_opened");
    r.ticket = Some("T-1".into());
    r.severity = Some("normal".into());
    r.contact = Some(ContactId(4));
    let s = parse_signal(AccountId(7), &r).unwrap();
    assert_eq!(s.contact, Some(ContactId(4)));
    let mut r = raw("goal_met");
    r.contact = Some(ContactId(4));
    assert!(err(&r).contains("goal_met does not take a contact"));
}

#[test]
fn a_competitor_mention_names_the_competitor() {
    let mut r = raw("competitor_mentioned");
    assert!(err(&r).contains("--competitor"));
    r.competitor = Some("Acme CRM".into());
    let s = parse_signal(AccountId(7), &r).unwrap();
    assert_eq!(s.details, json!({"competitor": "Acme CRM"}));
}

#[test]
fn options_the_kind_does_not_use_are_refused() {
    let mut r = raw("goal_met");
    r.competitor = Some("Acme".into());
    assert!(err(&r).contains("does not take a competitor"));
    let mut r = raw("sponsor_left");
    r.ticket = Some("T-9".into());
    assert!(err(&r).contains("does not take a ticket"));
}

#[test]
fn the_same_signal_fed_twice_gets_the_same_key() {
    let mut r = raw("ticket_opened");
    r.ticket = Some("T-1".into());
    r.severity = Some("high".into());
    let a = parse_signal(AccountId(7), &r).unwrap();
    let b = parse_signal(AccountId(7), &r).unwrap();
    assert_eq!(a.idempotency_key, b.idempotency_key);
    let other_account = parse_signal(AccountId(8), &r).unwrap();
    assert_ne!(a.idempotency_key, other_account.idempotency_key);
    r.occurred_at = at() + chrono::TimeDelta::hours(1);
    let later = parse_signal(AccountId(7), &r).unwrap();
    assert_ne!(a.idempotency_key, later.idempotency_key);
}

#[test]
fn a_key_given_by_the_caller_is_used_as_is() {
    let mut r = raw("payment_on_time");
    r.key = Some("invoice-2026-03".into());
    assert_eq!(
        parse_signal(AccountId(7), &r).unwrap().idempotency_key,
        "invoice-2026-03"
    );
    r.key = Some("  ".into());
    assert!(err(&r).contains("key is empty"));
}
