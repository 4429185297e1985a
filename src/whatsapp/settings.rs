//! The `[whatsapp]` settings. The access token, the phone number id, the app secret and the
//! webhook's verify token are read from the environment only (`WHATSAPP_ACCESS_TOKEN`,
//! `WHATSAPP_PHONE_NUMBER_ID`, `WHATSAPP_APP_SECRET`, `WHATSAPP_VERIFY_TOKEN`), never from the
//! file, and never shown by `Debug` or in logs.

use std::collections::BTreeMap;

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::outbound::window::{Registered, ServiceWindow};
use crate::telegram::settings::Secret;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WhatsAppSettings {
    /// The Graph API's base with its version; sends go to `{api_url}/{phone_number_id}/messages`.
    pub api_url: String,
    /// How long a send may take before its outcome is taken as unknown (never resent).
    pub request_timeout_seconds: u32,
    /// Free text stops this many minutes before WhatsApp's 24-hour window closes.
    pub window_margin_minutes: u32,
    /// The templates Meta approved, by message key (`nps`, `welcome`, `renewal-30`). A key
    /// not listed has no template: outside the window its touches are skipped.
    pub templates: BTreeMap<String, TemplateSettings>,
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

/// `[whatsapp.templates.<key>]`: one message's template at Meta.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TemplateSettings {
    /// Its name at Meta; `touchbot_<key>` (with `_` for `-`) when not given.
    pub name: Option<String>,
    /// Meta's language code per touchbot locale (`en = "en_US"`); the locale when not listed.
    pub languages: BTreeMap<String, String>,
}

pub const DEFAULT_API_URL: &str = "https://graph.facebook.com/v21.0";

/// The longest safety margin taken off the 24-hour window.
const MAX_MARGIN_MINUTES: u32 = 12 * 60;

impl Default for WhatsAppSettings {
    fn default() -> Self {
        WhatsAppSettings {
            api_url: DEFAULT_API_URL.to_string(),
            request_timeout_seconds: 10,
            window_margin_minutes: 15,
            templates: BTreeMap::new(),
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

    /// The window rule and the templates, as the dispatcher applies them.
    pub fn window(&self) -> ServiceWindow {
        ServiceWindow {
            margin: chrono::TimeDelta::minutes(i64::from(self.window_margin_minutes)),
            templates: self
                .templates
                .iter()
                .map(|(key, t)| {
                    let registered = Registered {
                        name: t.name.as_ref().map(|n| n.trim().to_string()),
                        languages: t.languages.clone(),
                    };
                    (key.clone(), registered)
                })
                .collect(),
        }
    }

    /// Problems with `[whatsapp.templates]`, given the message keys of the client touches.
    pub fn validate_templates(&self, client_keys: &[&str]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (key, template) in &self.templates {
            let at = |field: &str| format!("whatsapp.templates.{key}{field}");
            if !client_keys.contains(&key.as_str()) {
                out.push((
                    at(""),
                    format!(
                        "'{key}' is not the message of a client touch in the calendar; use one \
                         of: {}",
                        client_keys.join(", ")
                    ),
                ));
            }
            if let Some(name) = &template.name {
                let name = name.trim();
                let fine = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
                if name.is_empty() || name.len() > 512 || !name.chars().all(fine) {
                    out.push((
                        at(".name"),
                        format!(
                            "'{name}' cannot be a template name at Meta: use lower-case \
                             letters, digits and '_' (as `touchbot whatsapp templates` prints it)"
                        ),
                    ));
                }
            }
            for (locale, code) in &template.languages {
                if !is_language_code(code) {
                    out.push((
                        at(&format!(".languages.{locale}")),
                        format!(
                            "'{code}' is not a language code Meta uses; write it like \
                             \"en\", \"en_US\" or \"ru\""
                        ),
                    ));
                }
            }
        }
        out
    }

    /// Problems as (key, what to change).
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.window_margin_minutes > MAX_MARGIN_MINUTES {
            out.push((
                "whatsapp.window_margin_minutes".to_string(),
                format!(
                    "must be at most {MAX_MARGIN_MINUTES} (12 hours); it is how long before \
                     WhatsApp's 24-hour window closes that free text stops"
                ),
            ));
        }
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

/// `en`, `ru`, `en_US`, `pt_BR`: a language, maybe with a region.
fn is_language_code(code: &str) -> bool {
    let (language, region) = code.split_once('_').unwrap_or((code, ""));
    (2..=3).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_lowercase())
        && (region.is_empty()
            || (region.len() == 2 && region.chars().all(|c| c.is_ascii_uppercase())))
        && !code.ends_with('_')
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
    fn templates_are_checked_for_a_known_message_a_meta_name_and_language_codes() {
        let s: WhatsAppSettings = toml::from_str(
            "[templates.nps]\nname = \"NPS Survey\"\n[templates.nps.languages]\nen = \"english\"\n\
             [templates.welcom]\n",
        )
        .unwrap();
        let issues = s.validate_templates(&["nps", "welcome"]);
        let keys: Vec<&str> = issues.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "whatsapp.templates.nps.name",
                "whatsapp.templates.nps.languages.en",
                "whatsapp.templates.welcom"
            ]
        );
        assert!(issues[2].1.contains("nps, welcome"), "{}", issues[2].1);
    }

    #[test]
    fn the_window_rule_takes_the_margin_and_the_registered_templates() {
        let s: WhatsAppSettings = toml::from_str(
            "window_margin_minutes = 30\n[templates.renewal-30]\n[templates.nps]\nname = \"nps_v2\"\n",
        )
        .unwrap();
        let window = s.window();
        assert_eq!(window.margin, chrono::TimeDelta::minutes(30));
        assert_eq!(
            window.template("renewal-30", "ru").unwrap().name,
            "touchbot_renewal_30"
        );
        assert_eq!(window.template("nps", "en").unwrap().name, "nps_v2");
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
