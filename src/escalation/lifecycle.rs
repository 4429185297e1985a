//! The life of an escalation: open, acknowledged by the CSM, resolved with an outcome. For a
//! churned account the outcome records why (DOMAIN.md: price, missing feature (which),
//! service, the client's business changed, competitor (which), budget).
//!
//! Outcomes are written on the CLI and in chat as `saved`, `recovered`, `no_action`,
//! `other:<text>` or `churned:<reason>`, where a missing feature and a competitor take a name:
//! `churned:missing_feature:Bulk export`, `churned:competitor:Acme CRM`. Keys accept any case
//! and `-` or spaces for `_`; the text after the second colon is kept as typed (trimmed) and
//! may itself contain colons.

use thiserror::Error;

/// Where an escalation stands: open, acknowledged (taken by a person) or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Acknowledged,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
        }
    }

    /// The status after moving to `to`, if that move is allowed: open → acknowledged,
    /// open or acknowledged → resolved. A resolved escalation stays resolved; a signal that
    /// comes back opens a new one.
    pub fn transition(self, to: Status) -> Result<Status, TransitionError> {
        match (self, to) {
            (Status::Open, Status::Acknowledged)
            | (Status::Open, Status::Resolved)
            | (Status::Acknowledged, Status::Resolved) => Ok(to),
            (from, to) => Err(TransitionError { from, to }),
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Status {
    type Err = crate::domain::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(Status::Open),
            "acknowledged" | "ack" => Ok(Status::Acknowledged),
            "resolved" => Ok(Status::Resolved),
            _ => Err(crate::domain::ParseError(format!(
                "'{}' is not an escalation status; use one of: open, acknowledged, resolved",
                s.trim()
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", transition_message(*.from, *.to))]
pub struct TransitionError {
    pub from: Status,
    pub to: Status,
}

fn transition_message(from: Status, to: Status) -> String {
    match from {
        Status::Resolved => {
            "this escalation is already resolved; if the problem is back, a new escalation \
             will be opened for it"
                .to_string()
        }
        _ if from == to => format!("this escalation is already {from}"),
        _ => format!("an {from} escalation cannot go back to {to}; resolve it instead"),
    }
}

/// Why a churned account left.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChurnReason {
    Price,
    /// The feature that was missing.
    MissingFeature(String),
    Service,
    BusinessChanged,
    /// The competitor they moved to.
    Competitor(String),
    Budget,
}

impl ChurnReason {
    pub const KEYS: &'static [&'static str] = &[
        "price",
        "missing_feature",
        "service",
        "business_changed",
        "competitor",
        "budget",
    ];

    pub fn key(&self) -> &'static str {
        match self {
            ChurnReason::Price => "price",
            ChurnReason::MissingFeature(_) => "missing_feature",
            ChurnReason::Service => "service",
            ChurnReason::BusinessChanged => "business_changed",
            ChurnReason::Competitor(_) => "competitor",
            ChurnReason::Budget => "budget",
        }
    }

    /// The feature or competitor named with the reason.
    pub fn detail(&self) -> Option<&str> {
        match self {
            ChurnReason::MissingFeature(text) | ChurnReason::Competitor(text) => Some(text),
            _ => None,
        }
    }
}

/// What came of an escalation, recorded when a person resolves it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The CSM's work kept the account.
    Saved,
    /// The client's own signal improved (see [`nps_recovered`]).
    Recovered,
    Churned(ChurnReason),
    /// Looked at; nothing needed doing.
    NoAction,
    Other(String),
}

impl Outcome {
    pub fn key(&self) -> &'static str {
        match self {
            Outcome::Saved => "saved",
            Outcome::Recovered => "recovered",
            Outcome::Churned(_) => "churned",
            Outcome::NoAction => "no_action",
            Outcome::Other(_) => "other",
        }
    }
}

/// `Display` writes the form [`Outcome::from_str`](std::str::FromStr) reads.
impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Churned(reason) => match reason.detail() {
                Some(detail) => write!(f, "churned:{}:{detail}", reason.key()),
                None => write!(f, "churned:{}", reason.key()),
            },
            Outcome::Other(text) => write!(f, "other:{text}"),
            simple => f.write_str(simple.key()),
        }
    }
}

