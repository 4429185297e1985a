//! The figures as plain text: whole lines for a block, and short cells for tables and one-line
//! summaries. No tables or markup here, so the terminal, a chat message and the weekly digest
//! can all use them.

use super::targets::{self, Target};
use super::{RenewalAhead, Retention, TeamMetrics};
use crate::health::Category;

/// Every figure, one line each, with up to `max_renewals` renewals listed under their line.
pub fn block(m: &TeamMetrics, max_renewals: usize) -> String {
    let mut out = String::new();
    for line in [
        nps_line(m),
        health_line(m),
        response_line(m),
        escalations_line(m),
    ] {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&renewals_lines(m, max_renewals));
    out.push_str(&retention_line(m));
    out.push('\n');
    out
}

/// "1 account", "3 accounts": `things` is the plural, which drops its "s" (or "es" after
/// "ch") for one.
pub fn count(n: usize, things: &str) -> String {
    if n != 1 {
        return format!("{n} {things}");
    }
    let one = match things.strip_suffix("ches") {
        Some(stem) => format!("{stem}ch"),
        None => things.strip_suffix('s').unwrap_or(things).to_string(),
    };
    format!("1 {one}")
}

/// " — on target (> +50)".
fn judged(target: Target, value: f64, shown_target: &str) -> String {
    let verdict = if target.met(value) {
        "on target"
    } else {
        "below target"
    };
    format!(" — {verdict} (> {shown_target})")
}

pub fn nps_line(m: &TeamMetrics) -> String {
    let n = &m.nps;
    let head = format!("NPS, last {} days", m.nps_days);
    match n.score() {
        Some(s) => format!(
            "{head}: {s:+} from {} ({}, {}, {}){}",
            count(n.answers as usize, "answers"),
            count(n.promoters as usize, "promoters"),
            count(n.passives as usize, "passives"),
            count(n.detractors as usize, "detractors"),
            judged(targets::NPS, s as f64, "+50")
        ),
        None => format!("{head}: no answers yet"),
    }
}

pub fn health_line(m: &TeamMetrics) -> String {
    let h = &m.health;
    let Some(average) = h.average else {
        return "Health: no account scored yet".to_string();
    };
    let counts: Vec<String> = Category::ALL
        .iter()
        .map(|c| format!("{} {c}", h.count(*c)))
        .collect();
    let unscored = if h.unscored > 0 {
        format!(" ({} not scored)", h.unscored)
    } else {
        String::new()
    };
    format!(
        "Health: {}{unscored}; average {average:.0}{}{}",
        counts.join(", "),
        trend_words(h.change_30d),
        judged(targets::AVERAGE_HEALTH, average, "75")
    )
}

/// ", up 3 over 30 days"; nothing without a comparison.
fn trend_words(change: Option<f64>) -> String {
    match change.map(f64::round) {
        None => String::new(),
        Some(d) if d > 0.0 => format!(", up {d:.0} over 30 days"),
        Some(d) if d < 0.0 => format!(", down {:.0} over 30 days", -d),
        Some(_) => ", unchanged over 30 days".to_string(),
    }
}

pub fn response_line(m: &TeamMetrics) -> String {
    let r = &m.response;
    let waiting = if r.waiting > 0 {
        format!(" ({} more still within their reply window)", r.waiting)
    } else {
        String::new()
    };
    match r.rate() {
        Some(rate) => format!(
            "Replies: {:.0}% of {} that asked something in the last {} days answered within {} days{waiting}",
            rate * 100.0,
            count(r.asked as usize, "touches"),
            m.response_days,
            m.reply_window_days
        ),
        None => format!(
            "Replies: no touch asked anything in the last {} days{waiting}",
            m.response_days
        ),
    }
}

pub fn escalations_line(m: &TeamMetrics) -> String {
    let e = &m.escalations;
    if e.open == 0 {
        return "Open escalations: none".to_string();
    }
    let buckets: Vec<String> = e
        .buckets
        .iter()
        .map(|b| format!("{}: {}", b.label(), b.count))
        .collect();
    format!("Open escalations: {} ({})", e.open, buckets.join(", "))
}

