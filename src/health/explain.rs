//! Turning numbers into sentences a manager can read. The reasons come from the component
//! rules; this module assembles them and keeps the wording consistent.

use super::score::HealthScore;

/// "1 ticket", "3 tickets".
pub(crate) fn count(n: u32, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A share 0-1 as a whole percentage, "45%".
pub(crate) fn percent(share: f64) -> String {
    format!("{}%", (share * 100.0).round())
}

/// "a, b or c" for a list of missing data.
pub(crate) fn either(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// "engagement 40: 3 of the last 4 check-ins unanswered; 6 of 10 touches answered".
/// Reasons come worst first, so the first one says why the score is what it is.
pub(crate) fn component(name: &str, value: u8, reasons: &[String], no_data: &[String]) -> String {
    let mut text = format!("{name} {value}");
    if !reasons.is_empty() {
        text.push_str(": ");
        text.push_str(&reasons.join("; "));
    }
    if !no_data.is_empty() {
        text.push_str(&format!(" (no data on {})", either(no_data)));
    }
    text
}

pub(crate) fn unknown_component(name: &str, no_data: &[String]) -> String {
    format!("{name} unknown: no data on {}", either(no_data))
}

pub(crate) fn summary(health: &HealthScore) -> String {
    let mut text = match (health.score, health.category) {
        (Some(score), Some(category)) => format!("{score} {category} ({})", health.model),
        _ => format!("not enough data ({})", health.model),
    };
    // The weakest known part is the one worth a manager's attention.
    let weakest = health
        .components
        .iter()
        .filter(|c| c.is_known())
        .min_by_key(|c| c.value.map(i32::from).or(c.points).unwrap_or(0));
    if health.score.is_some()
        && let Some(weakest) = weakest
    {
        text.push_str("; weakest: ");
        text.push_str(&weakest.explanation);
    }
    if !health.missing.is_empty() {
        text.push_str("; no data: ");
        text.push_str(&health.missing.join(", "));
    }
    text
}
