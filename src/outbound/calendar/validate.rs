//! Checks that parse cannot make: values that are well-formed but make no sense together.

use super::config::{Anchor, CalendarConfig, RecipientChoice};
use crate::domain::TouchKind;
use std::collections::HashMap;

/// One problem in the `[calendar]` settings: where it is and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// e.g. `calendar.rules[3].every_days`
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

struct Issues(Vec<ConfigIssue>);

impl Issues {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigIssue {
            path: path.into(),
            message: message.into(),
        });
    }
}

impl CalendarConfig {
    /// Every semantic problem at once, so a user can fix the file in one pass.
    pub fn validate(&self) -> Result<(), Vec<ConfigIssue>> {
        let mut issues = Issues(Vec::new());
        self.check_window(&mut issues);
        self.check_months(&mut issues);
        self.check_fatigue(&mut issues);
        self.check_csat(&mut issues);
        for kind in TouchKind::ALL {
            let path = format!("calendar.recipients.{}", kind.as_str());
            check_recipients(*kind, self.recipients.for_kind(*kind), &path, &mut issues);
        }
        self.check_rules(&mut issues);
        if issues.0.is_empty() {
            Ok(())
        } else {
            Err(issues.0)
        }
    }

    fn check_window(&self, issues: &mut Issues) {
        let window = &self.send_window;
        if window.end <= window.start {
            issues.add(
                "calendar.send_window.end",
                format!(
                    "the window ends ({}) before it starts ({}); set `end` later than `start`, \
                     e.g. start = \"10:00\", end = \"19:00\"",
                    String::from(window.end),
                    String::from(window.start)
                ),
            );
        }
        if window.days.is_empty() {
            issues.add(
                "calendar.send_window.days",
                "no sending days are listed; add at least one, e.g. days = [\"Mon\", \"Tue\"]",
            );
        }
        if self.horizon_days == 0 {
            issues.add(
                "calendar.horizon_days",
                "the plan would cover no days; use a positive number such as 365",
            );
        }
    }

    fn check_months(&self, issues: &mut Issues) {
        for (i, month) in self.quiet_months.iter().enumerate() {
            if !(1..=12).contains(month) {
                issues.add(
                    format!("calendar.quiet_months[{i}]"),
                    format!("{month} is not a month; use 1 (January) to 12 (December)"),
                );
            }
        }
        let mut distinct = self.quiet_months.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.iter().filter(|m| (1..=12).contains(*m)).count() == 12 {
            issues.add(
                "calendar.quiet_months",
                "every month is quiet, so touches that avoid quiet months could never be sent; \
                 list only the dead-season months",
            );
        }
    }

    fn check_fatigue(&self, issues: &mut Issues) {
        let fatigue = &self.fatigue;
        if fatigue.max_per_week == 0 {
            issues.add(
                "calendar.fatigue.max_per_week",
                "0 would stop every touch; use at least 1 (the default is 3)",
            );
        }
        let mut seen = Vec::new();
        for (i, kind) in fatigue.priority.iter().enumerate() {
            if seen.contains(kind) {
                issues.add(
                    format!("calendar.fatigue.priority[{i}]"),
                    format!("'{kind}' is listed twice; list each kind once, highest first"),
                );
            }
            seen.push(*kind);
        }
    }

    fn check_csat(&self, issues: &mut Issues) {
        let csat = &self.csat;
        if csat.within_days == 0 {
            issues.add(
                "calendar.csat.within_days",
                "0 leaves no day to ask about a closed ticket; use 1 or more (the default is 7), \
                 or set enabled = false",
            );
        } else if u64::from(csat.delay_minutes) >= u64::from(csat.within_days) * 24 * 60 {
            issues.add(
                "calendar.csat.delay_minutes",
                format!(
                    "a survey waiting {} minutes could never go out within {} days of the closing; \
                     wait less (the default is 60) or raise within_days",
                    csat.delay_minutes, csat.within_days
                ),
            );
        }
        if csat.template.trim().is_empty() {
            issues.add(
                "calendar.csat.template",
                "name the message template of the survey, e.g. \"csat\"",
            );
        }
        if self.recipients.csat.contains(&RecipientChoice::EachContact) {
            issues.add(
                "calendar.recipients.csat",
                "a ticket's survey asks one person; choose roles or [\"rotation\"], not \
                 each_contact",
            );
        }
    }

    fn check_rules(&self, issues: &mut Issues) {
        let mut keys: HashMap<&str, usize> = HashMap::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let at = |field: &str| format!("calendar.rules[{i}].{field}");
            if rule.key.is_empty()
                || !rule
                    .key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                issues.add(
                    at("key"),
                    format!(
                        "'{}' is not a usable key; use letters, digits, '-' and '_' only, \
                         e.g. \"checkin-week-1\"",
                        rule.key
                    ),
                );
            } else if let Some(first) = keys.insert(&rule.key, i) {
                issues.add(
                    at("key"),
                    format!(
                        "'{}' is already the key of calendar.rules[{first}]; give each rule its \
                         own key",
                        rule.key
                    ),
                );
            }
            if rule.template.trim().is_empty() {
                issues.add(at("template"), "name the message template this rule sends");
            }
            match rule.anchor() {
                Err(message) => issues.add(format!("calendar.rules[{i}]"), message),
                Ok(Anchor::Every { from, to, every }) => {
                    if every == 0 {
                        issues.add(
                            at("every_days"),
                            "0 would repeat forever on one day; use 1 or more",
                        );
                    }
                    if to < from {
                        issues.add(
                            at("to_day"),
                            format!(
                                "the range ends (day {to}) before it starts (day {from}); \
                                 swap `from_day` and `to_day`"
                            ),
                        );
                    }
                }
                Ok(_) => {}
            }
            if let Some(choices) = &rule.recipients {
                check_recipients(rule.kind, choices, &at("recipients"), issues);
            }
        }
    }
}

fn check_recipients(kind: TouchKind, choices: &[RecipientChoice], path: &str, issues: &mut Issues) {
    if choices.is_empty() {
        issues.add(path, "list at least one recipient choice");
        return;
    }
    if choices.len() > 1 && choices.iter().any(|c| c.is_exclusive()) {
        issues.add(
            path,
            "each_contact, rotation and csm must stand alone; remove the other choices",
        );
    }
    let to_csm = choices.contains(&RecipientChoice::Csm);
    if kind.is_internal() && !to_csm {
        issues.add(
            path,
            format!("'{kind}' touches are internal reminders; send them to [\"csm\"]"),
        );
    }
    if !kind.is_internal() && to_csm {
        issues.add(
            path,
            format!(
                "'{kind}' touches are written for the client; choose contacts, not the CSM \
                 (internal reminders are the task and renewal_task kinds)"
            ),
        );
    }
}
