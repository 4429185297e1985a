//! One account's status as text: the facts, what needs attention, and its health with the
//! reasons behind the score.

use super::accounts::{AccountStatus, attention, health_cell};
use crate::health::store::LatestHealth;

pub fn render_account(a: &AccountStatus) -> String {
    let mut out = format!("{} ({}, {})\n", a.name, a.segment, a.lifecycle);
    out.push_str(&format!(
        "  CSM:            {}\n",
        a.csm.as_deref().unwrap_or("(none)")
    ));
    out.push_str(&format!(
        "  renewal:        {}\n",
        match (a.renewal_date, a.days_to_renewal) {
            (Some(d), Some(n)) => format!("{d} ({n} days)"),
            _ => "not set".into(),
        }
    ));
    out.push_str(&format!(
        "  touches:        {} sent, {} answered, {} skipped, {} failed, {} unclear\n",
        a.touches_sent, a.touches_answered, a.touches_skipped, a.touches_failed, a.touches_unknown
    ));
    out.push_str(&format!(
        "  last NPS:       {}\n",
        match (a.last_nps, &a.last_nps_comment) {
            (Some(s), Some(c)) => format!("{s} — \"{c}\""),
            (Some(s), None) => s.to_string(),
            _ => "none yet".into(),
        }
    ));
    out.push_str(&format!(
        "  next touch:     {}\n",
        match (&a.next_touch, a.next_touch_at) {
            (Some(t), Some(at)) => format!("{t} at {}", at.format("%Y-%m-%d %H:%M UTC")),
            _ => "nothing planned".into(),
        }
    ));
    out.push_str(&format!(
        "  contacts:       {} ({} unreachable, {} opted out of something)\n",
        a.contacts, a.unreachable_contacts, a.opted_out_contacts
    ));
    let note = attention(a);
    if !note.is_empty() {
        out.push_str(&format!("  attention:      {note}\n"));
    }
    out.push_str(&health_block(a.health.as_ref()));
    out
}

/// The score with every component and what it rests on, and what the score could not see.
fn health_block(h: Option<&LatestHealth>) -> String {
    let Some(h) = h else {
        return "  health:         not scored yet (scores are computed nightly and on new signals)\n"
            .into();
    };
    let mut out = format!(
        "  health:         {} (computed {})\n",
        match h.score {
            Some(_) => health_cell(Some(h)),
            None => "not enough data".into(),
        },
        h.computed_at.format("%Y-%m-%d %H:%M UTC")
    );
    for c in &h.components {
        out.push_str(&format!("    - {}\n", c.explanation));
    }
    if !h.missing.is_empty() {
        out.push_str(&format!("  missing data:   {}\n", h.missing.join(", ")));
    }
    out
}
