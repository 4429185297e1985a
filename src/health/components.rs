//! The weighted model's components, each scored 0-100 from the facts that bear on it.
//!
//! A component is made of parts (seats, login days, ...), each scored 0-100 with a weight. The
//! component's score is the weighted mean of the parts that have data, then adjusted by
//! penalties and bonuses (usage falling, contacts unreachable, ...), kept within 0-100. A
//! component with no part known is unknown: adjustments alone never make it known, because a
//! penalty needs something to be taken from.

use super::config::HealthConfig;
use super::explain::{count, percent};
use super::input::{HealthInput, NpsBand};
use chrono::TimeDelta;

/// One scored part of a component.
pub(crate) struct Part {
    pub score: f64,
    pub weight: f64,
    pub reason: String,
}

/// Points added to (or, when negative, taken from) a component after its parts are combined.
pub(crate) struct Adjustment {
    pub points: i32,
    pub reason: String,
}

#[derive(Default)]
pub(crate) struct Assessment {
    pub parts: Vec<Part>,
    pub adjustments: Vec<Adjustment>,
    /// Data that would have scored a part, had it been there.
    pub no_data: Vec<String>,
}

impl Assessment {
    /// Adds a part unless its weight turns it off; `None` records the data as missing.
    fn part(&mut self, weight: f64, scored: Option<(f64, String)>, missing: &str) {
        if weight <= 0.0 {
            return;
        }
        match scored {
            Some((score, reason)) => self.parts.push(Part {
                score: score.clamp(0.0, 100.0),
                weight,
                reason,
            }),
            None => self.no_data.push(missing.to_string()),
        }
    }

    fn adjust(&mut self, points: i32, reason: String) {
        if points != 0 {
            self.adjustments.push(Adjustment { points, reason });
        }
    }

    /// The component's score, or `None` when no part had data.
    pub fn value(&self) -> Option<u8> {
        let total_weight: f64 = self.parts.iter().map(|p| p.weight).sum();
        if self.parts.is_empty() || total_weight <= 0.0 {
            return None;
        }
        let mean = self.parts.iter().map(|p| p.score * p.weight).sum::<f64>() / total_weight;
        let adjusted = mean
            + self
                .adjustments
                .iter()
                .map(|a| f64::from(a.points))
                .sum::<f64>();
        Some(round_score(adjusted))
    }

    /// Penalties first, then parts from the worst up: the first reason explains the score.
    pub fn reasons(&self) -> Vec<String> {
        let mut adjustments: Vec<&Adjustment> = self.adjustments.iter().collect();
        adjustments.sort_by_key(|a| a.points);
        let mut parts: Vec<&Part> = self.parts.iter().collect();
        parts.sort_by(|a, b| a.score.total_cmp(&b.score));
        let (penalties, bonuses): (Vec<_>, Vec<_>) =
            adjustments.into_iter().partition(|a| a.points < 0);
        penalties
            .iter()
            .map(|a| a.reason.clone())
            .chain(parts.iter().map(|p| p.reason.clone()))
            .chain(bonuses.iter().map(|a| a.reason.clone()))
            .collect()
    }
}

/// Rounds to a whole score 0-100. Float noise is removed first, so that 87.5 computed as
/// 87.49999999999999 still rounds up, as a person checking by hand would expect.
pub(crate) fn round_score(value: f64) -> u8 {
    ((value * 1e6).round() / 1e6).round().clamp(0.0, 100.0) as u8
}

/// `value / full`, as a score 0-100 that reaches 100 at `full`.
fn up_to(value: f64, full: f64) -> f64 {
    if full <= 0.0 {
        return 100.0;
    }
    (value / full).min(1.0) * 100.0
}

pub(crate) fn usage(input: &HealthInput, config: &HealthConfig) -> Assessment {
    let rules = &config.usage;
    let facts = &input.usage;
    let mut out = Assessment::default();

    let seats = match (facts.active_users, facts.licences) {
        (Some(active), Some(licences)) if licences > 0 => {
            let share = f64::from(active) / f64::from(licences);
            Some((
                up_to(share, rules.full_seat_share),
                format!(
                    "{active} of {} in use ({})",
                    count(licences, "licence", "licences"),
                    percent(share)
                ),
            ))
        }
        _ => None,
    };
    out.part(rules.seats_weight, seats, "active users and licences");

    let logins = facts.login_days_last_30.map(|days| {
        let days = days.min(30);
        (
            up_to(f64::from(days), f64::from(rules.full_login_days)),
            format!("logged in on {days} of the last 30 days"),
        )
    });
    out.part(rules.logins_weight, logins, "login days");

    let adoption = facts.feature_adoption.filter(|a| a.is_finite()).map(|a| {
        let a = a.clamp(0.0, 1.0);
        (
            up_to(a, rules.full_adoption),
            format!("{} of key features in use", percent(a)),
        )
    });
    out.part(rules.adoption_weight, adoption, "feature adoption");

    if let (Some(now), Some(before)) = (facts.active_users, facts.active_users_30_days_ago)
        && before > 0
        && now < before
    {
        let drop = f64::from(before - now) / f64::from(before);
        if drop > rules.drop_share {
            out.adjust(
                -i32::from(rules.drop_penalty),
                format!(
                    "active users down {} in 30 days (from {before} to {now})",
                    percent(drop)
                ),
            );
        }
    }
    out
}

