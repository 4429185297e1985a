//! What the bot says, in every language it speaks.
//!
//! Texts live in `messages/<locale>.ftl` (Fluent), embedded in the binary so it runs from any
//! directory. Everything that can be wrong with them is found by [`Messages::load`] at start-up:
//! a syntax error (with file and line), a key missing from one locale, a template using a
//! variable its caller never supplies. Sending a touch then cannot fail on a template.

mod buttons;
mod check;
mod keys;
mod numbered;
mod vars;

use std::collections::{BTreeMap, BTreeSet};

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentError, FluentResource};
use unic_langid::LanguageIdentifier;

pub use keys::{COMMON_VARS, allowed_vars, required_keys};
pub use numbered::Numbered;
pub use vars::{Var, Vars};

/// The locale used when a contact's own is unknown or not translated.
pub const FALLBACK_LOCALE: &str = "en";

/// The embedded template files, as (locale, text).
const EMBEDDED: &[(&str, &str)] = &[
    ("en", include_str!("../../messages/en.ftl")),
    ("ru", include_str!("../../messages/ru.ftl")),
];

/// One thing wrong with the template files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateProblem {
    #[error("messages/{locale}.ftl line {line}: {detail}")]
    Syntax {
        locale: String,
        line: usize,
        detail: String,
    },
    #[error("messages/{locale}.ftl: '{key}' is defined more than once; keep one")]
    Duplicate { locale: String, key: String },
    #[error("messages/{locale}.ftl has no '{key}'; add it (every locale needs every message)")]
    MissingKey { locale: String, key: String },
    #[error(
        "messages/{locale}.ftl: '{key}' uses {{ ${var} }}, which that message is not given; it may use: {allowed}"
    )]
    UnknownVariable {
        locale: String,
        key: String,
        var: String,
        allowed: String,
    },
    #[error("there is no messages/{FALLBACK_LOCALE}.ftl; it is the fallback and must exist")]
    NoFallback,
    #[error("'{locale}' is not a valid language tag for a template file")]
    BadLocale { locale: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessagesError {
    #[error("the message templates have {} problem(s):\n{}", .0.len(), list(.0))]
    Invalid(Vec<TemplateProblem>),
    #[error("no message '{key}' exists; add it to every messages/*.ftl")]
    UnknownKey { key: String },
    #[error("message '{key}' ({locale}) could not be rendered: {detail}")]
    Render {
        locale: String,
        key: String,
        detail: String,
    },
}

fn list(problems: &[TemplateProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

struct Locale {
    tag: String,
    bundle: FluentBundle<FluentResource>,
}

/// The loaded, checked templates of every locale. Cheap to share (`Send + Sync`).
pub struct Messages {
    /// The fallback locale first.
    locales: Vec<Locale>,
}

impl std::fmt::Debug for Messages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messages")
            .field("locales", &self.locales())
            .finish()
    }
}

impl Messages {
    /// Loads the embedded locales and checks them against [`required_keys`].
    pub fn load() -> Result<Messages, MessagesError> {
        Messages::from_sources(EMBEDDED)
    }

    /// Loads templates from (locale, ftl text) pairs with the same checks as [`Messages::load`];
    /// tests use it to feed deliberately broken files.
    pub fn from_sources(sources: &[(&str, &str)]) -> Result<Messages, MessagesError> {
        let required: Vec<&str> = required_keys().collect();
        Messages::build(sources, &required)
    }

    fn build(sources: &[(&str, &str)], required: &[&str]) -> Result<Messages, MessagesError> {
        let mut problems = Vec::new();
        let mut locales = Vec::new();
        // key → its variables, per locale, for the cross-locale checks below.
        let mut defined: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();

        for (tag, text) in sources {
            let langid: LanguageIdentifier = match tag.parse() {
                Ok(id) => id,
                Err(_) => {
                    problems.push(TemplateProblem::BadLocale {
                        locale: tag.to_string(),
                    });
                    continue;
                }
            };
            let resource = match FluentResource::try_new(text.to_string()) {
                Ok(resource) => resource,
                Err((resource, errors)) => {
                    for error in errors {
                        // The start of the broken entry, where a reader should look, rather
                        // than where the parser finally gave up on it.
                        let at = error.slice.as_ref().map_or(error.pos.start, |s| s.start);
                        problems.push(TemplateProblem::Syntax {
                            locale: tag.to_string(),
                            line: check::line_of(text, at),
                            detail: error.kind.to_string(),
                        });
                    }
                    resource
                }
            };
            let keys = defined.entry(tag.to_string()).or_default();
            for (key, vars) in check::message_variables(&resource) {
                keys.insert(key, vars);
            }

            let mut bundle = FluentBundle::new_concurrent(vec![langid]);
            // Chat clients would show the invisible bidi marks Fluent adds around variables.
            bundle.set_use_isolating(false);
            if let Err(errors) = bundle.add_resource(resource) {
                for error in errors {
                    if let FluentError::Overriding { id, .. } = error {
                        problems.push(TemplateProblem::Duplicate {
                            locale: tag.to_string(),
                            key: id,
                        });
                    }
                }
            }
            locales.push(Locale {
                tag: tag.to_string(),
                bundle,
            });
        }

        if !locales.iter().any(|l| l.tag == FALLBACK_LOCALE) {
            problems.push(TemplateProblem::NoFallback);
        }
        problems.extend(missing_keys(&defined, required));
        problems.extend(unknown_variables(&defined));
        if !problems.is_empty() {
            return Err(MessagesError::Invalid(problems));
        }

        locales.sort_by_key(|l| l.tag != FALLBACK_LOCALE);
        Ok(Messages { locales })
    }

    /// Checks that every key exists in every locale, e.g. the template names a calendar uses.
    pub fn check_templates(&self, keys: &[&str]) -> Result<(), MessagesError> {
        let problems: Vec<_> = self
            .locales
            .iter()
            .flat_map(|locale| {
                keys.iter()
                    .filter(|key| !locale.bundle.has_message(key))
                    .map(|key| TemplateProblem::MissingKey {
                        locale: locale.tag.clone(),
                        key: key.to_string(),
                    })
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(MessagesError::Invalid(problems))
        }
    }

    /// Renders `key` in `locale` (or its language, or English when that is not translated).
    pub fn render(&self, locale: &str, key: &str, vars: &Vars) -> Result<String, MessagesError> {
        let locale = self.resolve(locale);
        let message = locale
            .bundle
            .get_message(key)
            .ok_or_else(|| MessagesError::UnknownKey {
                key: key.to_string(),
            })?;
        let pattern = message.value().ok_or_else(|| MessagesError::Render {
            locale: locale.tag.clone(),
            key: key.to_string(),
            detail: "the message has no text of its own, only attributes".to_string(),
        })?;
        let args = vars.to_args(language_of(&locale.tag));
        let mut errors = Vec::new();
        let text = locale
            .bundle
            .format_pattern(pattern, Some(&args), &mut errors);
        if !errors.is_empty() {
            let detail = errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            return Err(MessagesError::Render {
                locale: locale.tag.clone(),
                key: key.to_string(),
                detail,
            });
        }
        Ok(text.into_owned())
    }

    /// The loaded locales, the fallback first.
    pub fn locales(&self) -> Vec<&str> {
        self.locales.iter().map(|l| l.tag.as_str()).collect()
    }

    /// Exact tag, then its language ("ru-KZ" → "ru"), then the fallback.
    fn resolve(&self, wanted: &str) -> &Locale {
        let wanted = wanted.trim().replace('_', "-").to_ascii_lowercase();
        let language = language_of(&wanted);
        self.locales
            .iter()
            .find(|l| l.tag.eq_ignore_ascii_case(&wanted))
            .or_else(|| {
                self.locales
                    .iter()
                    .find(|l| l.tag.eq_ignore_ascii_case(language))
            })
            .unwrap_or(&self.locales[0])
    }
}

fn language_of(tag: &str) -> &str {
    tag.split('-').next().unwrap_or(tag)
}

type Defined = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// Required keys absent from a locale, and keys one locale has that another lacks.
fn missing_keys(defined: &Defined, required: &[&str]) -> Vec<TemplateProblem> {
    let mut every_key: BTreeSet<&str> = required.iter().copied().collect();
    for keys in defined.values() {
        every_key.extend(keys.keys().map(String::as_str));
    }
    defined
        .iter()
        .flat_map(|(locale, keys)| {
            every_key
                .iter()
                .filter(|key| !keys.contains_key(**key))
                .map(|key| TemplateProblem::MissingKey {
                    locale: locale.clone(),
                    key: key.to_string(),
                })
        })
        .collect()
}

fn unknown_variables(defined: &Defined) -> Vec<TemplateProblem> {
    let mut problems = Vec::new();
    for (locale, keys) in defined {
        for (key, vars) in keys {
            let allowed = allowed_vars(key);
            for var in vars {
                if !Var::from_name(var).is_some_and(|v| allowed.contains(&v)) {
                    problems.push(TemplateProblem::UnknownVariable {
                        locale: locale.clone(),
                        key: key.clone(),
                        var: var.clone(),
                        allowed: allowed
                            .iter()
                            .map(|v| format!("${}", v.name()))
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests;
