//! The `[whatsapp]` settings. The access token, the phone number id, the app secret and the
//! webhook's verify token are read from the environment only (`WHATSAPP_ACCESS_TOKEN`,
//! `WHATSAPP_PHONE_NUMBER_ID`, `WHATSAPP_APP_SECRET`, `WHATSAPP_VERIFY_TOKEN`), never from the
//! file, and never shown by `Debug` or in logs.

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::telegram::settings::Secret;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WhatsAppSettings {
    /// The Graph API's base with its version; sends go to `{api_url}/{phone_number_id}/messages`.
    pub api_url: String,
    /// How long a send may take before its outcome is taken as unknown (never resent).
    pub request_timeout_seconds: u32,
    /// From WHATSAPP_ACCESS_TOKEN.
    #[serde(skip)]
    pub access_token: Option<Secret>,
    /// From WHATSAPP_PHONE_NUMBER_ID: the sending number's id in the Graph API (not the number).
    #[serde(skip)]
    pub phone_number_id: Option<Secret>,
    /// From WHATSAPP_APP_SECRET, for the webhook's signatures.
    #[serde(skip)]
    pub app_secret: Option<Secret>,
    /// From WHATSAPP_VERIFY_TOKEN, for the webhook's verification.
    #[serde(skip)]
    pub verify_token: Option<Secret>,
}

pub const DEFAULT_API_URL: &str = "https://graph.facebook.com/v21.0";

impl Default for WhatsAppSettings {
    fn default() -> Self {
        WhatsAppSettings {
            api_url: DEFAULT_API_URL.to_string(),
            request_timeout_seconds: 10,
            access_token: None,
            phone_number_id: None,
            app_secret: None,
            verify_token: None,
        }
    }
}

impl WhatsAppSettings {
    /// Reads the four secrets from the environment (blank counts as unset).
    pub fn read_env(&mut self, env: &std::collections::BTreeMap<String, String>) {
        let secret = |var: &str| {
            env.get(var)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(Secret::from)
        };
        self.access_token = secret("WHATSAPP_ACCESS_TOKEN");
        self.phone_number_id = secret("WHATSAPP_PHONE_NUMBER_ID");
        self.app_secret = secret("WHATSAPP_APP_SECRET");
        self.verify_token = secret("WHATSAPP_VERIFY_TOKEN");
    }

    /// Sending is on when both the token and the number's id are set.
    pub fn sends(&self) -> bool {
        self.access_token.is_some() && self.phone_number_id.is_some()
    }

    /// The messages endpoint, with the base's trailing slash dropped.
    pub fn messages_url(&self) -> Option<String> {
        let id = self.phone_number_id.as_ref()?;
        Some(format!(
            "{}/{}/messages",
            self.api_url.trim().trim_end_matches('/'),
            id.0.expose_secret()
        ))
    }

    /// Problems as (key, what to change).
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        match url::Url::parse(self.api_url.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base() => {}
            _ => out.push((
                "whatsapp.api_url".to_string(),
                format!(
                    "'{}' is not an http(s) address; give the Graph API's base with its \
                     version, such as {DEFAULT_API_URL}",
                    self.api_url
                ),
            )),
        }
        if !(1..=120).contains(&self.request_timeout_seconds) {
            out.push((
                "whatsapp.request_timeout_seconds".to_string(),
                "must be between 1 and 120 seconds".to_string(),
            ));
        }
        match (&self.access_token, &self.phone_number_id) {
            (Some(_), None) => out.push((
                "WHATSAPP_PHONE_NUMBER_ID".to_string(),
                "WHATSAPP_ACCESS_TOKEN is set but not the sending number's id; copy it from \
                 the app's WhatsApp > API Setup page"
                    .to_string(),
            )),
            (None, Some(_)) => out.push((
                "WHATSAPP_ACCESS_TOKEN".to_string(),
                "WHATSAPP_PHONE_NUMBER_ID is set but not the access token".to_string(),
            )),
            (Some(_), Some(id)) if !id.0.expose_secret().bytes().all(|b| b.is_ascii_digit()) => out
                .push((
                    "WHATSAPP_PHONE_NUMBER_ID".to_string(),
                    "must be the number's id in the Graph API (digits only), not the phone \
                     number itself"
                        .to_string(),
                )),
            _ => {}
        }
        // The webhook needs both: the token to be subscribed, the secret to trust what comes.
        match (&self.app_secret, &self.verify_token) {
            (Some(_), None) => out.push((
                "WHATSAPP_VERIFY_TOKEN".to_string(),
                "WHATSAPP_APP_SECRET is set but not the verify token: choose one and enter \
                 the same in the app's WhatsApp > Configuration > Webhook"
                    .to_string(),
            )),
            (None, Some(_)) => out.push((
                "WHATSAPP_APP_SECRET".to_string(),
                "WHATSAPP_VERIFY_TOKEN is set but not the app secret, without which no \
                 webhook request can be trusted; copy it from the app's Settings > Basic"
                    .to_string(),
            )),
            _ => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_defaults_are_valid_and_point_at_graph_api_v21() {
        let s = WhatsAppSettings::default();
        assert!(s.validate().is_empty());
        assert_eq!(s.api_url, "https://graph.facebook.com/v21.0");
        assert!(!s.sends());
    }

    #[test]
    fn the_secrets_come_from_the_environment_and_never_show_in_debug_output() {
        let mut s = WhatsAppSettings::default();
        s.read_env(&env(&[
            ("WHATSAPP_ACCESS_TOKEN", "EAAG-very-secret"),
            ("WHATSAPP_PHONE_NUMBER_ID", "1234567890"),
            ("WHATSAPP_APP_SECRET", "app-secret-xyz"),
            ("WHATSAPP_VERIFY_TOKEN", "verify-me-please"),
        ]));
        assert!(s.sends());
        let shown = format!("{s:?}");
        for secret in [
            "very-secret",
            "1234567890",
            "app-secret-xyz",
            "verify-me-please",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert_eq!(
            s.messages_url().unwrap(),
            "https://graph.facebook.com/v21.0/1234567890/messages"
        );
    }

    #[test]
    fn a_token_without_a_number_id_or_a_phone_number_as_the_id_is_refused() {
        let mut s = WhatsAppSettings::default();
        s.read_env(&env(&[("WHATSAPP_ACCESS_TOKEN", "t")]));
        assert_eq!(s.validate()[0].0, "WHATSAPP_PHONE_NUMBER_ID");
        s.read_env(&env(&[
            ("WHATSAPP_ACCESS_TOKEN", "t"),
            ("WHATSAPP_PHONE_NUMBER_ID", "+77011234567"),
        ]));
        assert!(s.validate()[0].1.contains("not the phone number"));
        s.api_url = "graph.facebook.com".into();
        assert!(s.validate().iter().any(|(k, _)| k == "whatsapp.api_url"));
    }

    #[test]
    fn the_webhook_needs_both_its_app_secret_and_its_verify_token() {
        let mut s = WhatsAppSettings::default();
        s.read_env(&env(&[("WHATSAPP_VERIFY_TOKEN", "v")]));
        assert_eq!(s.validate()[0].0, "WHATSAPP_APP_SECRET");
        s.read_env(&env(&[("WHATSAPP_APP_SECRET", "a")]));
        assert_eq!(s.validate()[0].0, "WHATSAPP_VERIFY_TOKEN");
        s.read_env(&env(&[
            ("WHATSAPP_APP_SECRET", "a"),
            ("WHATSAPP_VERIFY_TOKEN", "v"),
        ]));
        assert!(s.validate().is_empty());
    }
}
