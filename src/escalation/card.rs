//! The words of every post about an escalation: the card in the CSM chat, the private note to
//! the people on the ladder, the one-line digest entry. Pure, so the texts are tested as text.
//!
//! Staff read these, never clients, and they are written in English for now (staff locales
//! are a later step). Names and the client's words appear here and nowhere in the logs.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::input::HealthState;
use super::ladder::Level;
use super::{Reason, Severity};
use crate::channel::Button;
use crate::domain::EscalationId;

/// What a card shows besides the trigger itself.
#[derive(Debug, Clone)]
pub struct CardFacts<'a> {
    pub id: EscalationId,
    pub account: &'a str,
    pub reason: Reason,
    pub severity: Severity,
    pub evidence: &'a str,
    pub health: &'a HealthState,
    pub renewal: Option<NaiveDate>,
    pub owner: Option<&'a str>,
    pub sla_due: Option<DateTime<Utc>>,
    /// The team's zone, for the SLA deadline.
    pub tz: Tz,
}

pub fn reason_title(reason: Reason) -> &'static str {
    match reason {
        Reason::Detractor => "Detractor NPS",
        Reason::HealthRed => "Health is red",
        Reason::HealthDrop => "Health dropped",
        Reason::UsageDrop => "Usage dropped",
        Reason::CriticalTicket => "Critical ticket overdue",
        Reason::Silence => "Client gone silent",
        Reason::RenewalRisk60 => "Renewal at risk",
        Reason::RenewalNoProgress30 => "Renewal with no progress",
        Reason::SponsorLeft => "Executive sponsor left",
        Reason::ChampionChanged => "Champion changed",
        Reason::Competitor => "Competitor in play",
        Reason::HelpRequested => "Client asked for help",
    }
}

fn severity_mark(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "🔴 CRITICAL",
        Severity::Warning => "🟠 Warning",
        Severity::Info => "🔵 Info",
    }
}

/// "health 42 (red), down 18 in 30 days", or what is known of it.
pub fn health_line(health: &HealthState) -> String {
    let Some(score) = health.score else {
        return "not scored yet".to_string();
    };
    let mut line = format!("{score}");
    if let Some(category) = health.category {
        line.push_str(&format!(" ({})", category.as_str()));
    }
    if let Some((_, earliest)) = health.history.iter().min_by_key(|(at, _)| *at) {
        let change = i32::from(score) - i32::from(*earliest);
        if change > 0 {
            line.push_str(&format!(", up {change} in 30 days"));
        } else if change < 0 {
            line.push_str(&format!(", down {} in 30 days", -change));
        } else {
            line.push_str(", steady over 30 days");
        }
    }
    line
}

/// The card posted to the CSM chat when an escalation opens or gets worse.
pub fn card(facts: &CardFacts<'_>, worse: bool) -> String {
    let headline = if worse { "Worse: " } else { "" };
    let mut text = format!(
        "{} · {}{} · {}\n{}\n\nHealth: {}\nRenewal: {}\nOwner: {}",
        severity_mark(facts.severity),
        headline,
        reason_title(facts.reason),
        facts.account,
        facts.evidence,
        health_line(facts.health),
        facts
            .renewal
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "not set".to_string()),
        facts.owner.unwrap_or("no CSM assigned"),
    );
    if let Some(due) = facts.sla_due {
        text.push_str(&format!(
            "\nFirst response due by {}",
            due.with_timezone(&facts.tz).format("%a %Y-%m-%d %H:%M %Z")
        ));
    }
    text.push_str(&format!("\n#esc{}", facts.id));
    text
}

/// The buttons under a card. The data names the escalation, so a tap is self-describing.
pub fn card_buttons(id: EscalationId) -> Vec<Vec<Button>> {
    let button = |label: &str, action: &str| Button {
        label: label.to_string(),
        data: format!("esc:{id}:{action}"),
    };
    vec![
        vec![button("Take", "take"), button("Contacted", "contacted")],
        vec![
            button("Snooze 1 day", "snooze"),
            button("Resolve", "resolve"),
        ],
    ]
}

/// The private note to the owner that a card went to the team chat.
pub fn owner_note(facts: &CardFacts<'_>) -> String {
    format!(
        "New escalation on {}: {} — {}. The card is in the CSM chat (#esc{}).",
        facts.account,
        reason_title(facts.reason),
        facts.evidence,
        facts.id
    )
}

/// One line of a daily digest.
pub fn digest_entry(facts: &CardFacts<'_>, worse: bool) -> String {
    format!(
        "{}{} · {}: {} (health {}) #esc{}",
        if worse { "worse: " } else { "" },
        facts.account,
        reason_title(facts.reason),
        facts.evidence,
        health_line(facts.health),
        facts.id
    )
}