pub(crate) fn engagement(input: &HealthInput, config: &HealthConfig) -> Assessment {
    let rules = &config.engagement;
    let facts = &input.engagement;
    let mut out = Assessment::default();

    // A touch the contact read and left unanswered for `read_unanswered_days` counts as a
    // missed answer at once instead of when its 7-day reply window ends: they saw it and chose
    // not to answer, so the drop shows days earlier. It weighs no more than any other missed
    // answer, and once the window ends it is one like the rest: only WhatsApp reports reads,
    // and the same silence on Telegram must not cost less.
    let early = facts.read_unanswered_early.unwrap_or(0);
    let (sent, answered) = match (facts.touches_sent_90d, facts.touches_answered_90d) {
        (Some(sent), Some(answered)) => (sent.saturating_add(early), answered),
        _ => (early, 0),
    };
    let touches = (sent > 0).then(|| {
        let answered = answered.min(sent);
        let rate = f64::from(answered) / f64::from(sent);
        let mut reason = format!(
            "{answered} of {} answered in the last 90 days",
            count(sent, "touch", "touches")
        );
        if early > 0 {
            reason.push_str(&format!(
                " ({} read but unanswered for {} already)",
                early,
                count(rules.read_unanswered_days, "day", "days")
            ));
        }
        (up_to(rate, rules.full_answer_rate), reason)
    });
    out.part(rules.touches_weight, touches, "answers to touches");

    let considered = rules.checkins_considered as usize;
    let latest =
        &facts.recent_checkins_answered[..facts.recent_checkins_answered.len().min(considered)];
    let checkins = if latest.is_empty() {
        None
    } else {
        let answered = latest.iter().filter(|a| **a).count();
        Some((
            answered as f64 / latest.len() as f64 * 100.0,
            checkin_phrase(latest.len(), answered),
        ))
    };
    out.part(rules.checkins_weight, checkins, "check-in answers");

    let unreachable = facts.unreachable_contacts.unwrap_or(0);
    let opted_out = facts.opted_out_contacts.unwrap_or(0);
    let penalty = (u64::from(unreachable) * u64::from(rules.unreachable_penalty)
        + u64::from(opted_out) * u64::from(rules.opted_out_penalty))
    .min(u64::from(rules.max_contact_penalty));
    let mut lost = Vec::new();
    if unreachable > 0 {
        lost.push(format!(
            "{} unreachable",
            count(unreachable, "contact", "contacts")
        ));
    }
    if opted_out > 0 {
        lost.push(format!(
            "{} opted out",
            count(opted_out, "contact", "contacts")
        ));
    }
    out.adjust(-(penalty as i32), lost.join(", "));

    if let Some(answers) = facts.nps_answers_90d.filter(|n| *n > 0) {
        out.adjust(
            i32::from(rules.nps_answer_bonus),
            format!(
                "answered {} in the last 90 days",
                count(answers, "NPS survey", "NPS surveys")
            ),
        );
    }
    out
}

fn checkin_phrase(total: usize, answered: usize) -> String {
    let unanswered = total - answered;
    match (total, unanswered) {
        (1, 0) => "the last check-in answered".to_string(),
        (1, _) => "the last check-in unanswered".to_string(),
        (_, 0) => format!("all of the last {total} check-ins answered"),
        (_, u) if u == total => format!("none of the last {total} check-ins answered"),
        (_, u) => format!("{u} of the last {total} check-ins unanswered"),
    }
}

