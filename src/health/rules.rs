//! The rule model: a handful of plain rules that add or take away points, summed and kept
//! within 0-100. Easier to explain than the weighted model, coarser in what it sees. A rule
//! without data adds nothing and is reported as unknown.

use super::components::critical_phrase;
use super::config::HealthConfig;
use super::explain::{count, percent};
use super::input::{HealthInput, NpsBand};
use super::score::{ComponentScore, HealthScore};
use chrono::TimeDelta;

/// One rule's verdict: the points it gives and why, or `None` without data.
type Verdict = Option<(i32, String)>;

pub(crate) fn score(input: &HealthInput, config: &HealthConfig) -> HealthScore {
    let points = &config.rules;
    let rules: [(&str, &str, i32, Verdict); 5] = [
        (
            "logins",
            "login days",
            points.login_high.max(points.login_low),
            logins(input, config),
        ),
        (
            "active users",
            "active users and licences",
            points.active_users,
            active_users(input, config),
        ),
        (
            "critical tickets",
            "critical tickets",
            points.no_critical.max(points.critical_overdue),
            critical(input, config),
        ),
        (
            "NPS",
            "a recent NPS",
            points.promoter.max(points.detractor),
            nps(input, config),
        ),
        (
            "payments",
            "payments in the last 6 months",
            points.payments_on_time,
            payments(input, config),
        ),
    ];

    let mut total: i64 = 0;
    let mut any_known = false;
    let mut missing = Vec::new();
    let mut components = Vec::with_capacity(rules.len());
    for (name, data, most, verdict) in rules {
        let (points, explanation) = match verdict {
            Some((points, reason)) => {
                any_known = true;
                total += i64::from(points);
                (Some(points), format!("{name} {points:+}: {reason}"))
            }
            None => {
                missing.push(name.to_string());
                (None, format!("{name} unknown: no data on {data}"))
            }
        };
        components.push(ComponentScore {
            name: name.to_string(),
            weight: f64::from(most.max(0)),
            effective_weight: if points.is_some() { 1.0 } else { 0.0 },
            value: None,
            points,
            explanation,
        });
    }

    let score = any_known.then(|| total.clamp(0, 100) as u8);
    HealthScore {
        score,
        category: score.map(|s| config.bands.category(s)),
        model: "rules".to_string(),
        components,
        missing,
    }
}

fn logins(input: &HealthInput, config: &HealthConfig) -> Verdict {
    let rules = &config.rules;
    let days = input.usage.login_days_last_30?.min(30);
    let said = format!("logged in on {days} of the last 30 days");
    Some(if days > rules.login_days_high_above {
        (
            rules.login_high,
            format!("{said} (more than {})", rules.login_days_high_above),
        )
    } else if days >= rules.login_days_low_from {
        (
            rules.login_low,
            format!(
                "{said} ({} to {})",
                rules.login_days_low_from, rules.login_days_high_above
            ),
        )
    } else {
        (
            0,
            format!("{said} (fewer than {})", rules.login_days_low_from),
        )
    })
}

fn active_users(input: &HealthInput, config: &HealthConfig) -> Verdict {
    let above = config.rules.active_share_above;
    let active = input.usage.active_users?;
    let licences = input.usage.licences.filter(|l| *l > 0)?;
    let share = f64::from(active) / f64::from(licences);
    let said = format!(
        "{active} of {} in use ({})",
        count(licences, "licence", "licences"),
        percent(share)
    );
    Some(if share > above {
        (
            config.rules.active_users,
            format!("{said}, more than {}", percent(above)),
        )
    } else {
        (0, format!("{said}, not more than {}", percent(above)))
    })
}

fn critical(input: &HealthInput, config: &HealthConfig) -> Verdict {
    let ages = input.critical_ages()?;
    let overdue_after = TimeDelta::days(i64::from(config.critical_overdue_days));
    Some(match ages.first() {
        None => (
            config.rules.no_critical,
            "no critical ticket open".to_string(),
        ),
        Some(oldest) if *oldest > overdue_after => (
            config.rules.critical_overdue,
            format!(
                "{}, longer than {}",
                critical_phrase(&ages),
                count(config.critical_overdue_days, "day", "days")
            ),
        ),
        Some(_) => (0, critical_phrase(&ages)),
    })
}

fn nps(input: &HealthInput, config: &HealthConfig) -> Verdict {
    let nps = input.fresh_nps(config.nps_max_age_days)?;
    let band = NpsBand::of(nps.score);
    let points = match band {
        NpsBand::Promoter => config.rules.promoter,
        NpsBand::Passive => 0,
        NpsBand::Detractor => config.rules.detractor,
    };
    Some((
        points,
        format!(
            "last NPS {} ({}) on {}",
            nps.score,
            band.as_str(),
            nps.at.format("%Y-%m-%d")
        ),
    ))
}

fn payments(input: &HealthInput, config: &HealthConfig) -> Verdict {
    let on_time = input.payments.on_time_6m?;
    let late = input.payments.late_6m?;
    // No invoice in six months says nothing about paying on time.
    if on_time == 0 && late == 0 {
        return None;
    }
    Some(if late == 0 {
        (
            config.rules.payments_on_time,
            if on_time == 1 {
                "the one payment of the last 6 months on time".to_string()
            } else {
                format!("all {on_time} payments of the last 6 months on time")
            },
        )
    } else {
        (
            0,
            format!(
                "{late} of {} in the last 6 months late",
                count(on_time.saturating_add(late), "payment", "payments")
            ),
        )
    })
}
