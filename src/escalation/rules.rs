//! The red signals: which ones are active for an account right now, and how bad each is.
//!
//! Each rule looks at the current state only; whether that deserves a post is the job of
//! [`super::dedup`]. Readings of the playbook that needed a decision:
//! - Thresholds written "more than" are strict: a health drop of exactly 20 points, usage down
//!   exactly 30%, or a ticket open exactly 7 days is not yet a signal.
//! - A health drop is measured from the highest score in the window (30 days, the start
//!   included) to the score now.
//! - Silence, "no reply to the last 3 touches or 21 days, whichever is later": both must hold.
//!   The latest 3 touches (or more) in a row are unanswered, and the first of that unanswered
//!   run was sent at least 21 days ago, so one quick burst of touches cannot make a client look
//!   silent and a single long gap between two touches cannot either.
//! - Renewal: "within 60 days" includes day 60; a renewal date already passed is no signal.
//!   Without progress, the 30-day escalation turns critical within the last 7 days (the
//!   playbook's "urgent notice to everyone involved") and is posted again.
//! - The detractor signal follows the latest NPS answer: a later non-detractor answer makes it
//!   go away (and the open escalation is then suggested as cleared).
//! - Recorded events (sponsor left, champion changed, competitor, requests for help) count
//!   within `max_age_days`; several of one kind make one trigger naming the latest.

use super::config::EscalationConfig;
use super::input::{
    AccountState, HealthCategory, HelpKind, HelpRequest, RelationshipEvent, RelationshipKind,
};
use super::{Magnitude, Reason, Severity, Trigger};
use chrono::{DateTime, Duration, Utc};

/// The longest client comment quoted in evidence; the rest is cut at a word boundary.
const QUOTE_CHARS: usize = 200;

/// Every active red signal for the account at `now`, at most one per reason, in the order of
/// [`Reason::ALL`].
pub fn evaluate(
    state: &AccountState,
    config: &EscalationConfig,
    now: DateTime<Utc>,
) -> Vec<Trigger> {
    let mut triggers = vec![
        detractor(state, config),
        health_red(state, config),
        health_drop(state, config, now),
        usage_drop(state, config),
        critical_ticket(state, config, now),
        silence(state, config, now),
    ];
    triggers.extend(renewal(state, config).into_iter().map(Some));
    for kind in [
        RelationshipKind::SponsorLeft,
        RelationshipKind::ChampionChanged,
        RelationshipKind::CompetitorMentioned,
    ] {
        triggers.push(relationship(&state.relationship, kind, config, now));
    }
    triggers.push(help_requested(&state.help_requests, config, now));
    let mut triggers: Vec<Trigger> = triggers.into_iter().flatten().collect();
    triggers.sort_by_key(|t| t.reason);
    triggers
}

fn trigger(reason: Reason, severity: Severity, evidence: String, magnitude: f64) -> Trigger {
    Trigger {
        reason,
        severity,
        evidence,
        magnitude: Magnitude(magnitude),
        already_escalated: false,
    }
}

fn detractor(state: &AccountState, config: &EscalationConfig) -> Option<Trigger> {
    let rule = &config.detractor;
    let nps = state.last_nps.as_ref().filter(|_| rule.enabled)?;
    if nps.score > rule.max_score {
        return None;
    }
    let evidence = match nps.comment.as_deref().map(quote).filter(|c| !c.is_empty()) {
        Some(comment) => format!("NPS {} from {}: \"{comment}\"", nps.score, nps.contact.name),
        None => format!("NPS {} from {}, no comment", nps.score, nps.contact.name),
    };
    // A lower score is worse; the unit is NPS points below the passive band.
    let depth = f64::from(rule.max_score) + 1.0 - f64::from(nps.score);
    Some(Trigger {
        already_escalated: nps.already_escalated,
        ..trigger(Reason::Detractor, rule.severity, evidence, depth)
    })
}

fn health_red(state: &AccountState, config: &EscalationConfig) -> Option<Trigger> {
    let rule = &config.health_red;
    let health = &state.health;
    if !rule.enabled || health.category != Some(HealthCategory::Red) {
        return None;
    }
    let score = health.score?;
    let evidence = match health.previous_category {
        Some(before) if before != HealthCategory::Red => {
            format!("health turned red at {score} (was {})", before.as_str())
        }
        _ => format!("health is red at {score}"),
    };
    Some(trigger(
        Reason::HealthRed,
        rule.severity,
        evidence,
        100.0 - f64::from(score),
    ))
}

