//! Whether a trigger deserves a post: the same signal evaluated every hour must not flood the
//! CSM chat, while a signal that got worse must be heard.
//!
//! Per reason, one escalation is open at a time. For each trigger:
//! - no escalation open: [`Decision::Open`], unless the signal was just resolved by a person
//!   and is no worse ([`Decision::Hold`] for `quiet_after_resolve_days`), or it is an event that
//!   was already escalated once (`Hold` with no end);
//! - an escalation open and the trigger is no worse than what was last posted:
//!   [`Decision::Update`] (store the new evidence, keep the last-posted severity and magnitude,
//!   post nothing);
//! - an escalation open and the trigger is worse: [`Decision::Realert`]. Worse means a higher
//!   severity, a magnitude worse by at least the rule's margin, or, for events, a new event
//!   nobody has seen yet (a second request for help is news).
//!
//! An open escalation whose signal is gone gets [`Decision::ConditionCleared`], a suggestion
//! only: a person resolves it and records the outcome. Event signals that cannot un-happen
//! (a sponsor who left) are never suggested as cleared.

use super::config::EscalationConfig;
use super::{Magnitude, Reason, Severity, Trigger};
use chrono::{DateTime, Duration, Utc};

/// An escalation still open (or acknowledged) for the account, with what was last posted.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenEscalation {
    pub reason: Reason,
    /// Severity of the last post (the opening one or the latest re-alert).
    pub severity: Severity,
    /// Magnitude of the last post.
    pub magnitude: Magnitude,
    pub opened_at: DateTime<Utc>,
}

/// An escalation a person resolved, with what it looked like when it was last posted.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedEscalation {
    pub reason: Reason,
    pub severity: Severity,
    pub magnitude: Magnitude,
    pub resolved_at: DateTime<Utc>,
}

/// When a post reaches the CSM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Posted now.
    Immediate,
    /// Collected into the CSM's daily digest.
    Digest,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Open a new escalation and post it.
    Open {
        trigger: Trigger,
        delivery: Delivery,
    },
    /// Keep the open escalation, refresh its evidence, post nothing.
    Update { trigger: Trigger },
    /// The open escalation got worse: post again and remember the new severity and magnitude.
    Realert {
        trigger: Trigger,
        delivery: Delivery,
        was_severity: Severity,
        was_magnitude: Magnitude,
    },
    /// Active, but not (re)opened. `until` is the end of the quiet time after a resolve; `None`
    /// means the event was already escalated and that escalation is closed.
    Hold {
        trigger: Trigger,
        until: Option<DateTime<Utc>>,
    },
    /// The open escalation's signal is gone; suggest resolving it.
    ConditionCleared {
        reason: Reason,
        opened_at: DateTime<Utc>,
        delivery: Delivery,
    },
}

impl Decision {
    pub fn reason(&self) -> Reason {
        match self {
            Decision::Open { trigger, .. }
            | Decision::Update { trigger }
            | Decision::Realert { trigger, .. }
            | Decision::Hold { trigger, .. } => trigger.reason,
            Decision::ConditionCleared { reason, .. } => *reason,
        }
    }

    /// How the decision reaches the CSM, or `None` when nothing is posted.
    pub fn delivery(&self) -> Option<Delivery> {
        match self {
            Decision::Open { delivery, .. }
            | Decision::Realert { delivery, .. }
            | Decision::ConditionCleared { delivery, .. } => Some(*delivery),
            Decision::Update { .. } | Decision::Hold { .. } => None,
        }
    }
}

/// Critical posts go at once; the rest wait for the digest when the team wants one.
pub fn delivery_for(severity: Severity, config: &EscalationConfig) -> Delivery {
    if severity == Severity::Critical || !config.digest_non_critical {
        Delivery::Immediate
    } else {
        Delivery::Digest
    }
}

/// One decision per trigger (in the triggers' order), then one per open escalation whose
/// signal is gone. `open` should hold at most one escalation per reason; if it holds more,
/// the most recently opened one is compared.
pub fn reconcile(
    triggers: &[Trigger],
    open: &[OpenEscalation],
    resolved: &[ResolvedEscalation],
    config: &EscalationConfig,
    now: DateTime<Utc>,
) -> Vec<Decision> {
    let mut decisions: Vec<Decision> = triggers
        .iter()
        .map(|trigger| decide(trigger, open, resolved, config, now))
        .collect();
    for escalation in open {
        let still_active = triggers.iter().any(|t| t.reason == escalation.reason);
        if !still_active && escalation.reason.clears_by_itself() {
            decisions.push(Decision::ConditionCleared {
                reason: escalation.reason,
                opened_at: escalation.opened_at,
                delivery: delivery_for(Severity::Info, config),
            });
        }
    }
    decisions
}

fn decide(
    trigger: &Trigger,
    open: &[OpenEscalation],
    resolved: &[ResolvedEscalation],
    config: &EscalationConfig,
    now: DateTime<Utc>,
) -> Decision {
    let trigger = trigger.clone();
    let current = open
        .iter()
        .filter(|e| e.reason == trigger.reason)
        .max_by_key(|e| e.opened_at);
    if let Some(current) = current {
        let news = trigger.reason.is_event() && !trigger.already_escalated;
        return if news || worse(&trigger, current.severity, current.magnitude, config) {
            Decision::Realert {
                delivery: delivery_for(trigger.severity, config),
                was_severity: current.severity,
                was_magnitude: current.magnitude,
                trigger,
            }
        } else {
            Decision::Update { trigger }
        };
    }
    if trigger.reason.is_event() {
        return if trigger.already_escalated {
            Decision::Hold {
                trigger,
                until: None,
            }
        } else {
            open_decision(trigger, config)
        };
    }
    let quiet = Duration::days(i64::from(config.quiet_after_resolve_days));
    let recent = resolved
        .iter()
        .filter(|r| r.reason == trigger.reason && r.resolved_at + quiet > now)
        .max_by_key(|r| r.resolved_at);
    match recent {
        Some(r) if !worse(&trigger, r.severity, r.magnitude, config) => Decision::Hold {
            trigger,
            until: Some(r.resolved_at + quiet),
        },
        _ => open_decision(trigger, config),
    }
}

fn open_decision(trigger: Trigger, config: &EscalationConfig) -> Decision {
    Decision::Open {
        delivery: delivery_for(trigger.severity, config),
        trigger,
    }
}

fn worse(
    trigger: &Trigger,
    severity: Severity,
    magnitude: Magnitude,
    config: &EscalationConfig,
) -> bool {
    trigger.severity > severity
        || realert_margin(trigger.reason, config)
            .is_some_and(|margin| trigger.magnitude.worse_by(magnitude, margin))
}

/// The margin in the reason's unit, or `None` where only severity (and, for events, a new
/// event) counts.
fn realert_margin(reason: Reason, config: &EscalationConfig) -> Option<f64> {
    match reason {
        Reason::HealthRed => Some(config.health_red.realert_margin),
        Reason::HealthDrop => Some(config.health_drop.realert_margin),
        Reason::UsageDrop => Some(config.usage_drop.realert_margin),
        Reason::CriticalTicket => Some(config.critical_ticket.realert_margin),
        Reason::Silence => Some(config.silence.realert_margin),
        Reason::RenewalRisk60 => Some(config.renewal.risk_realert_margin),
        // The magnitude is the stage (1, then 2 in the urgent days).
        Reason::RenewalNoProgress30 => Some(1.0),
        Reason::Detractor
        | Reason::SponsorLeft
        | Reason::ChampionChanged
        | Reason::Competitor
        | Reason::HelpRequested => None,
    }
}