const OUTCOME_FORMS: &str = "saved, recovered, no_action, other:<text>, churned:price, \
     churned:missing_feature:<which>, churned:service, churned:business_changed, \
     churned:competitor:<which>, churned:budget";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OutcomeParseError {
    #[error("no outcome given; use one of: {OUTCOME_FORMS}")]
    Empty,
    #[error("'{0}' is not an outcome; use one of: {OUTCOME_FORMS}")]
    UnknownOutcome(String),
    #[error(
        "say why the account churned, e.g. churned:price; the reasons are: price, \
         missing_feature:<which>, service, business_changed, competitor:<which>, budget"
    )]
    MissingChurnReason,
    #[error(
        "'{0}' is not a churn reason; use one of: price, missing_feature:<which>, service, \
         business_changed, competitor:<which>, budget"
    )]
    UnknownChurnReason(String),
    #[error("churned:{reason} needs the {what} after another colon, e.g. {example}")]
    MissingDetail {
        reason: &'static str,
        what: &'static str,
        example: &'static str,
    },
    #[error(
        "'{outcome}' takes no further detail, but ':{detail}' was given; write just '{outcome}'"
    )]
    UnexpectedDetail { outcome: String, detail: String },
    #[error("describe the outcome after the colon, e.g. other:merged into the parent account")]
    MissingOtherText,
}

impl std::str::FromStr for Outcome {
    type Err = OutcomeParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if text.is_empty() {
            return Err(OutcomeParseError::Empty);
        }
        let (head, rest) = match text.split_once(':') {
            Some((head, rest)) => (head, Some(rest.trim())),
            None => (text, None),
        };
        let no_detail = |outcome: Outcome| match rest {
            Some(detail) if !detail.is_empty() => Err(OutcomeParseError::UnexpectedDetail {
                outcome: outcome.key().to_string(),
                detail: detail.to_string(),
            }),
            _ => Ok(outcome),
        };
        match key(head).as_str() {
            "saved" => no_detail(Outcome::Saved),
            "recovered" => no_detail(Outcome::Recovered),
            "no_action" | "noaction" | "none" => no_detail(Outcome::NoAction),
            "other" => match rest {
                Some(detail) if !detail.is_empty() => Ok(Outcome::Other(detail.to_string())),
                _ => Err(OutcomeParseError::MissingOtherText),
            },
            "churned" | "churn" => parse_churn(rest.unwrap_or("")).map(Outcome::Churned),
            _ => Err(OutcomeParseError::UnknownOutcome(text.to_string())),
        }
    }
}

fn parse_churn(text: &str) -> Result<ChurnReason, OutcomeParseError> {
    if text.is_empty() {
        return Err(OutcomeParseError::MissingChurnReason);
    }
    let (head, detail) = match text.split_once(':') {
        Some((head, detail)) => (head, detail.trim()),
        None => (text, ""),
    };
    let simple = |reason: ChurnReason| {
        if detail.is_empty() {
            Ok(reason)
        } else {
            Err(OutcomeParseError::UnexpectedDetail {
                outcome: format!("churned:{}", reason.key()),
                detail: detail.to_string(),
            })
        }
    };
    let named = |make: fn(String) -> ChurnReason,
                 reason: &'static str,
                 what: &'static str,
                 example: &'static str| {
        if detail.is_empty() {
            Err(OutcomeParseError::MissingDetail {
                reason,
                what,
                example,
            })
        } else {
            Ok(make(detail.to_string()))
        }
    };
    match key(head).as_str() {
        "price" => simple(ChurnReason::Price),
        "service" => simple(ChurnReason::Service),
        "business_changed" | "business" => simple(ChurnReason::BusinessChanged),
        "budget" => simple(ChurnReason::Budget),
        "missing_feature" | "feature" => named(
            ChurnReason::MissingFeature,
            "missing_feature",
            "feature's name",
            "churned:missing_feature:Bulk export",
        ),
        "competitor" => named(
            ChurnReason::Competitor,
            "competitor",
            "competitor's name",
            "churned:competitor:Acme CRM",
        ),
        _ => Err(OutcomeParseError::UnknownChurnReason(text.to_string())),
    }
}

fn key(text: &str) -> String {
    text.trim().to_ascii_lowercase().replace(['-', ' '], "_")
}

/// Whether a later NPS answer shows that a detractor recovered: it must be higher than the
/// answer that was escalated and no longer a detractor (above `detractor_max_score`, 6 by
/// default). A detractor who moves from 2 to 5 is happier but still a detractor; a passive 7
/// counts, since the client is no longer at risk of speaking against the product.
pub fn nps_recovered(escalated_score: u8, later_score: u8, detractor_max_score: u8) -> bool {
    later_score > escalated_score && later_score > detractor_max_score
}
