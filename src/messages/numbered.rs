//! A message as a registered template's body: each variable becomes `{{1}}`, `{{2}}`… in the
//! order it first appears in that locale's text, and the values to send come out in the same
//! order. `touchbot whatsapp templates` prints the body; a send outside WhatsApp's window
//! passes the values. Both go through [`Messages::numbered`], so what is registered and what
//! is sent cannot drift apart.
//!
//! A variable is rendered as a marker, so a plural select on it (`{ $days_left -> … }`) shows
//! its default variant (`*[other]`): the registered body keeps that wording for every value.

use super::{Messages, MessagesError, Var, Vars, language_of};

/// Private-use characters no translator types.
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbered {
    /// The text with `{{n}}` for each variable.
    pub body: String,
    /// The variables in their numbered order (`{{1}}` first).
    pub order: Vec<Var>,
    /// The values `vars` gives them, in that order, as WhatsApp takes them (no line breaks
    /// or tabs, which Meta refuses in a parameter).
    pub parameters: Vec<String>,
}

fn marker(var: Var) -> String {
    let index = Var::ALL.iter().position(|v| *v == var).unwrap_or(0);
    format!("{OPEN}{index}{CLOSE}")
}

impl Messages {
    /// `key` in `locale` with its variables numbered, and `vars`' values for them.
    pub fn numbered(
        &self,
        locale: &str,
        key: &str,
        vars: &Vars,
    ) -> Result<Numbered, MessagesError> {
        let marked = self.render(locale, key, &vars.placeholders(marker))?;
        let language = language_of(&self.resolve(locale).tag).to_string();
        let mut body = String::with_capacity(marked.len());
        let mut order: Vec<Var> = Vec::new();
        let mut rest = marked.as_str();
        while let Some(start) = rest.find(OPEN) {
            body.push_str(&rest[..start]);
            let after = &rest[start + OPEN.len_utf8()..];
            let end = after.find(CLOSE).unwrap_or(after.len());
            let var = after[..end]
                .parse::<usize>()
                .ok()
                .and_then(|i| Var::ALL.get(i).copied())
                .unwrap_or(Var::Contact);
            let number = match order.iter().position(|v| *v == var) {
                Some(i) => i + 1,
                None => {
                    order.push(var);
                    order.len()
                }
            };
            body.push_str(&format!("{{{{{number}}}}}"));
            rest = after.get(end + CLOSE.len_utf8()..).unwrap_or("");
        }
        body.push_str(rest);
        let parameters = order
            .iter()
            .map(|var| as_parameter(&vars.display(*var, &language).unwrap_or_default()))
            .collect();
        Ok(Numbered {
            body,
            order,
            parameters,
        })
    }
}

/// Meta refuses a parameter with a line break, a tab or more than four spaces in a row.
fn as_parameter(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn renewal_vars() -> Vars {
        Vars::new()
            .contact("Aigerim")
            .account("Steppe Logistics")
            .csm("Dina\nSadykova")
            .days_left(1)
            .renewal_date(NaiveDate::from_ymd_opt(2027, 3, 1).unwrap())
    }

    #[test]
    fn variables_are_numbered_in_order_of_first_appearance_and_repeats_share_a_number() {
        let messages = Messages::load().unwrap();
        let n = messages
            .numbered("en", "renewal-90", &renewal_vars())
            .unwrap();
        assert!(n.body.starts_with("Hi {{1}}, a friendly heads-up: the {{2}} subscription renews on {{3}}, in {{4}} days."), "{}", n.body);
        assert!(n.body.contains("{{5}} will get in touch"), "{}", n.body);
        assert_eq!(
            n.order,
            vec![
                Var::Contact,
                Var::Account,
                Var::RenewalDate,
                Var::DaysLeft,
                Var::Csm
            ]
        );
        assert_eq!(
            n.parameters,
            vec![
                "Aigerim",
                "Steppe Logistics",
                "March 1, 2027",
                "1",
                "Dina Sadykova"
            ]
        );
    }

    #[test]
    fn a_russian_date_parameter_is_written_in_russian() {
        let messages = Messages::load().unwrap();
        let n = messages
            .numbered("ru", "renewal-90", &renewal_vars())
            .unwrap();
        assert!(
            n.parameters.contains(&"1 марта 2027 г.".to_string()),
            "{:?}",
            n.parameters
        );
        assert!(!n.body.contains(OPEN) && !n.body.contains(CLOSE));
    }
}