fn health_drop(
    state: &AccountState,
    config: &EscalationConfig,
    now: DateTime<Utc>,
) -> Option<Trigger> {
    let rule = &config.health_drop;
    let score = state.health.score.filter(|_| rule.enabled)?;
    let since = now - Duration::days(i64::from(rule.window_days));
    // The highest score in the window; among equal peaks the latest, so the fall is described
    // over the shortest time it actually took.
    let (peak_at, peak) = state
        .health
        .history
        .iter()
        .filter(|(at, _)| *at >= since && *at <= now)
        .max_by_key(|(at, score)| (*score, *at))
        .copied()?;
    let drop = peak.saturating_sub(score);
    if drop <= rule.more_than_points {
        return None;
    }
    let evidence = format!(
        "health fell {drop} points {} (from {peak} to {score})",
        span_text(now - peak_at)
    );
    Some(trigger(
        Reason::HealthDrop,
        rule.severity,
        evidence,
        f64::from(drop),
    ))
}

fn usage_drop(state: &AccountState, config: &EscalationConfig) -> Option<Trigger> {
    let rule = &config.usage_drop;
    let usage = state.usage.filter(|_| rule.enabled)?;
    let before = usage.thirty_days_ago;
    if before <= 0.0 || !before.is_finite() || !usage.now.is_finite() {
        return None;
    }
    // Compared by multiplication rather than by a computed percentage, so a fall of exactly
    // the threshold (100 to 70 for 30%) is not tipped over by floating-point rounding.
    let kept_percent = 100.0 - f64::from(rule.more_than_percent);
    if usage.now * 100.0 >= before * kept_percent {
        return None;
    }
    let fell = (before - usage.now) / before * 100.0;
    let evidence = format!(
        "usage down {}% in 30 days (from {} to {})",
        number(fell),
        number(before),
        number(usage.now)
    );
    Some(trigger(Reason::UsageDrop, rule.severity, evidence, fell))
}

fn critical_ticket(
    state: &AccountState,
    config: &EscalationConfig,
    now: DateTime<Utc>,
) -> Option<Trigger> {
    let rule = &config.critical_ticket;
    if !rule.enabled {
        return None;
    }
    let limit = Duration::days(i64::from(rule.open_more_than_days));
    let mut overdue: Vec<_> = state
        .critical_tickets
        .iter()
        .filter(|t| now - t.opened_at > limit)
        .collect();
    overdue.sort_by_key(|t| t.opened_at);
    let oldest = overdue.first()?;
    let mut evidence = format!(
        "critical ticket {} open {}",
        oldest.reference,
        days_text((now - oldest.opened_at).num_days())
    );
    if overdue.len() > 1 {
        evidence.push_str(&format!(
            " (and {} more open over {})",
            overdue.len() - 1,
            days_text(i64::from(rule.open_more_than_days))
        ));
    }
    Some(trigger(
        Reason::CriticalTicket,
        rule.severity,
        evidence,
        overdue.len() as f64,
    ))
}

fn silence(state: &AccountState, config: &EscalationConfig, now: DateTime<Utc>) -> Option<Trigger> {
    let rule = &config.silence;
    if !rule.enabled {
        return None;
    }
    let mut touches: Vec<_> = state.touches.iter().filter(|t| t.sent_at <= now).collect();
    touches.sort_by_key(|t| std::cmp::Reverse(t.sent_at));
    let run: Vec<_> = touches.iter().take_while(|t| !t.answered).collect();
    let first_unanswered = run.last()?;
    let silent_for = now - first_unanswered.sent_at;
    if (run.len() as u64) < u64::from(rule.min_touches)
        || silent_for < Duration::days(i64::from(rule.min_days))
    {
        return None;
    }
    let evidence = format!(
        "no reply to the last {} touches, the first sent {} ago",
        run.len(),
        days_text(silent_for.num_days())
    );
    Some(trigger(
        Reason::Silence,
        rule.severity,
        evidence,
        run.len() as f64,
    ))
}