pub(crate) fn support(input: &HealthInput, config: &HealthConfig) -> Assessment {
    let rules = &config.support;
    let facts = &input.support;
    let mut out = Assessment::default();

    let volume = facts.tickets_last_30d.map(|tickets| {
        let opened = count(tickets, "ticket", "tickets");
        if tickets < rules.yellow_from {
            (
                f64::from(rules.green_volume_score),
                format!(
                    "{opened} in the last 30 days (green: under {})",
                    rules.yellow_from
                ),
            )
        } else if tickets > rules.red_above {
            (
                f64::from(rules.red_volume_score),
                format!(
                    "{opened} in the last 30 days (red: over {})",
                    rules.red_above
                ),
            )
        } else {
            (
                f64::from(rules.yellow_volume_score),
                format!(
                    "{opened} in the last 30 days (yellow: {} to {})",
                    rules.yellow_from, rules.red_above
                ),
            )
        }
    });
    out.part(rules.volume_weight, volume, "ticket volume");

    let overdue_after = TimeDelta::days(i64::from(config.critical_overdue_days));
    let critical = input.critical_ages().map(|ages| match ages.first() {
        None => (100.0, "no critical ticket open".to_string()),
        Some(oldest) => {
            let score = if *oldest > overdue_after {
                rules.critical_overdue_score
            } else {
                rules.critical_open_score
            };
            (f64::from(score), critical_phrase(&ages))
        }
    });
    out.part(rules.critical_weight, critical, "critical tickets");

    let csat = facts.csat_avg_90d.filter(|c| c.is_finite()).map(|c| {
        let c = c.clamp(1.0, 5.0);
        ((c - 1.0) / 4.0 * 100.0, format!("average CSAT {c:.1} of 5"))
    });
    out.part(rules.csat_weight, csat, "CSAT");

    if let (Some(now), Some(before)) = (facts.tickets_last_30d, facts.tickets_prior_30d)
        && now > before
        && now - before >= rules.rising_min_increase
    {
        out.adjust(
            -i32::from(rules.rising_penalty),
            format!("tickets up from {before} to {now} against the 30 days before"),
        );
    }
    out
}

/// "a critical ticket open for 9 days", "3 critical tickets open, the oldest for 9 days".
pub(crate) fn critical_phrase(ages: &[TimeDelta]) -> String {
    let oldest = ages
        .first()
        .map(|a| a.num_days().max(0) as u32)
        .unwrap_or(0);
    let for_days = count(oldest, "day", "days");
    if ages.len() == 1 {
        format!("a critical ticket open for {for_days}")
    } else {
        format!(
            "{} critical tickets open, the oldest for {for_days}",
            ages.len()
        )
    }
}

pub(crate) fn outcomes(input: &HealthInput, _config: &HealthConfig) -> Assessment {
    let facts = &input.outcomes;
    let mut out = Assessment::default();
    let goals = match (facts.goals_set, facts.goals_met) {
        (Some(set), Some(met)) if set > 0 => {
            let met = met.min(set);
            Some((
                f64::from(met) / f64::from(set) * 100.0,
                format!("{met} of {} met", count(set, "goal", "goals")),
            ))
        }
        _ => None,
    };
    out.part(1.0, goals, "goals set and met");
    out
}

pub(crate) fn relationship(input: &HealthInput, config: &HealthConfig) -> Assessment {
    let rules = &config.relationship;
    let facts = &input.relationship;
    let mut out = Assessment::default();

    let contacts = facts.active_contacts.and_then(|n| {
        let scores = &rules.contact_scores;
        let score = *scores.get((n as usize).min(scores.len().checked_sub(1)?))?;
        let phrase = match n {
            0 => "no active contact".to_string(),
            1 => "a single active contact".to_string(),
            n => format!("{n} active contacts"),
        };
        Some((f64::from(score), phrase))
    });
    out.part(rules.contacts_weight, contacts, "active contacts");

    let sponsor = facts.executive_sponsor.map(|yes| {
        if yes {
            (100.0, "an executive sponsor".to_string())
        } else {
            (0.0, "no executive sponsor".to_string())
        }
    });
    out.part(rules.sponsor_weight, sponsor, "an executive sponsor");

    let champion = facts.champion.map(|yes| {
        if yes {
            (100.0, "a champion".to_string())
        } else {
            (0.0, "no champion".to_string())
        }
    });
    out.part(rules.champion_weight, champion, "a champion");

    let nps = input.fresh_nps(config.nps_max_age_days).map(|nps| {
        let band = NpsBand::of(nps.score);
        let score = match band {
            NpsBand::Promoter => rules.promoter_score,
            NpsBand::Passive => rules.passive_score,
            NpsBand::Detractor => rules.detractor_score,
        };
        (
            f64::from(score),
            format!(
                "last NPS {} ({}) on {}",
                nps.score,
                band.as_str(),
                nps.at.format("%Y-%m-%d")
            ),
        )
    });
    let nps_missing = if facts.last_nps.is_some() {
        "a recent NPS (the last one is too old)"
    } else {
        "NPS"
    };
    out.part(rules.nps_weight, nps, nps_missing);
    out
}

pub(crate) fn payments(input: &HealthInput, _config: &HealthConfig) -> Assessment {
    let facts = &input.payments;
    let mut out = Assessment::default();
    let paid = match (facts.on_time_6m, facts.late_6m) {
        (Some(on_time), Some(late)) if on_time > 0 || late > 0 => {
            let total = on_time.saturating_add(late);
            Some((
                f64::from(on_time) / (f64::from(on_time) + f64::from(late)) * 100.0,
                format!(
                    "{on_time} of {} on time in 6 months",
                    count(total, "payment", "payments")
                ),
            ))
        }
        _ => None,
    };
    out.part(1.0, paid, "payments in the last 6 months");
    out
}
