//! What a contact meant: a score, a check-in answer, a request to stop, or free text.
//!
//! Pure and total: any text goes in, one [`ParsedReply`] comes out. The rules lean towards
//! asking again rather than guessing, because a misread score is worse than a second question:
//! a phantom detractor escalates to a manager, a phantom promoter hides a problem.
//!
//! Scores. A reply counts as a score only when the score *leads* the message:
//! - digits: `8`, ` 8 `, `8/10`, `8 из 10`, `8 out of 10`, `8 баллов`, `10!!!`, optionally
//!   followed by a comment: `8 — всё хорошо`, `9, great support`, `9 great support`;
//! - a number word (English or Russian, `zero`…`ten`, `ноль`…`десять`) alone or followed by
//!   punctuation or a scale: `Ten`, `восемь — норм`, `eight/10`. A word followed directly by
//!   more words is not a score: "one thing bothers me" is a sentence, not a 1.
//!
//! Not scores (→ [`ParsedReply::Unclear`] when a score was expected): out of range (`11`,
//! `85`, `0` for CSAT), negative or decimal (`-1`, `8.5`), another scale (`4/5` for NPS), a
//! comment that itself starts with a number (`8 9`), and a number inside a sentence
//! (`I'd give it an 8 maybe`): embedded numbers are too often durations or counts ("it took
//! 3 weeks"), so the contact is asked once more for a plain number instead.

use std::ops::RangeInclusive;

/// What the conversation is waiting for, given the last touch sent to the contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expecting {
    Nps,
    Csat,
    Checkin,
    Nothing,
}

/// A survey scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// 0-10, "how likely are you to recommend us".
    Nps,
    /// 1-5 after a support request.
    Csat,
}

impl Scale {
    pub fn range(self) -> RangeInclusive<u8> {
        match self {
            Scale::Nps => 0..=10,
            Scale::Csat => 1..=5,
        }
    }

    fn max(self) -> u8 {
        *self.range().end()
    }
}

/// The three quick replies to a check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckinAnswer {
    Good,
    Help,
    Manager,
}

impl CheckinAnswer {
    pub const ALL: &'static [CheckinAnswer] = &[
        CheckinAnswer::Good,
        CheckinAnswer::Help,
        CheckinAnswer::Manager,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckinAnswer::Good => "good",
            CheckinAnswer::Help => "help",
            CheckinAnswer::Manager => "manager",
        }
    }

    pub fn from_str_exact(s: &str) -> Option<CheckinAnswer> {
        CheckinAnswer::ALL.iter().copied().find(|a| a.as_str() == s)
    }

    /// The message key of its button label.
    pub fn label_key(self) -> &'static str {
        match self {
            CheckinAnswer::Good => "checkin-reply-good",
            CheckinAnswer::Help => "checkin-reply-help",
            CheckinAnswer::Manager => "checkin-reply-manager",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedReply {
    Nps {
        score: u8,
        comment: Option<String>,
    },
    Csat {
        score: u8,
        comment: Option<String>,
    },
    Checkin(CheckinAnswer),
    /// Stop surveys and check-ins.
    OptOut,
    /// `/start` or "start": the caller decides whether it undoes an earlier opt-out.
    OptIn,
    /// Anything else, trimmed.
    FreeText(String),
    /// A score was expected and none could be read with confidence.
    Unclear,
}

pub fn parse_reply(text: &str, expecting: Expecting) -> ParsedReply {
    let text = text.trim();
    if let Some(consent) = parse_consent(text) {
        return consent;
    }
    match expecting {
        Expecting::Nps => match parse_score(text, Scale::Nps) {
            Some((score, comment)) => ParsedReply::Nps { score, comment },
            None => ParsedReply::Unclear,
        },
        Expecting::Csat => match parse_score(text, Scale::Csat) {
            Some((score, comment)) => ParsedReply::Csat { score, comment },
            None => ParsedReply::Unclear,
        },
        Expecting::Checkin => match parse_checkin(text) {
            Some(answer) => ParsedReply::Checkin(answer),
            None => ParsedReply::FreeText(text.to_string()),
        },
        Expecting::Nothing => ParsedReply::FreeText(text.to_string()),
    }
}

/// Lower case, `ё` → `е`, punctuation → spaces, runs of spaces collapsed.
pub(crate) fn normalize(text: &str) -> String {
    let mapped: String = text
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ё' => 'е',
            c if c.is_alphanumeric() || c == '/' => c,
            _ => ' ',
        })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

