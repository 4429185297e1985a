//! The facts an integrator feeds about an account from outside the chat: product usage,
//! support tickets, payments, goals and the people on the client side. Pure: this module
//! checks a kind, a value and details and derives the idempotency key; storing is elsewhere.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::domain::{AccountId, ContactId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignalKind {
    ActiveUsers,
    Licences,
    LoginDays30,
    FeatureAdoption,
    TicketOpened,
    TicketClosed,
    PaymentOnTime,
    PaymentLate,
    GoalSet,
    GoalMet,
    SponsorPresent,
    SponsorLeft,
    ChampionChanged,
    CompetitorMentioned,
    /// The CSM moved the renewal deal forward (a call held, a quote sent, terms agreed).
    RenewalProgress,
}

impl SignalKind {
    pub const ALL: &'static [SignalKind] = &[
        SignalKind::ActiveUsers,
        SignalKind::Licences,
        SignalKind::LoginDays30,
        SignalKind::FeatureAdoption,
        SignalKind::TicketOpened,
        SignalKind::TicketClosed,
        SignalKind::PaymentOnTime,
        SignalKind::PaymentLate,
        SignalKind::GoalSet,
        SignalKind::GoalMet,
        SignalKind::SponsorPresent,
        SignalKind::SponsorLeft,
        SignalKind::ChampionChanged,
        SignalKind::CompetitorMentioned,
        SignalKind::RenewalProgress,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::ActiveUsers => "active_users",
            SignalKind::Licences => "licences",
            SignalKind::LoginDays30 => "login_days_30",
            SignalKind::FeatureAdoption => "feature_adoption",
            SignalKind::TicketOpened => "ticket_opened",
            SignalKind::TicketClosed => "ticket_closed",
            SignalKind::PaymentOnTime => "payment_on_time",
            SignalKind::PaymentLate => "payment_late",
            SignalKind::GoalSet => "goal_set",
            SignalKind::GoalMet => "goal_met",
            SignalKind::SponsorPresent => "sponsor_present",
            SignalKind::SponsorLeft => "sponsor_left",
            SignalKind::ChampionChanged => "champion_changed",
            SignalKind::CompetitorMentioned => "competitor_mentioned",
            SignalKind::RenewalProgress => "renewal_progress",
        }
    }

    /// What `value` means for this kind: a required figure for the usage kinds, an optional
    /// amount paid for the payment kinds (revenue retention reads it), nothing for the rest.
    fn value_rule(self) -> ValueRule {
        match self {
            SignalKind::ActiveUsers | SignalKind::Licences => {
                ValueRule::Required(0.0, 1e9, "a whole number of people, 0 or more")
            }
            SignalKind::LoginDays30 => {
                ValueRule::Required(0.0, 30.0, "a whole number of days from 0 to 30")
            }
            SignalKind::FeatureAdoption => {
                ValueRule::Required(0.0, 1.0, "a share from 0 to 1, such as 0.4")
            }
            SignalKind::PaymentOnTime | SignalKind::PaymentLate => ValueRule::Optional(
                0.0,
                1e12,
                "the amount paid in currency units, 0 or more, such as 1200 or 1200.50",
            ),
            _ => ValueRule::None,
        }
    }

    /// Kinds that may say which of the client's contacts they concern.
    pub fn names_a_contact(self) -> bool {
        matches!(self, SignalKind::TicketOpened | SignalKind::TicketClosed)
    }

    fn whole_value(self) -> bool {
        matches!(
            self,
            SignalKind::ActiveUsers | SignalKind::Licences | SignalKind::LoginDays30
        )
    }
}

