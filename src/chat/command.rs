//! Reading a staff command's text. Pure: what was asked, or the usage text that says what to
//! send instead.

use crate::domain::EscalationId;
use crate::escalation::Outcome;

/// The days `/renewals` and `/nps` look over when none are given.
pub const DEFAULT_RENEWAL_DAYS: i64 = 120;
pub const DEFAULT_NPS_DAYS: i64 = 90;
/// The longest period either takes: two years.
pub const MAX_DAYS: i64 = 730;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    /// The portfolio, or one account (a name, part of one, or an id).
    Status(Option<String>),
    AtRisk,
    Renewals {
        days: i64,
    },
    Nps {
        days: i64,
    },
    Mine,
    /// Resolving with an outcome that needs words a button cannot carry (a competitor's name).
    Resolve {
        id: EscalationId,
        outcome: Outcome,
    },
}

/// The commands, one line each, for `/help` and for a command the bot does not know.
pub const HELP: &str = "Commands:\n\
/status — the portfolio: health by category, NPS, renewals, open escalations\n\
/status ACCOUNT — one account in full (part of the name is enough)\n\
/atrisk — red accounts and those with a critical escalation open\n\
/renewals [DAYS] — renewals in the next DAYS days (120 if left out)\n\
/nps [DAYS] — NPS over the last DAYS days (90 if left out), with the detractors\n\
/mine — your own accounts\n\
/resolve ID OUTCOME — resolve escalation #escID, e.g. /resolve 7 churned:competitor:Acme CRM";

const RENEWALS_USAGE: &str = "Usage: /renewals [DAYS], where DAYS is a whole number of days from \
    1 to 730, e.g. /renewals 30. Without it, the next 120 days.";
const NPS_USAGE: &str = "Usage: /nps [DAYS], where DAYS is a whole number of days from 1 to \
    730, e.g. /nps 30. Without it, the last 90 days.";
const RESOLVE_USAGE: &str = "Usage: /resolve ID OUTCOME, e.g. /resolve 7 saved or /resolve 7 \
    churned:competitor:Acme CRM. The ID is the number after #esc on the card. Outcomes: saved, \
    recovered, no_action, other:TEXT, churned:price, churned:service, churned:business_changed, \
    churned:budget, churned:missing_feature:WHICH, churned:competitor:WHICH.";

/// The command name as typed, lower-cased and without the `@botname` Telegram adds in groups;
/// for logs, where only known names are written.
pub fn name(text: &str) -> &'static str {
    let word = text.split_whitespace().next().unwrap_or("");
    let word = word.split('@').next().unwrap_or("");
    match word.trim_start_matches('/').to_ascii_lowercase().as_str() {
        "status" => "/status",
        "atrisk" => "/atrisk",
        "renewals" => "/renewals",
        "nps" => "/nps",
        "mine" => "/mine",
        "resolve" => "/resolve",
        "help" | "start" => "/help",
        _ => "other",
    }
}

/// What `text` asks for, or the text to send back instead (a usage line, or the command list).
pub fn parse(text: &str) -> Result<Command, String> {
    let text = text.trim();
    let (head, rest) = match text.split_once(char::is_whitespace) {
        Some((head, rest)) => (head, rest.trim()),
        None => (text, ""),
    };
    let head = head.split('@').next().unwrap_or("");
    let word = head.trim_start_matches('/').to_lowercase();
    match word.as_str() {
        "help" | "start" => Ok(Command::Help),
        "status" => Ok(Command::Status(
            (!rest.is_empty()).then(|| rest.to_string()),
        )),
        "atrisk" | "at_risk" => no_arguments(rest, "/atrisk", Command::AtRisk),
        "mine" => no_arguments(rest, "/mine", Command::Mine),
        "renewals" => {
            days(rest, DEFAULT_RENEWAL_DAYS, RENEWALS_USAGE).map(|days| Command::Renewals { days })
        }
        "nps" => days(rest, DEFAULT_NPS_DAYS, NPS_USAGE).map(|days| Command::Nps { days }),
        "resolve" => resolve(rest),
        "" => Err(HELP.to_string()),
        other => Err(format!("I don't know /{other}.\n\n{HELP}")),
    }
}

