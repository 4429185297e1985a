//! The demo's story, collected as events and printed in time order, a month at a time.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::channel::OutboundMessage;
use crate::inbound::{Answer, CheckinAnswer, NpsCategory};

pub struct Timeline {
    verbose: bool,
    events: Vec<(DateTime<Utc>, u32, String)>,
    seq: u32,
}

/// A touch's template, in words.
fn describe(template: &str) -> String {
    let days = |s: &str| s.rsplit('-').next().unwrap_or("").to_string();
    match template {
        "welcome" => "welcome".into(),
        "checkin" => "check-in".into(),
        "nps" => "NPS survey".into(),
        "csat" => "CSAT survey".into(),
        "qbr" => "QBR invitation".into(),
        "checkpoint-30" => "day-30 checkpoint".into(),
        "review-90" => "day-90 results review".into(),
        t if t.starts_with("checkin-week-") => format!("onboarding check-in, week {}", days(t)),
        t if t.starts_with("renewal-") => format!("renewal notice, {} days out", days(t)),
        "task-checkpoint-30" => "task: prepare the day-30 checkpoint".into(),
        "task-review-90" => "task: prepare the day-90 results review".into(),
        t if t.starts_with("task-renewal-") => {
            format!("task: renewal in {} days", days(t))
        }
        other => other.to_string(),
    }
}

fn summarise(answer: &Answer) -> String {
    match answer {
        Answer::Nps { score, .. } => format!(
            "NPS {score}, {}",
            match NpsCategory::of(*score) {
                NpsCategory::Promoter => "promoter",
                NpsCategory::Passive => "passive",
                NpsCategory::Detractor => "detractor",
            }
        ),
        Answer::Csat { score } => format!("CSAT {score}"),
        Answer::Checkin { choice } => match choice {
            CheckinAnswer::Good => "all good".into(),
            CheckinAnswer::Help => "asks for help: passed to the CSM".into(),
            CheckinAnswer::Manager => "asks for their manager: passed to the CSM".into(),
        },
        Answer::NpsComment { score, .. } => format!("the reason for their {score}, kept with it"),
        Answer::OptOut => "opted out of surveys and check-ins (renewal notices continue)".into(),
        Answer::OptIn { .. } => "opted back in".into(),
        Answer::FreeText => "free text: forwarded to the CSM".into(),
        Answer::Relayed => "said to the CSM during their conversation: passed on".into(),
        Answer::Unclear => "not a score: asked again".into(),
        Answer::AlreadyAnswered => "already answered: ignored".into(),
        Answer::StaleButton => "an old button: ignored".into(),
    }
}

fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_string()
    }
}

impl Timeline {
    pub fn new(verbose: bool) -> Self {
        Timeline {
            verbose,
            events: Vec::new(),
            seq: 0,
        }
    }

    fn push(&mut self, at: DateTime<Utc>, line: String) {
        self.seq += 1;
        self.events.push((at, self.seq, line));
    }

    pub fn sent(
        &mut self,
        at: DateTime<Utc>,
        tz: &str,
        account: &str,
        who: &str,
        template: &str,
        message: &OutboundMessage,
    ) {
        let local = tz
            .parse::<Tz>()
            .map(|z| at.with_timezone(&z).format("%H:%M").to_string())
            .unwrap_or_default();
        let mut line = format!("{account}: → {who}: {}  [{local} {tz}]", describe(template));
        if let Some(t) = &message.template {
            // The contact had not written for a day: WhatsApp takes only the approved template.
            line.push_str(&format!(" as template {}", t.name));
        }
        if self.verbose {
            line.push_str(&format!("\n      «{}»", first_line(&message.text, 90)));
        }
        self.push(at, line);
    }

    pub fn reply(&mut self, at: DateTime<Utc>, account: &str, who: &str, text: &str, a: &Answer) {
        self.push(
            at,
            format!(
                "{account}: ← {who}: \"{}\" ({})",
                first_line(text, 60),
                summarise(a)
            ),
        );
    }

    pub fn bot_answer(&mut self, at: DateTime<Utc>, account: &str, who: &str, text: &str) {
        if self.verbose {
            self.push(
                at,
                format!(
                    "{account}: → {who} (bot's answer): «{}»",
                    first_line(text, 80)
                ),
            );
        }
    }

    pub fn note(&mut self, at: DateTime<Utc>, text: &str) {
        self.push(at, format!("!! {text}"));
    }

    pub fn render(&mut self) -> String {
        self.events.sort_by_key(|(at, seq, _)| (*at, *seq));
        let mut out = String::new();
        let mut month = String::new();
        for (at, _, line) in &self.events {
            let m = at.format("%B %Y").to_string();
            if m != month {
                out.push_str(&format!("\n── {m} ──\n"));
                month = m;
            }
            out.push_str(&format!("{}  {line}\n", at.format("%a %d")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_read_as_plain_words() {
        assert_eq!(describe("checkin-week-2"), "onboarding check-in, week 2");
        assert_eq!(describe("renewal-90"), "renewal notice, 90 days out");
        assert_eq!(describe("task-renewal-120"), "task: renewal in 120 days");
    }

    #[test]
    fn events_print_in_time_order_under_month_headings() {
        let mut t = Timeline::new(false);
        let late = "2027-02-01T10:00:00Z".parse().unwrap();
        let early = "2027-01-05T10:00:00Z".parse().unwrap();
        t.note(late, "second");
        t.note(early, "first");
        let out = t.render();
        let first = out.find("first").unwrap();
        let second = out.find("second").unwrap();
        assert!(first < second);
        assert!(out.contains("── January 2027 ──"));
    }
}
