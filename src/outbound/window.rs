//! WhatsApp's 24-hour customer-service window, as the dispatcher applies it to every WhatsApp
//! contact, whichever channel implementation carries the message (the real Cloud API or the
//! demo's simulated one): free text and interactive messages only within 24 hours of the
//! contact's last message; outside it, only a template Meta approved.
//!
//! The values come from `[whatsapp]` (`window_margin_minutes`, `[whatsapp.templates.<key>]`);
//! `config::load` hands them to the dispatcher's settings.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

/// How long after the contact's last message WhatsApp lets a business write freely.
pub const WINDOW_HOURS: i64 = 24;

/// A template the team registered with Meta, as it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRef {
    /// The template's name at Meta.
    pub name: String,
    /// Meta's language code of the translation to send (`en`, `en_US`, `ru`).
    pub language: String,
}

/// One touch template's registration, as `[whatsapp.templates.<key>]` gives it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Registered {
    /// Meta's name; `touchbot_<key>` when not given.
    pub name: Option<String>,
    /// Meta's language code per touchbot locale; the locale itself when not listed.
    pub languages: BTreeMap<String, String>,
}

/// The window rule and the templates that may stand in for free text outside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceWindow {
    /// The window is taken as closed this long before WhatsApp closes it, so a message queued
    /// or retried near the edge does not get refused (131047) on arrival.
    pub margin: TimeDelta,
    /// By message key (`nps`, `welcome`, `renewal-30`): only these go out as templates.
    pub templates: BTreeMap<String, Registered>,
}

impl Default for ServiceWindow {
    fn default() -> Self {
        ServiceWindow {
            margin: TimeDelta::minutes(15),
            templates: BTreeMap::new(),
        }
    }
}

/// Meta's name for the template of a message key when `[whatsapp.templates]` names none:
/// `renewal-30` → `touchbot_renewal_30` (Meta takes lower-case letters, digits and `_`).
pub fn default_template_name(key: &str) -> String {
    let safe: String = key
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("touchbot_{safe}")
}

impl ServiceWindow {
    /// Whether free text may still go to someone who last wrote at `last_inbound`.
    pub fn is_open(&self, last_inbound: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        last_inbound.is_some_and(|at| now < at + TimeDelta::hours(WINDOW_HOURS) - self.margin)
    }

    /// The registered template for a message key in a touchbot locale, if the team has one.
    pub fn template(&self, key: &str, locale: &str) -> Option<TemplateRef> {
        let registered = self.templates.get(key)?;
        Some(TemplateRef {
            name: template_name(key, registered),
            language: registered
                .languages
                .get(locale)
                .cloned()
                .unwrap_or_else(|| locale.to_string()),
        })
    }
}

/// How a touch to a WhatsApp contact goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// Inside the window: free text, with interactive buttons where they fit.
    FreeText,
    Template(TemplateRef),
    /// Neither is allowed: the touch is not sent, for this reason.
    NotSendable(String),
}

impl ServiceWindow {
    /// The send-time decision for a touch whose message key is `key`. `template_only` is set
    /// once WhatsApp refused the free-text form (131047): the window had closed after all.
    pub fn form(
        &self,
        key: &str,
        locale: &str,
        last_inbound: Option<DateTime<Utc>>,
        template_only: bool,
        now: DateTime<Utc>,
    ) -> Form {
        if !template_only && self.is_open(last_inbound, now) {
            return Form::FreeText;
        }
        if let Some(template) = self.template(key, locale) {
            return Form::Template(template);
        }
        Form::NotSendable(if template_only {
            format!(
                "WhatsApp refused it as free text (the 24-hour window had closed) and no \
                 template is configured for '{key}'"
            )
        } else {
            format!("outside WhatsApp's 24-hour window and no template configured for '{key}'")
        })
    }
}

/// The name a key's template has at Meta, registered or not.
pub fn template_name(key: &str, registered: &Registered) -> String {
    registered
        .name
        .clone()
        .unwrap_or_else(|| default_template_name(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, hour, minute, 0).unwrap()
    }

    #[test]
    fn the_window_closes_a_quarter_of_an_hour_before_whatsapps_own() {
        let window = ServiceWindow::default();
        let wrote = Some(at(9, 0));
        let next_day = |h, m| at(h, m) + TimeDelta::days(1);
        assert!(window.is_open(wrote, at(9, 1)));
        assert!(window.is_open(wrote, next_day(8, 44)));
        assert!(!window.is_open(wrote, next_day(8, 45)));
        assert!(!window.is_open(None, at(9, 1)), "never wrote: closed");
    }

    #[test]
    fn a_registered_key_gets_its_default_name_and_the_locale_as_its_language() {
        let mut window = ServiceWindow::default();
        window
            .templates
            .insert("renewal-30".into(), Registered::default());
        window.templates.insert(
            "nps".into(),
            Registered {
                name: Some("nps_survey_v2".into()),
                languages: [("en".to_string(), "en_US".to_string())].into(),
            },
        );
        let renewal = window.template("renewal-30", "ru").unwrap();
        assert_eq!(renewal.name, "touchbot_renewal_30");
        assert_eq!(renewal.language, "ru");
        let nps = window.template("nps", "en").unwrap();
        assert_eq!(
            (nps.name.as_str(), nps.language.as_str()),
            ("nps_survey_v2", "en_US")
        );
        assert_eq!(window.template("welcome", "en"), None);
    }

    #[test]
    fn free_text_inside_the_window_else_the_template_else_a_reason_not_to_send() {
        let mut window = ServiceWindow::default();
        window.templates.insert("nps".into(), Registered::default());
        let wrote = Some(at(9, 0));
        let later = at(10, 0);
        let tomorrow = at(10, 0) + TimeDelta::days(1);
        assert_eq!(
            window.form("nps", "en", wrote, false, later),
            Form::FreeText
        );
        let Form::Template(t) = window.form("nps", "ru", wrote, false, tomorrow) else {
            panic!("expected the template");
        };
        assert_eq!(
            (t.name.as_str(), t.language.as_str()),
            ("touchbot_nps", "ru")
        );
        assert!(matches!(
            window.form("nps", "en", wrote, true, later),
            Form::Template(_)
        ));
        assert_eq!(
            window.form("welcome", "en", None, false, later),
            Form::NotSendable(
                "outside WhatsApp's 24-hour window and no template configured for 'welcome'".into()
            )
        );
        let Form::NotSendable(why) = window.form("welcome", "en", wrote, true, later) else {
            panic!("a refused free text without a template is not sent");
        };
        assert!(why.contains("refused it as free text"), "{why}");
    }
}