const OPT_OUT: &[&str] = &[
    "stop",
    "unsubscribe",
    "opt out",
    "стоп",
    "отписаться",
    "отписка",
    "отпишите меня",
];
const OPT_IN: &[&str] = &["start", "старт"];

/// Only the whole message counts: "don't stop sending these" is not an opt-out.
fn parse_consent(text: &str) -> Option<ParsedReply> {
    if let Some(command) = text.strip_prefix('/') {
        // "/stop@touch_bot" in a group, "/start <payload>" from a deep link.
        let name = command
            .split(|c: char| c.is_whitespace() || c == '@')
            .next()
            .unwrap_or("")
            .to_lowercase();
        return match name.as_str() {
            "stop" | "unsubscribe" => Some(ParsedReply::OptOut),
            "start" => Some(ParsedReply::OptIn),
            _ => None,
        };
    }
    let norm = normalize(text);
    if OPT_OUT.contains(&norm.as_str()) {
        Some(ParsedReply::OptOut)
    } else if OPT_IN.contains(&norm.as_str()) {
        Some(ParsedReply::OptIn)
    } else {
        None
    }
}

const NUMBER_WORDS: &[(&str, u8)] = &[
    ("zero", 0),
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("ноль", 0),
    ("нуль", 0),
    ("один", 1),
    ("одна", 1),
    ("два", 2),
    ("две", 2),
    ("три", 3),
    ("четыре", 4),
    ("пять", 5),
    ("шесть", 6),
    ("семь", 7),
    ("восемь", 8),
    ("девять", 9),
    ("десять", 10),
];

/// Words that may follow the number without being a comment: "8 баллов", "9 points".
const UNITS: &[&str] = &[
    "баллов",
    "балла",
    "балл",
    "points",
    "point",
    "pts",
    "stars",
    "star",
    "звезд",
    "звезды",
    "звезда",
];

/// Characters that separate a score from its comment.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ',' | '.' | ';' | ':' | '!' | '?' | '-' | '—' | '–' | '…' | ')' | '('
        )
}

/// The leading score and the comment after it, or None when the text does not start with a
/// clear score on `scale`.
pub fn parse_score(text: &str, scale: Scale) -> Option<(u8, Option<String>)> {
    let text = text.trim();
    let first = text.chars().next()?;
    let (value, rest, from_word) = if first.is_ascii_digit() {
        let end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let digits = &text[..end];
        if digits.len() > 2 {
            return None;
        }
        let rest = &text[end..];
        let mut after = rest.chars();
        match after.next() {
            // "8th", "5k": not a score.
            Some(c) if c.is_alphabetic() => return None,
            // "8.5", "8,5": a decimal, not a score followed by a comment.
            Some('.' | ',') if after.next().is_some_and(|c| c.is_ascii_digit()) => return None,
            _ => {}
        }
        (digits.parse::<u8>().ok()?, rest, false)
    } else if first.is_alphabetic() {
        let end = text
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(text.len());
        let word = text[..end].to_lowercase().replace('ё', "е");
        let value = NUMBER_WORDS
            .iter()
            .find(|(w, _)| *w == word)
            .map(|(_, v)| *v)?;
        (value, &text[end..], true)
    } else {
        return None;
    };
    if !scale.range().contains(&value) {
        return None;
    }

    let (rest, had_suffix) = match strip_scale_suffix(rest, scale) {
        Suffix::Matched(rest) => (rest, true),
        Suffix::None => (rest, false),
        Suffix::OtherScale => return None,
    };
    let (rest, had_unit) = strip_unit(rest);
    // A number word running straight into more words is part of a sentence.
    if from_word && !had_suffix && !had_unit && starts_with_space_then_word(rest) {
        return None;
    }
    let comment = rest.trim_start_matches(is_separator).trim_end();
    if comment.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    // "10!!!" leaves only punctuation behind: emphasis, not a comment.
    let has_words = !comment.trim_end_matches(is_separator).is_empty();
    Some((value, has_words.then(|| comment.to_string())))
}

enum Suffix<'a> {
    Matched(&'a str),
    None,
    OtherScale,
}

