//! The `[telegram]` settings. The bot token and the Bot API address are secrets read from the
//! environment only (`TELOXIDE_TOKEN`, `TELOXIDE_API_URL`), never from the file, and never shown
//! by `Debug` or in logs.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use teloxide::Bot;

/// Telegram's own limit for long polling is 50 s, but teloxide's HTTP client gives up on any
/// request after 17 s, so a poll must end well before that.
const MAX_POLL_TIMEOUT: u32 = 15;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramSettings {
    /// The bot's @username without the @, for the join links `touchbot contact add` prints.
    pub bot_username: Option<String>,
    /// How long a join link works.
    pub invite_days: u32,
    /// How long one getUpdates call waits for news, in seconds.
    pub poll_timeout_seconds: u32,
    /// The public HTTPS address Telegram posts updates to. When set, every instance serves
    /// updates at this address's path (on `server.port`) instead of one instance polling.
    pub webhook_url: Option<String>,
    /// How long an instance handling a webhook update holds it: a delivery of the same update
    /// arriving meanwhile is told to come back later, and one after this is handled again
    /// (the instance is taken for dead). Longer than any handling takes.
    pub webhook_claim_seconds: u32,
    /// From TELEGRAM_WEBHOOK_SECRET: Telegram sends it back with every update, and a request
    /// without it is refused.
    #[serde(skip)]
    pub webhook_secret: Option<Secret>,
    /// From TELOXIDE_TOKEN.
    #[serde(skip)]
    pub token: Option<Secret>,
    /// From TELOXIDE_API_URL: another Bot API server (self-hosted, or a test's fake).
    #[serde(skip)]
    pub api_url: Option<Secret>,
}

impl Default for TelegramSettings {
    fn default() -> Self {
        TelegramSettings {
            bot_username: None,
            invite_days: 14,
            poll_timeout_seconds: 10,
            webhook_url: None,
            webhook_claim_seconds: 60,
            webhook_secret: None,
            token: None,
            api_url: None,
        }
    }
}

/// A secret that compares equal to any other: settings are compared in tests by their
/// file-visible parts, and a secret is never part of those.
#[derive(Debug, Clone)]
pub struct Secret(pub SecretString);

impl PartialEq for Secret {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(SecretString::from(value.to_string()))
    }
}

/// Why a bot could not be built from the settings.
#[derive(Debug, thiserror::Error)]
pub enum BotSettingsError {
    #[error(
        "TELOXIDE_API_URL is not a usable address ({0}); give the Bot API server's base, such as http://127.0.0.1:8081"
    )]
    BadApiUrl(String),
}

impl TelegramSettings {
    /// The bot, when a token is configured; pointed at `api_url` when one is given.
    pub fn bot(&self) -> Result<Option<Bot>, BotSettingsError> {
        let Some(token) = &self.token else {
            return Ok(None);
        };
        let bot = Bot::new(token.0.expose_secret());
        let Some(url) = &self.api_url else {
            return Ok(Some(bot));
        };
        // teloxide appends "/bot<token>/<Method>"; a trailing slash would double it.
        let text = url.0.expose_secret().trim().trim_end_matches('/');
        let parsed =
            url::Url::parse(text).map_err(|e| BotSettingsError::BadApiUrl(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.cannot_be_a_base() {
            return Err(BotSettingsError::BadApiUrl(
                "it must be an http or https address".into(),
            ));
        }
        Ok(Some(bot.set_api_url(parsed)))
    }

    /// The deep link that makes Telegram send `/start <code>` from whoever opens it.
    pub fn join_link(&self, code: &str) -> Option<String> {
        self.bot_username
            .as_deref()
            .map(|bot| format!("https://t.me/{bot}?start={code}"))
    }

    /// Problems as (key, what to change).
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(name) = &self.bot_username
            && let Err(why) = check_username(name)
        {
            out.push(("telegram.bot_username".to_string(), why));
        }
        if !(1..=365).contains(&self.invite_days) {
            out.push((
                "telegram.invite_days".to_string(),
                "must be between 1 and 365 days".to_string(),
            ));
        }
        if !(1..=MAX_POLL_TIMEOUT).contains(&self.poll_timeout_seconds) {
            out.push((
                "telegram.poll_timeout_seconds".to_string(),
                format!("must be between 1 and {MAX_POLL_TIMEOUT} seconds"),
            ));
        }
        if let Some(url) = &self.webhook_url
            && let Err(why) = webhook_path(url)
        {
            out.push(("telegram.webhook_url".to_string(), why));
        }
        match (&self.webhook_url, &self.webhook_secret) {
            (Some(_), None) => out.push((
                "telegram.webhook_url".to_string(),
                "webhook mode needs TELEGRAM_WEBHOOK_SECRET (1-256 of A-Za-z0-9_-), so that \
                 only Telegram can post updates"
                    .to_string(),
            )),
            (_, Some(secret)) if !is_webhook_secret(secret.0.expose_secret()) => out.push((
                "TELEGRAM_WEBHOOK_SECRET".to_string(),
                "must be 1-256 of A-Za-z0-9_- (Telegram's rule for a secret token)".to_string(),
            )),
            _ => {}
        }
        out
    }

    /// Webhook mode: the path to serve and the secret to expect, when configured.
    pub fn webhook(&self) -> Option<(String, SecretString)> {
        let url = self.webhook_url.as_deref()?;
        let secret = self.webhook_secret.as_ref()?;
        Some((webhook_path(url).ok()?, secret.0.clone()))
    }
}

/// The path part of the webhook's public address, where the route is served.
fn webhook_path(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url.trim()).map_err(|e| {
        format!("'{url}' is not an address ({e}); give the full https:// address Telegram should post to")
    })?;
    if parsed.scheme() != "https" && parsed.scheme() != "http" {
        return Err(format!("'{url}' must be an https:// address"));
    }
    let path = parsed.path().trim_end_matches('/');
    if path.is_empty() || path == "/healthz" {
        return Err(format!(
            "'{url}' needs a path of its own, such as https://bot.example.com/telegram"
        ));
    }
    Ok(path.to_string())
}

