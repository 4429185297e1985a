//! The template definitions to submit to Meta, generated from `messages/` (what
//! `touchbot whatsapp templates` prints). The body is the message in its WhatsApp wording with
//! its variables numbered by [`Messages::numbered`], the same function that gives the values at
//! send time, so what is registered and what is sent cannot drift apart.

use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::channel::Button;
use crate::domain::{ChannelKind, TouchId, TouchKind};
use crate::inbound::conversation::channel_key;
use crate::messages::{Messages, Vars};
use crate::outbound::calendar::CalendarConfig;
use crate::outbound::window::default_template_name;

use super::WhatsAppSettings;
use super::channel::quick_replies;

/// Meta's body limit for a template.
const MAX_BODY_LEN: usize = 1024;

/// One template to register, in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// The message key (`nps`, `renewal-30`).
    pub key: String,
    pub name: String,
    pub category: &'static str,
    /// Meta's language code.
    pub language: String,
    /// With `{{1}}`, `{{2}}`…
    pub body: String,
    /// A sample value per parameter, in order: Meta asks for them when a template is submitted.
    pub examples: Vec<String>,
    /// Quick-reply button texts, in order.
    pub buttons: Vec<String>,
    /// Whether `[whatsapp.templates]` lists it, i.e. it is sent outside the window.
    pub configured: bool,
    /// Rules of Meta's the body breaks.
    pub warnings: Vec<String>,
}

/// Check-ins, welcomes and renewals concern the service the client pays for; an NPS survey
/// asks for an opinion, which Meta counts as marketing. Meta may re-categorise either way.
pub fn category(kind: TouchKind) -> &'static str {
    match kind {
        TouchKind::Nps => "MARKETING",
        _ => "UTILITY",
    }
}

/// Sample values, the same variables the renderer gives a touch.
fn samples() -> Vars {
    Vars::new()
        .contact("Aigerim")
        .account("Steppe Logistics")
        .csm("Dina Sadykova")
        .renewal_date(NaiveDate::from_ymd_opt(2027, 3, 1).expect("a date"))
        .days_left(30)
}

/// Every client message's definition in `locale`.
pub fn definitions(
    messages: &Messages,
    calendar: &CalendarConfig,
    settings: &WhatsAppSettings,
    locale: &str,
) -> anyhow::Result<Vec<Definition>> {
    let mut out = Vec::new();
    for (key, kind) in calendar.client_messages() {
        let configured = settings.templates.get(&key);
        let wording = channel_key(messages, ChannelKind::Whatsapp, &key);
        let numbered = messages.numbered(locale, &wording, &samples())?;
        let buttons = messages.buttons_for(kind, TouchId(0), locale)?;
        let buttons: Vec<&Button> = buttons.iter().flatten().collect();
        out.push(Definition {
            name: configured
                .and_then(|t| t.name.clone())
                .unwrap_or_else(|| default_template_name(&key)),
            category: category(kind),
            language: configured
                .and_then(|t| t.languages.get(locale).cloned())
                .unwrap_or_else(|| locale.to_string()),
            warnings: warnings(&numbered.body),
            body: numbered.body,
            examples: numbered.parameters,
            buttons: quick_replies(&buttons)
                .iter()
                .map(|b| b.label.clone())
                .collect(),
            configured: configured.is_some(),
            key,
        });
    }
    Ok(out)
}

/// What Meta refuses in a body: over 1024 characters, a parameter first or last, two
/// parameters with nothing between them.
fn warnings(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let length = body.chars().count();
    if length > MAX_BODY_LEN {
        out.push(format!(
            "the body is {length} characters; Meta takes at most {MAX_BODY_LEN}"
        ));
    }
    let trimmed = body.trim_end_matches(|c: char| c.is_ascii_punctuation() && c != '}');
    if body.starts_with("{{") || trimmed.ends_with("}}") {
        out.push("the body starts or ends with a parameter, which Meta refuses".to_string());
    }
    if body.contains("}}{{") || body.contains("}} {{") {
        out.push("two parameters stand side by side, which Meta refuses".to_string());
    }
    out
}

/// The printout for one locale.
pub fn print(locale: &str, definitions: &[Definition]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Templates for locale {locale}\n");
    for d in definitions {
        let _ = writeln!(out, "{}", d.name);
        let _ = writeln!(out, "  message:   {}", d.key);
        let _ = writeln!(out, "  category:  {}", d.category);
        let _ = writeln!(out, "  language:  {}", d.language);
        let _ = writeln!(out, "  body:");
        for line in d.body.lines() {
            let _ = writeln!(out, "    {line}");
        }
        let examples: Vec<String> = d
            .examples
            .iter()
            .enumerate()
            .map(|(i, e)| format!("{{{{{}}}}} = {e}", i + 1))
            .collect();
        let _ = writeln!(out, "  examples:  {}", none_or(&examples.join("; ")));
        let buttons: Vec<String> = d.buttons.iter().map(|b| format!("[{b}]")).collect();
        let _ = writeln!(out, "  quick replies: {}", none_or(&buttons.join(" ")));
        let status = if d.configured {
            "configured: sent outside the 24-hour window".to_string()
        } else {
            format!(
                "not configured: add [whatsapp.templates.{}] once Meta approves it",
                d.key
            )
        };
        let _ = writeln!(out, "  {status}");
        for w in &d.warnings {
            let _ = writeln!(out, "  warning: {w}");
        }
        out.push('\n');
    }
    out
}

fn none_or(text: &str) -> &str {
    if text.is_empty() { "none" } else { text }
}

/// The notes printed once, after the definitions.
pub const NOTES: &str = "\
Notes:
- Submit each template in WhatsApp Manager (or the Graph API) under the name, category and
  language shown, with the body as printed and the examples as the sample values.
- Meta reviews the category and may re-categorise a UTILITY template as MARKETING (costlier,
  and clients can opt out of marketing).
- A wording that depends on a number (\"1 day\" / \"30 days\") is registered in its general
  form, since the number is only known when sending.
- NPS and CSAT carry no buttons (WhatsApp allows 3 quick replies): the body asks for a typed
  number, which the bot reads.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_s_body_rules_are_pointed_out() {
        assert!(warnings("Hi {{1}}, all fine.").is_empty());
        assert_eq!(warnings("{{1}}, hi").len(), 1);
        assert_eq!(warnings("Hi, it renews on {{1}}.").len(), 1);
        assert_eq!(warnings("Hi {{1}} {{2}}, all fine.").len(), 1);
    }
}
