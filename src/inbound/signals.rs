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
mod tests;