fn renewal(state: &AccountState, config: &EscalationConfig) -> Vec<Trigger> {
    let rule = &config.renewal;
    let Some(renewal) = state.renewal.as_ref().filter(|_| rule.enabled) else {
        return Vec::new();
    };
    let days_left = renewal.days_left;
    if days_left < 0 {
        return Vec::new();
    }
    let when = format!(
        "renewal on {} ({})",
        renewal.date.format("%Y-%m-%d"),
        if days_left == 0 {
            "today".to_string()
        } else {
            format!("in {}", days_text(days_left))
        }
    );
    let mut out = Vec::new();
    if let Some(score) = state.health.score
        && days_left <= i64::from(rule.risk_days)
        && score < rule.risk_health_below
    {
        out.push(trigger(
            Reason::RenewalRisk60,
            rule.risk_severity,
            format!("{when} with health {score}"),
            f64::from(rule.risk_health_below - score),
        ));
    }
    if !renewal.progress_recorded && days_left <= i64::from(rule.no_progress_days) {
        let urgent = days_left <= i64::from(rule.urgent_days);
        // The stage is the magnitude: entering the urgent days is worse by exactly one.
        let (severity, stage, tail) = if urgent {
            (Severity::Critical, 2.0, ", urgent")
        } else {
            (rule.no_progress_severity, 1.0, "")
        };
        out.push(trigger(
            Reason::RenewalNoProgress30,
            severity,
            format!("{when} and no progress recorded{tail}"),
            stage,
        ));
    }
    out
}

fn relationship(
    events: &[RelationshipEvent],
    kind: RelationshipKind,
    config: &EscalationConfig,
    now: DateTime<Utc>,
) -> Option<Trigger> {
    let rule = &config.relationship;
    if !rule.enabled {
        return None;
    }
    let since = now - Duration::days(i64::from(rule.max_age_days));
    let recent: Vec<_> = events
        .iter()
        .filter(|e| e.kind == kind && e.at >= since)
        .collect();
    let latest = recent.iter().max_by_key(|e| e.at)?;
    let (reason, severity, what) = match kind {
        RelationshipKind::SponsorLeft => (
            Reason::SponsorLeft,
            rule.sponsor_left_severity,
            "executive sponsor left",
        ),
        RelationshipKind::ChampionChanged => (
            Reason::ChampionChanged,
            rule.champion_changed_severity,
            "champion changed",
        ),
        RelationshipKind::CompetitorMentioned => (
            Reason::Competitor,
            rule.competitor_severity,
            "competitor mentioned",
        ),
    };
    let mut evidence = what.to_string();
    if let Some(detail) = latest
        .detail
        .as_deref()
        .map(quote)
        .filter(|d| !d.is_empty())
    {
        evidence.push_str(&format!(": {detail}"));
    }
    evidence.push_str(&format!(" (recorded {})", latest.at.format("%Y-%m-%d")));
    if recent.len() > 1 {
        evidence.push_str(&format!(
            "; {} such signals in {}",
            recent.len(),
            days_text(i64::from(rule.max_age_days))
        ));
    }
    Some(Trigger {
        already_escalated: recent.iter().all(|e| e.already_escalated),
        ..trigger(reason, severity, evidence, recent.len() as f64)
    })
}

fn help_requested(
    requests: &[HelpRequest],
    config: &EscalationConfig,
    now: DateTime<Utc>,
) -> Option<Trigger> {
    let rule = &config.help_request;
    if !rule.enabled {
        return None;
    }
    let since = now - Duration::days(i64::from(rule.max_age_days));
    let recent: Vec<_> = requests.iter().filter(|r| r.at >= since).collect();
    // Name the newest request nobody has seen yet, else the newest one.
    let shown = recent
        .iter()
        .filter(|r| !r.already_escalated)
        .max_by_key(|r| r.at)
        .or_else(|| recent.iter().max_by_key(|r| r.at))?;
    let asked = match shown.kind {
        HelpKind::Help => "asked for help",
        HelpKind::Manager => "asked to speak to a manager",
    };
    let mut evidence = format!("{} {asked}", shown.contact.name);
    if let Some(text) = shown.text.as_deref().map(quote).filter(|t| !t.is_empty()) {
        evidence.push_str(&format!(": \"{text}\""));
    }
    if recent.len() > 1 {
        evidence.push_str(&format!(" (and {} more requests)", recent.len() - 1));
    }
    Some(Trigger {
        already_escalated: recent.iter().all(|r| r.already_escalated),
        ..trigger(
            Reason::HelpRequested,
            rule.severity,
            evidence,
            recent.len() as f64,
        )
    })
}

/// A client's words, on one line and cut to a readable length.
fn quote(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= QUOTE_CHARS {
        return one_line;
    }
    let cut: String = one_line.chars().take(QUOTE_CHARS).collect();
    let at_word = match cut.rfind(' ') {
        Some(space) if space > QUOTE_CHARS / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{at_word}…")
}

fn days_text(days: i64) -> String {
    if days == 1 {
        "1 day".to_string()
    } else {
        format!("{days} days")
    }
}

fn span_text(span: Duration) -> String {
    match span.num_days() {
        0 => "within a day".to_string(),
        days => format!("in {}", days_text(days)),
    }
}

/// A number as a person writes it: no trailing ".0", at most one decimal.
fn number(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}
