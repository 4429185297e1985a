//! The variables a template can use, and the values a caller passes for one rendering.

use chrono::{Datelike, NaiveDate};
use fluent_bundle::{FluentArgs, FluentValue};

/// A variable a template may reference as `{ $name }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Var {
    /// The contact's first name.
    Contact,
    /// The account (client company) name.
    Account,
    /// The CSM's name.
    Csm,
    DaysLeft,
    RenewalDate,
    Week,
    Score,
    Link,
    /// A WhatsApp template's name at Meta, and the message key it stands for (staff posts).
    TemplateName,
    TemplateKey,
}

impl Var {
    pub const ALL: &'static [Var] = &[
        Var::Contact,
        Var::Account,
        Var::Csm,
        Var::DaysLeft,
        Var::RenewalDate,
        Var::Week,
        Var::Score,
        Var::Link,
        Var::TemplateName,
        Var::TemplateKey,
    ];

    /// The name used in `.ftl` files.
    pub fn name(self) -> &'static str {
        match self {
            Var::Contact => "contact",
            Var::Account => "account",
            Var::Csm => "csm",
            Var::DaysLeft => "days_left",
            Var::RenewalDate => "renewal_date",
            Var::Week => "week",
            Var::Score => "score",
            Var::Link => "link",
            Var::TemplateName => "template",
            Var::TemplateKey => "template_key",
        }
    }

    pub fn from_name(name: &str) -> Option<Var> {
        Var::ALL.iter().copied().find(|v| v.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    /// Numbers stay numbers so plural selectors (`[one]`, `[few]`, `[many]`) work.
    Number(i64),
    /// Dates are written in the words of the locale being rendered.
    Date(NaiveDate),
}

/// The values for one rendering, built with the typed setters:
/// `Vars::new().contact("Aigerim").days_left(7)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vars {
    values: Vec<(Var, Value)>,
}

impl Vars {
    pub fn new() -> Vars {
        Vars::default()
    }

    fn set(mut self, var: Var, value: Value) -> Vars {
        self.values.retain(|(v, _)| *v != var);
        self.values.push((var, value));
        self
    }

    pub fn contact(self, first_name: impl Into<String>) -> Vars {
        self.set(Var::Contact, Value::Text(first_name.into()))
    }

    pub fn account(self, name: impl Into<String>) -> Vars {
        self.set(Var::Account, Value::Text(name.into()))
    }

    pub fn csm(self, name: impl Into<String>) -> Vars {
        self.set(Var::Csm, Value::Text(name.into()))
    }

    pub fn days_left(self, days: i64) -> Vars {
        self.set(Var::DaysLeft, Value::Number(days))
    }

    pub fn renewal_date(self, date: NaiveDate) -> Vars {
        self.set(Var::RenewalDate, Value::Date(date))
    }

    pub fn week(self, week: u32) -> Vars {
        self.set(Var::Week, Value::Number(i64::from(week)))
    }

    pub fn score(self, score: u8) -> Vars {
        self.set(Var::Score, Value::Number(i64::from(score)))
    }

    pub fn link(self, url: impl Into<String>) -> Vars {
        self.set(Var::Link, Value::Text(url.into()))
    }

    pub fn template(self, name: impl Into<String>, key: impl Into<String>) -> Vars {
        self.set(Var::TemplateName, Value::Text(name.into()))
            .set(Var::TemplateKey, Value::Text(key.into()))
    }

    /// The same variables, each standing in as `marker(var)`: a number becomes text too, so
    /// a plural select shows its default variant.
    pub(super) fn placeholders(&self, marker: impl Fn(Var) -> String) -> Vars {
        Vars {
            values: self
                .values
                .iter()
                .map(|(var, _)| (*var, Value::Text(marker(*var))))
                .collect(),
        }
    }

    /// A variable's value as text, as a render in `language` writes it.
    pub(super) fn display(&self, var: Var, language: &str) -> Option<String> {
        let (_, value) = self.values.iter().find(|(v, _)| *v == var)?;
        Some(match value {
            Value::Text(text) => text.clone(),
            Value::Number(n) => n.to_string(),
            Value::Date(date) => format_date(*date, language),
        })
    }

    /// Which variables were given, so a render can tell a missing one from a typo.
    pub fn given(&self) -> impl Iterator<Item = Var> + '_ {
        self.values.iter().map(|(v, _)| *v)
    }

    pub(super) fn to_args(&self, language: &str) -> FluentArgs<'static> {
        let mut args = FluentArgs::new();
        for (var, value) in &self.values {
            let value = match value {
                Value::Text(text) => FluentValue::from(text.clone()),
                Value::Number(n) => FluentValue::from(*n),
                Value::Date(date) => FluentValue::from(format_date(*date, language)),
            };
            args.set(var.name(), value);
        }
        args
    }
}

/// "March 1, 2027" / "1 марта 2027 г.": a long date reads better in chat than an ISO one.
fn format_date(date: NaiveDate, language: &str) -> String {
    // Genitive case: "1 марта", not "1 март".
    const RU: [&str; 12] = [
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ];
    let month = date.month0() as usize;
    match language {
        "ru" => format!("{} {} {} г.", date.day(), RU[month], date.year()),
        _ => format!("{} {}", date.format("%B"), date.format("%-d, %Y")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_name_maps_back_to_itself() {
        for var in Var::ALL {
            assert_eq!(Var::from_name(var.name()), Some(*var));
        }
        assert_eq!(Var::from_name("first_name"), None);
    }

    #[test]
    fn a_renewal_date_is_written_in_the_readers_language() {
        let date = NaiveDate::from_ymd_opt(2027, 3, 1).unwrap();
        assert_eq!(format_date(date, "en"), "March 1, 2027");
        assert_eq!(format_date(date, "ru"), "1 марта 2027 г.");
    }

    #[test]
    fn setting_a_variable_twice_keeps_the_last_value() {
        let vars = Vars::new().contact("Anna").contact("Dana");
        assert_eq!(vars.given().count(), 1);
        let args = vars.to_args("en");
        assert_eq!(args.get("contact"), Some(&FluentValue::from("Dana")));
    }
}