/// Whether a kind takes a value, and its accepted range and meaning in words.
enum ValueRule {
    None,
    Required(f64, f64, &'static str),
    Optional(f64, f64, &'static str),
}

impl fmt::Display for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn all_kinds() -> String {
    SignalKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for SignalKind {
    type Err = SignalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        SignalKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == t)
            .ok_or_else(|| {
                SignalError(format!(
                    "'{}' is not a signal kind; use one of: {}",
                    s.trim(),
                    all_kinds()
                ))
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Low,
    Normal,
    High,
    Critical,
}

impl Severity {
    pub const ALL: &'static [Severity] = &[
        Severity::Low,
        Severity::Normal,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Normal => "normal",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl FromStr for Severity {
    type Err = SignalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        Severity::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == t)
            .ok_or_else(|| {
                SignalError(format!(
                    "'{}' is not a ticket severity; use low, normal, high or critical",
                    s.trim()
                ))
            })
    }
}

/// Why a signal was refused, in words that say what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SignalError(pub String);

/// A signal as the caller gave it, before any check.
#[derive(Debug, Clone, Default)]
pub struct RawSignal {
    pub kind: String,
    pub value: Option<f64>,
    pub ticket: Option<String>,
    pub severity: Option<String>,
    pub csat: Option<f64>,
    pub competitor: Option<String>,
    /// The client's contact the fact is about: who raised or closed a ticket. Resolved to
    /// a contact of the account by the caller.
    pub contact: Option<ContactId>,
    pub occurred_at: DateTime<Utc>,
    pub key: Option<String>,
}

/// A checked signal, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub account: AccountId,
    pub kind: SignalKind,
    pub value: Option<f64>,
    pub contact: Option<ContactId>,
    pub details: Value,
    pub occurred_at: DateTime<Utc>,
    pub idempotency_key: String,
}

/// A fact is recorded once it has happened, never ahead.
pub fn not_in_future(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), SignalError> {
    if at > now {
        return Err(SignalError(format!(
            "{} is in the future; record a signal once it has happened",
            at.format("%Y-%m-%d %H:%M UTC")
        )));
    }
    Ok(())
}

/// Checks a signal: the kind, the value it needs (or must not have), and its details.
/// Options that the kind does not use are refused rather than silently dropped.
pub fn parse_signal(account: AccountId, raw: &RawSignal) -> Result<Signal, SignalError> {
    let kind: SignalKind = raw.kind.parse()?;
    let value = check_value(kind, raw.value)?;
    let details = details(kind, raw)?;
    if raw.contact.is_some() && !kind.names_a_contact() {
        return Err(SignalError(format!(
            "{kind} does not take a contact; --contact says who raised a ticket \
             (ticket_opened, ticket_closed)"
        )));
    }
    let key = match raw.key.as_deref().map(str::trim) {
        Some("") => {
            return Err(SignalError(
                "the idempotency key is empty; give a non-empty key or leave it out".into(),
            ));
        }
        Some(k) => k.to_string(),
        None => derived_key(account, kind, value, &details, raw.occurred_at),
    };
    Ok(Signal {
        account,
        kind,
        value,
        contact: raw.contact,
        details,
        occurred_at: raw.occurred_at,
        idempotency_key: key,
    })
}

fn check_value(kind: SignalKind, value: Option<f64>) -> Result<Option<f64>, SignalError> {
    let (lo, hi, what) = match (kind.value_rule(), value) {
        (ValueRule::None, None) | (ValueRule::Optional(..), None) => return Ok(None),
        (ValueRule::None, Some(_)) => {
            return Err(SignalError(format!(
                "{kind} takes no value; leave out --value"
            )));
        }
        (ValueRule::Required(_, _, what), None) => {
            return Err(SignalError(format!(
                "{kind} needs a value: {what} (--value)"
            )));
        }
        (ValueRule::Required(lo, hi, what) | ValueRule::Optional(lo, hi, what), Some(_)) => {
            (lo, hi, what)
        }
    };
    let v = value.unwrap_or_default();
    if !v.is_finite() || v < lo || v > hi || (kind.whole_value() && v.fract() != 0.0) {
        Err(SignalError(format!(
            "{v} is not a valid value for {kind}; give {what}"
        )))
    } else {
        Ok(Some(v))
    }
}

fn text(o: &Option<String>) -> Option<&str> {
    o.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

fn details(kind: SignalKind, raw: &RawSignal) -> Result<Value, SignalError> {
    let ticket = text(&raw.ticket);
    let competitor = text(&raw.competitor);
    let mut out = Map::new();
    let unused = |what: &str, given: bool| {
        if given {
            Err(SignalError(format!("{kind} does not take {what}")))
        } else {
            Ok(())
        }
    };
    match kind {
        SignalKind::TicketOpened => {
            let ticket = ticket.ok_or_else(|| {
                SignalError("ticket_opened needs the ticket's id (--ticket)".into())
            })?;
            let severity: Severity = raw
                .severity
                .as_deref()
                .ok_or_else(|| {
                    SignalError(
                        "ticket_opened needs a severity: low, normal, high or critical (--severity)"
                            .into(),
                    )
                })?
                .parse()?;
            unused("a CSAT score", raw.csat.is_some())?;
            out.insert("ticket".into(), json!(ticket));
            out.insert("severity".into(), json!(severity.as_str()));
        }
        SignalKind::TicketClosed => {
            let ticket = ticket.ok_or_else(|| {
                SignalError("ticket_closed needs the ticket's id (--ticket)".into())
            })?;
            unused("a severity", raw.severity.is_some())?;
            out.insert("ticket".into(), json!(ticket));
            if let Some(csat) = raw.csat {
                if !(1.0..=5.0).contains(&csat) || csat.fract() != 0.0 {
                    return Err(SignalError(format!(
                        "{csat} is not a CSAT score; give a whole number from 1 to 5"
                    )));
                }
                out.insert("csat".into(), json!(csat as i64));
            }
        }
        SignalKind::CompetitorMentioned => {
            let competitor = competitor.ok_or_else(|| {
                SignalError(
                    "competitor_mentioned needs the competitor's name (--competitor)".into(),
                )
            })?;
            out.insert("competitor".into(), json!(competitor));
        }
        _ => {}
    }
    if !matches!(kind, SignalKind::TicketOpened | SignalKind::TicketClosed) {
        unused("a ticket", ticket.is_some())?;
        unused("a severity", raw.severity.is_some())?;
        unused("a CSAT score", raw.csat.is_some())?;
    }
    if kind != SignalKind::CompetitorMentioned {
        unused("a competitor", competitor.is_some())?;
    }
    Ok(Value::Object(out))
}

/// The same fact fed twice gets the same key, so the second is a no-op. The value is part of
/// the key: a corrected figure for the same instant is a different fact, not a repeat.
fn derived_key(
    account: AccountId,
    kind: SignalKind,
    value: Option<f64>,
    details: &Value,
    at: DateTime<Utc>,
) -> String {
    let value = value.map(|v| v.to_string()).unwrap_or_default();
    format!(
        "{kind}:{account}:{}:{value}:{details}",
        at.format("%Y-%m-%dT%H:%M:%SZ")
    )
}

#[cfg(test)]
mod tests {
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
}