/// The count line, then one indented line per renewal up to `max`, then how many were left out.
pub fn renewals_lines(m: &TeamMetrics, max: usize) -> String {
    let r = &m.renewals;
    let mut out = format!("Renewals in the next {} days: ", m.renewal_days);
    if r.is_empty() {
        out.push_str("none\n");
        return out;
    }
    out.push_str(&renewals_cell(r));
    out.push('\n');
    for a in r.iter().take(max) {
        out.push_str(&format!("  {}\n", renewal_words(a)));
    }
    if r.len() > max {
        out.push_str(&format!("  and {} more\n", r.len() - max));
    }
    out
}

/// "Northwind: 2026-04-01, in 30 days, health 45 red".
pub fn renewal_words(a: &RenewalAhead) -> String {
    let when = match a.days {
        0 => "today".to_string(),
        1 => "tomorrow".to_string(),
        n => format!("in {n} days"),
    };
    let health = match (a.health, a.category) {
        (Some(s), Some(c)) => format!("health {s} {c}"),
        _ => "health not scored".to_string(),
    };
    format!("{}: {}, {when}, {health}", a.name, a.date)
}

pub fn retention_line(m: &TeamMetrics) -> String {
    match &m.retention {
        Retention::Measured {
            nrr, grr, accounts, ..
        } => format!(
            "Revenue retention, last 12 months against the 12 before, {}: NRR {}{}; GRR {}{}",
            count(*accounts, "paying accounts"),
            percent(*nrr),
            judged(targets::NRR, nrr * 100.0, "110%"),
            percent(*grr),
            judged(targets::GRR, grr * 100.0, "90%"),
        ),
        Retention::NotEnoughData { reason } => format!(
            "Revenue retention: not enough payment data ({})",
            reason.explain()
        ),
    }
}

fn percent(ratio: f64) -> String {
    format!("{:.0}%", ratio * 100.0)
}

/// "+14 (7)": the score and the answers behind it.
pub fn nps_cell(m: &TeamMetrics) -> String {
    match m.nps.score() {
        Some(s) => format!("{s:+} ({})", m.nps.answers),
        None => "-".into(),
    }
}

/// "72 ↓3": the average and its move over 30 days.
pub fn health_cell(m: &TeamMetrics) -> String {
    let Some(average) = m.health.average else {
        return "-".into();
    };
    let arrow = match m.health.change_30d.map(f64::round) {
        Some(d) if d > 0.0 => format!(" ↑{d:.0}"),
        Some(d) if d < 0.0 => format!(" ↓{:.0}", -d),
        _ => String::new(),
    };
    format!("{average:.0}{arrow}")
}

/// "6/4/2": green, yellow, red.
pub fn categories_cell(m: &TeamMetrics) -> String {
    let h = &m.health;
    format!("{}/{}/{}", h.green, h.yellow, h.red)
}

/// "64% of 50".
pub fn response_cell(m: &TeamMetrics) -> String {
    match m.response.rate() {
        Some(r) => format!("{:.0}% of {}", r * 100.0, m.response.asked),
        None => "-".into(),
    }
}

/// "1/0/2": open escalations per ladder bucket, youngest first.
pub fn escalations_cell(m: &TeamMetrics) -> String {
    let counts: Vec<String> = m
        .escalations
        .buckets
        .iter()
        .map(|b| b.count.to_string())
        .collect();
    counts.join("/")
}

/// "3 (1 red, 1 not scored)".
pub fn renewals_cell(r: &[RenewalAhead]) -> String {
    let red = r
        .iter()
        .filter(|a| a.category == Some(Category::Red))
        .count();
    let unscored = r.iter().filter(|a| a.category.is_none()).count();
    let mut notes = Vec::new();
    if red > 0 {
        notes.push(format!("{red} red"));
    }
    if unscored > 0 {
        notes.push(format!("{unscored} not scored"));
    }
    if notes.is_empty() {
        r.len().to_string()
    } else {
        format!("{} ({})", r.len(), notes.join(", "))
    }
}

/// "104%" and "93%", or "-" each without enough payment data.
pub fn retention_cells(m: &TeamMetrics) -> (String, String) {
    match m.retention.ratios() {
        Some((nrr, grr)) => (percent(nrr), percent(grr)),
        None => ("-".into(), "-".into()),
    }
}