/// "/10", " / 10", " из 10", " out of 10", " of 10".
fn strip_scale_suffix(rest: &str, scale: Scale) -> Suffix<'_> {
    let trimmed = rest.trim_start();
    let lower = trimmed.to_lowercase();
    let after_marker = ["/", "из ", "out of ", "of "]
        .iter()
        .find(|m| lower.starts_with(*m))
        .map(|m| trimmed[m.len()..].trim_start());
    let Some(after) = after_marker else {
        return Suffix::None;
    };
    let end = after
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after.len());
    if end == 0 {
        // "8/" or "8 из" with nothing after: only "/" alone is clearly not a comment start.
        return if trimmed.starts_with('/') {
            Suffix::OtherScale
        } else {
            Suffix::None
        };
    }
    match after[..end].parse::<u16>() {
        Ok(max) if max == u16::from(scale.max()) => Suffix::Matched(&after[end..]),
        _ => Suffix::OtherScale,
    }
}

fn strip_unit(rest: &str) -> (&str, bool) {
    let trimmed = rest.trim_start();
    let end = trimmed
        .find(|c: char| !c.is_alphabetic())
        .unwrap_or(trimmed.len());
    let word = trimmed[..end].to_lowercase().replace('ё', "е");
    if end > 0 && UNITS.contains(&word.as_str()) {
        (&trimmed[end..], true)
    } else {
        (rest, false)
    }
}

fn starts_with_space_then_word(rest: &str) -> bool {
    let mut chars = rest.chars();
    chars.next().is_some_and(char::is_whitespace)
        && rest.trim_start().starts_with(char::is_alphanumeric)
}

/// Phrases that answer a check-in. Help and manager phrases win wherever they appear (a
/// missed cry for help is worse than a needless look from the CSM). A "good" phrase counts
/// only when nothing but thanks follows it: "all good, thanks" is an answer, while "good
/// morning, a quick question…" and "all good except exports" are free text for the CSM.
const GOOD: &[&str] = &[
    "all good",
    "all is good",
    "all fine",
    "everything is fine",
    "everything is good",
    "everything s fine",
    "good",
    "fine",
    "great",
    "ok",
    "okay",
    "все хорошо",
    "все отлично",
    "все нормально",
    "все ок",
    "хорошо",
    "отлично",
    "нормально",
    "ок",
];
/// Words that may follow a "good" phrase without changing its meaning.
const FILLER: &[&str] = &[
    "thanks",
    "thank",
    "you",
    "thx",
    "so",
    "far",
    "for",
    "now",
    "спасибо",
    "большое",
    "пока",
    "all",
    "ok",
    "ок",
];
const HELP_ANYWHERE: &[&str] = &["need help", "need some help", "нужна помощь", "помогите"];
const HELP_LEADING: &[&str] = &["help", "помощь"];
const MANAGER_ANYWHERE: &[&str] = &[
    "talk to my manager",
    "talk to a manager",
    "talk to the manager",
    "talk to manager",
    "call my manager",
    "позовите менеджера",
    "позвать менеджера",
    "связаться с менеджером",
    "свяжите с менеджером",
];
const MANAGER_LEADING: &[&str] = &["manager", "менеджер", "менеджера"];

fn only_thanks_after(norm: &str, phrase: &str) -> bool {
    norm.trim()
        .strip_prefix(phrase)
        .filter(|rest| rest.is_empty() || rest.starts_with(' '))
        .is_some_and(|rest| rest.split_whitespace().all(|w| FILLER.contains(&w)))
}

fn parse_checkin(text: &str) -> Option<CheckinAnswer> {
    let norm = format!(" {} ", normalize(text));
    let has = |phrase: &&str| norm.contains(&format!(" {phrase} "));
    let leads = |phrase: &&str| norm.starts_with(&format!(" {phrase} "));
    if MANAGER_ANYWHERE.iter().any(has) || MANAGER_LEADING.iter().any(leads) {
        Some(CheckinAnswer::Manager)
    } else if HELP_ANYWHERE.iter().any(has) || HELP_LEADING.iter().any(leads) {
        Some(CheckinAnswer::Help)
    } else if GOOD.iter().any(|phrase| only_thanks_after(&norm, phrase)) {
        Some(CheckinAnswer::Good)
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