fn no_arguments(rest: &str, name: &str, command: Command) -> Result<Command, String> {
    if rest.is_empty() {
        Ok(command)
    } else {
        Err(format!(
            "{name} takes nothing after it; send just {name}. For one account, send /status \
             ACCOUNT."
        ))
    }
}

fn days(rest: &str, default: i64, usage: &str) -> Result<i64, String> {
    if rest.is_empty() {
        return Ok(default);
    }
    match rest.parse::<i64>() {
        Ok(n) if (1..=MAX_DAYS).contains(&n) => Ok(n),
        _ => Err(format!("'{rest}' is not a number of days. {usage}")),
    }
}

fn resolve(rest: &str) -> Result<Command, String> {
    let (id, outcome) = match rest.split_once(char::is_whitespace) {
        Some((id, outcome)) => (id, outcome.trim()),
        None => (rest, ""),
    };
    let id = id.trim_start_matches("#esc").trim_start_matches('#');
    let Ok(id) = id.parse::<i64>() else {
        return Err(RESOLVE_USAGE.to_string());
    };
    if outcome.is_empty() {
        return Err(RESOLVE_USAGE.to_string());
    }
    let outcome = outcome
        .parse::<Outcome>()
        .map_err(|e| format!("{e}. {RESOLVE_USAGE}"))?;
    Ok(Command::Resolve {
        id: EscalationId(id),
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::ChurnReason;

    #[test]
    fn commands_read_with_or_without_the_bot_name_telegram_adds_in_groups() {
        assert_eq!(parse("/status"), Ok(Command::Status(None)));
        assert_eq!(parse("/status@touch_bot"), Ok(Command::Status(None)));
        assert_eq!(
            parse("/status@touch_bot  North Wind "),
            Ok(Command::Status(Some("North Wind".into())))
        );
        assert_eq!(parse("/ATRISK"), Ok(Command::AtRisk));
        assert_eq!(parse("/mine"), Ok(Command::Mine));
    }

    #[test]
    fn renewals_and_nps_take_an_optional_number_of_days() {
        assert_eq!(parse("/renewals"), Ok(Command::Renewals { days: 120 }));
        assert_eq!(parse("/renewals 30"), Ok(Command::Renewals { days: 30 }));
        assert_eq!(parse("/nps"), Ok(Command::Nps { days: 90 }));
        assert_eq!(parse("/nps@bot 365"), Ok(Command::Nps { days: 365 }));
    }

    #[test]
    fn a_bad_number_of_days_gets_the_usage_with_an_example() {
        for bad in [
            "/renewals abc",
            "/renewals 0",
            "/renewals -5",
            "/renewals 731",
            "/nps 3 4",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("is not a number of days"), "{bad}: {err}");
            assert!(err.contains("Usage: /"), "{bad}: {err}");
            assert!(err.contains("e.g."), "{bad}: {err}");
        }
    }

    #[test]
    fn an_unknown_command_lists_the_known_ones() {
        let err = parse("/statsu").unwrap_err();
        assert!(err.contains("I don't know /statsu"), "{err}");
        assert!(err.contains("/renewals [DAYS]"), "{err}");
    }

    #[test]
    fn a_command_that_takes_nothing_says_so() {
        let err = parse("/atrisk northwind").unwrap_err();
        assert!(err.contains("send just /atrisk"), "{err}");
    }

    #[test]
    fn resolve_takes_the_card_number_and_an_outcome_with_its_words() {
        assert_eq!(
            parse("/resolve #esc7 churned:competitor:Acme CRM"),
            Ok(Command::Resolve {
                id: EscalationId(7),
                outcome: Outcome::Churned(ChurnReason::Competitor("Acme CRM".into())),
            })
        );
        assert!(
            parse("/resolve 7")
                .unwrap_err()
                .starts_with("Usage: /resolve")
        );
        let err = parse("/resolve 7 churned:competitor").unwrap_err();
        assert!(err.contains("competitor's name"), "{err}");
    }

    #[test]
    fn only_known_command_names_reach_the_log() {
        assert_eq!(name("/status@bot Northwind"), "/status");
        assert_eq!(name("/whois Northwind"), "other");
    }
}