fn is_webhook_secret(secret: &str) -> bool {
    (1..=256).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Telegram's rules for a bot's username: 5-32 of A-Za-z0-9_, ending in "bot".
fn check_username(name: &str) -> Result<(), String> {
    if let Some(bare) = name.strip_prefix('@') {
        return Err(format!("write it without the @: '{bare}'"));
    }
    let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !(5..=32).contains(&name.len()) || !valid_chars {
        return Err(format!(
            "'{name}' is not a Telegram bot username (5-32 letters, digits or _); copy it from BotFather"
        ));
    }
    if !name.to_ascii_lowercase().ends_with("bot") {
        return Err(format!(
            "'{name}' does not end in 'bot', as every bot's username does; copy it from BotFather"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert!(TelegramSettings::default().validate().is_empty());
    }

    #[test]
    fn a_username_with_an_at_sign_or_without_bot_at_the_end_is_refused() {
        let mut s = TelegramSettings {
            bot_username: Some("@acme_cs_bot".into()),
            ..Default::default()
        };
        assert!(s.validate()[0].1.contains("without the @"));
        s.bot_username = Some("acme_cs".into());
        assert!(s.validate()[0].1.contains("end in 'bot'"));
        s.bot_username = Some("acme_cs_bot".into());
        assert!(s.validate().is_empty());
    }

    #[test]
    fn a_poll_longer_than_the_http_client_waits_is_refused() {
        let s = TelegramSettings {
            poll_timeout_seconds: 30,
            ..Default::default()
        };
        assert_eq!(s.validate()[0].0, "telegram.poll_timeout_seconds");
    }

    #[test]
    fn the_join_link_carries_the_code_as_the_start_parameter() {
        let s = TelegramSettings {
            bot_username: Some("acme_cs_bot".into()),
            ..Default::default()
        };
        assert_eq!(
            s.join_link("AbC_12-x").unwrap(),
            "https://t.me/acme_cs_bot?start=AbC_12-x"
        );
        assert_eq!(TelegramSettings::default().join_link("x"), None);
    }

    #[test]
    fn the_api_url_loses_its_trailing_slash_and_must_be_http() {
        let mut s = TelegramSettings {
            token: Some("1:x".into()),
            api_url: Some("http://127.0.0.1:9/".into()),
            ..Default::default()
        };
        let bot = s.bot().unwrap().unwrap();
        assert_eq!(bot.api_url().as_str(), "http://127.0.0.1:9/");
        s.api_url = Some("ftp://example.com".into());
        assert!(s.bot().is_err());
        s.token = None;
        assert!(s.bot().unwrap().is_none());
    }

    #[test]
    fn webhook_mode_needs_a_path_and_a_secret_telegram_accepts() {
        let mut s = TelegramSettings {
            webhook_url: Some("https://bot.example.com/telegram/".into()),
            ..Default::default()
        };
        assert!(s.validate()[0].1.contains("TELEGRAM_WEBHOOK_SECRET"));
        s.webhook_secret = Some("not valid!".into());
        assert_eq!(s.validate()[0].0, "TELEGRAM_WEBHOOK_SECRET");
        s.webhook_secret = Some("s3cret_-X".into());
        assert!(s.validate().is_empty());
        assert_eq!(s.webhook().unwrap().0, "/telegram");
        s.webhook_url = Some("https://bot.example.com".into());
        assert!(s.validate()[0].1.contains("path of its own"));
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let s = TelegramSettings {
            token: Some("123456:very-secret-token".into()),
            ..Default::default()
        };
        assert!(!format!("{s:?}").contains("very-secret"));
    }
}
