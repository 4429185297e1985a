//! Storage of the people and accounts the bot serves. Touches, replies and signals are stored
//! by the path that owns them (`outbound`, `inbound`).

pub mod accounts;
pub mod consents;
pub mod contact_update;
pub mod contacts;
pub mod erasure;
pub mod external_ids;
pub mod invites;
pub mod staff;
pub mod team_chat;
pub mod tokens;

use crate::domain::ParseError;

/// What went wrong storing or finding something, phrased for the person who asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Invalid(String),
    /// A bad value of one named field (as the API and CSV name it), so an API client learns
    /// which field to fix; the message reads the same as `Invalid` on the command line.
    #[error("{problem}")]
    Field {
        field: &'static str,
        problem: String,
    },
    #[error("no {what} matches '{name}'; {hint}")]
    NotFound {
        what: &'static str,
        name: String,
        hint: &'static str,
    },
    #[error("'{name}' matches several {what}s: {}; use the id or the full name", candidates.join(", "))]
    Ambiguous {
        what: &'static str,
        name: String,
        candidates: Vec<String>,
    },
    #[error("{0}")]
    Duplicate(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl From<ParseError> for StoreError {
    fn from(e: ParseError) -> Self {
        StoreError::Invalid(e.0)
    }
}

impl StoreError {
    pub fn field(field: &'static str, problem: impl Into<String>) -> StoreError {
        StoreError::Field {
            field,
            problem: problem.into(),
        }
    }

    /// True when the user can fix the request; false when it is an internal fault.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, StoreError::Database(_) | StoreError::Corrupt(_))
    }
}

/// Maps a unique-key violation to a message the user can act on.
fn unique_violation(e: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate(message()),
        _ => StoreError::Database(e),
    }
}

/// Parses a stored enum value; a failure means the database holds something the code
/// never writes.
fn stored<T: std::str::FromStr<Err = ParseError>>(value: &str) -> Result<T, StoreError> {
    value
        .parse()
        .map_err(|e: ParseError| StoreError::Corrupt(e.0))
}

pub fn parse_time_zone(value: &str) -> Result<chrono_tz::Tz, StoreError> {
    value.trim().parse::<chrono_tz::Tz>().map_err(|_| {
        StoreError::field("time_zone", format!(
            "'{}' is not a known time zone; use an IANA name such as Europe/Berlin or Asia/Almaty",
            value.trim()
        ))
    })
}

/// The locales the bot has message texts for.
pub const LOCALES: &[&str] = &["en", "ru"];

pub fn parse_locale(value: &str) -> Result<String, StoreError> {
    let v = value.trim().to_ascii_lowercase();
    if LOCALES.contains(&v.as_str()) {
        Ok(v)
    } else {
        Err(StoreError::field(
            "locale",
            format!(
                "'{}' is not a supported language; use one of: {}",
                value.trim(),
                LOCALES.join(", ")
            ),
        ))
    }
}