/// The suggestion that an open escalation's signal went away.
pub fn cleared(account: &str, reason: Reason, id: EscalationId) -> String {
    format!(
        "{} on {} looks resolved: the signal is gone. If the client is fine, resolve #esc{id} \
         and record the outcome.",
        reason_title(reason),
        account
    )
}

/// The ladder climbed to `level` on day `day`.
pub fn ladder_step(
    account: &str,
    reason: Reason,
    id: EscalationId,
    level: Level,
    day: i64,
    people: &[String],
) -> String {
    let who = match level {
        Level::Csm => "the CSM",
        Level::Manager => "the CS manager",
        Level::Vp => "the VP of CS and the executive sponsor",
    };
    let named = if people.is_empty() {
        "No one with that role is on record: add them with `touchbot staff add`.".to_string()
    } else {
        format!("Now involved: {}.", people.join(", "))
    };
    format!(
        "Escalation #esc{id} on {account} ({}) is on day {day} and still open, so it goes to \
         {who}. {named}",
        reason_title(reason)
    )
}

pub fn sla_breach(account: &str, reason: Reason, id: EscalationId, owner: Option<&str>) -> String {
    format!(
        "No first response within the SLA on #esc{id}, {account} ({}). Owner: {}. Take it or \
         mark the client contacted.",
        reason_title(reason),
        owner.unwrap_or("no CSM assigned")
    )
}

pub fn recovered(account: &str, id: EscalationId, from: u8, to: u8) -> String {
    format!("Recovered: {account} answered NPS {to} after the detractor score {from} of #esc{id}.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::input::HealthCategory;
    use chrono::TimeZone;

    fn health(score: u8, history: &[u8]) -> HealthState {
        HealthState {
            score: Some(score),
            category: Some(HealthCategory::Red),
            previous_category: None,
            history: history
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    (
                        Utc.with_ymd_and_hms(2026, 11, 1 + i as u32, 0, 0, 0)
                            .unwrap(),
                        *s,
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn a_card_names_the_account_reason_words_health_renewal_owner_and_deadline() {
        let h = health(42, &[60, 50, 42]);
        let facts = CardFacts {
            id: EscalationId(7),
            account: "Northwind",
            reason: Reason::Detractor,
            severity: Severity::Critical,
            evidence: "NPS 3 from Maria: \"reports time out\"",
            health: &h,
            renewal: NaiveDate::from_ymd_opt(2027, 3, 1),
            owner: Some("Alice"),
            sla_due: Some(Utc.with_ymd_and_hms(2026, 11, 26, 13, 0, 0).unwrap()),
            tz: chrono_tz::Europe::Moscow,
        };
        let text = card(&facts, false);
        for part in [
            "CRITICAL",
            "Detractor NPS",
            "Northwind",
            "reports time out",
            "42 (red), down 18 in 30 days",
            "2027-03-01",
            "Owner: Alice",
            "Thu 2026-11-26 16:00 MSK",
            "#esc7",
        ] {
            assert!(text.contains(part), "{part:?} missing in:\n{text}");
        }
    }

    #[test]
    fn a_card_without_health_or_owner_says_so_plainly() {
        let h = HealthState::default();
        let facts = CardFacts {
            id: EscalationId(1),
            account: "Acme",
            reason: Reason::Silence,
            severity: Severity::Warning,
            evidence: "no reply",
            health: &h,
            renewal: None,
            owner: None,
            sla_due: None,
            tz: Tz::UTC,
        };
        let text = card(&facts, true);
        assert!(text.contains("Worse: Client gone silent"));
        assert!(text.contains("Health: not scored yet"));
        assert!(text.contains("Renewal: not set"));
        assert!(text.contains("no CSM assigned"));
    }

    #[test]
    fn card_buttons_fit_telegram_callback_data() {
        let rows = card_buttons(EscalationId(i64::MAX));
        let all: Vec<_> = rows.iter().flatten().collect();
        assert_eq!(all.len(), 4);
        assert!(all.iter().all(|b| b.data.len() <= 64));
        assert!(all[0].data.ends_with(":take"));
    }

    #[test]
    fn a_ladder_step_without_people_tells_how_to_add_them() {
        let text = ladder_step(
            "Acme",
            Reason::HealthRed,
            EscalationId(3),
            Level::Vp,
            15,
            &[],
        );
        assert!(text.contains("day 15"));
        assert!(text.contains("VP of CS"));
        assert!(text.contains("touchbot staff add"));
    }
}
