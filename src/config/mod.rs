//! Configuration, layered: built-in defaults, then a TOML file, then environment variables
//! (`TOUCHBOT_SECTION__KEY=value`, plus `DATABASE_URL`). Checked once at start, so a mistake
//! is reported with the file, the line and what to change, before anything runs.

mod load;

pub use load::{ConfigError, load, render_default};

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::escalation::EscalationConfig;
use crate::health::HealthConfig;
use crate::outbound::calendar::{CalendarConfig, ClockTime};
use crate::outbound::dispatcher::DispatcherConfig;
use crate::outbound::scheduler::SchedulerConfig;
use crate::telegram::TelegramSettings;
use crate::whatsapp::WhatsAppSettings;

/// A section's text could not be read; the message names the problem and the fix.
#[derive(Debug, thiserror::Error)]
#[error("the [{section}] settings could not be read: {message}")]
pub struct SectionParseError {
    pub section: &'static str,
    pub message: String,
}

/// Parses the body of the `[section]` table given on its own, such as a module's commented
/// `DEFAULT_TOML`, whose sub-tables carry their full name (`[calendar.send_window]`).
pub fn parse_section<T: DeserializeOwned>(
    section: &'static str,
    body: &str,
) -> Result<T, SectionParseError> {
    let text = format!("[{section}]\n{body}");
    let error = |message: String| SectionParseError { section, message };
    toml::from_str::<BTreeMap<String, T>>(&text)
        .map_err(|e| error(e.to_string()))?
        .remove(section)
        .ok_or_else(|| error(format!("the [{section}] table is missing")))
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub server: ServerSettings,
    pub dispatcher: DispatcherConfig,
    pub scheduler: SchedulerConfig,
    pub calendar: CalendarConfig,
    pub health: HealthConfig,
    pub escalation: EscalationConfig,
    pub digest: DigestSettings,
    pub takeover: TakeoverSettings,
    pub telegram: TelegramSettings,
    pub whatsapp: WhatsAppSettings,
}

/// Human takeover: a client's message the bot cannot answer goes to their CSM, and the bot
/// holds that contact's automated touches back while the two talk.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TakeoverSettings {
    /// How long the automation waits after the latest message either way, unless the CSM
    /// hands the contact back sooner.
    pub hours: u32,
}

impl Default for TakeoverSettings {
    fn default() -> Self {
        TakeoverSettings { hours: 48 }
    }
}

impl TakeoverSettings {
    /// The longest pause accepted: a forgotten conversation must not silence a client for good.
    pub const MAX_HOURS: u32 = 24 * 30;

    pub fn duration(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::hours(i64::from(self.hours))
    }
}

/// When the digests go out, read in the team's zone (`escalation.sla.time_zone`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DigestSettings {
    /// The daily digest of non-critical escalations, per CSM.
    pub daily_at: ClockTime,
    /// The weekly team metrics, to each CSM and to the managers.
    pub weekly_day: chrono::Weekday,
    pub weekly_at: ClockTime,
}

impl Default for DigestSettings {
    fn default() -> Self {
        DigestSettings {
            daily_at: ClockTime::hm(9, 0),
            weekly_day: chrono::Weekday::Mon,
            weekly_at: ClockTime::hm(9, 30),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// Usually given as DATABASE_URL; it may hold a password, so it is kept secret.
    #[serde(serialize_with = "skip_secret")]
    pub url: Option<SecretString>,
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: None,
            max_connections: 10,
        }
    }
}

fn skip_secret<S: serde::Serializer>(_: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_none()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub host: String,
    /// 0 picks a free port (tests use that).
    pub port: u16,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            host: "127.0.0.1".into(),
            port: 8080,
        }
    }
}

impl Settings {
    /// Semantic problems as (key path, what to change); empty when the settings are usable.
    fn issues(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.database.max_connections == 0 {
            out.push((
                "database.max_connections".to_string(),
                "must be at least 1".to_string(),
            ));
        }
        if let Err(issues) = self.calendar.validate() {
            out.extend(issues.into_iter().map(|i| (i.path, i.message)));
        }
        out.extend(self.health.validate());
        out.extend(self.escalation.validate());
        if !(1..=TakeoverSettings::MAX_HOURS).contains(&self.takeover.hours) {
            out.push((
                "takeover.hours".to_string(),
                format!(
                    "must be from 1 to {} (30 days); it is how long automated touches wait \
                     while a CSM talks with a client",
                    TakeoverSettings::MAX_HOURS
                ),
            ));
        }
        out.extend(self.telegram.validate());
        out.extend(self.whatsapp.validate());
        let client = self.calendar.client_messages();
        let keys: Vec<&str> = client.iter().map(|(key, _)| key.as_str()).collect();
        out.extend(self.whatsapp.validate_templates(&keys));
        out
    }
}
