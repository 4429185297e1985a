//! The weekly digest: each CSM gets the figures of their own accounts, each CS manager and VP
//! those of the whole portfolio with a line per CSM. Posts are queued through
//! `outbound::staff_posts` and delivered like any other staff post; the key names the reader
//! and the ISO week, so running the job twice in a week queues each post once.
//!
//! The job does not look at the calendar itself: whoever runs it (the scheduler, at
//! `[digest] weekly_day` and `weekly_at`) decides when; the week is read in the team's zone
//! (`[escalation.sla] time_zone`).

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use sqlx::PgPool;

use super::{CsmMetrics, Params, Scope, TeamMetrics, by_csm, compute, load, text};
use crate::config::Settings;
use crate::domain::StaffRole;
use crate::outbound::staff_posts::{NewPost, PostDelivery, PostKind, Recipient, enqueue};

/// Renewals listed by name in a digest; the rest are counted.
const DIGEST_RENEWALS: usize = 5;
/// Telegram takes 4096 characters; a margin keeps the last line whole.
const MAX_CHARS: usize = 4000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WeeklyReport {
    /// Posts queued by this run.
    pub queued: usize,
    /// Posts this run found already queued for the week.
    pub already_queued: usize,
}

/// "2026-W48": the ISO week of `now` in `zone` (the year is the ISO year, so 31 December can
/// belong to week 1 of the next year).
pub fn iso_week(now: DateTime<Utc>, zone: Tz) -> String {
    let week = now.with_timezone(&zone).iso_week();
    format!("{}-W{:02}", week.year(), week.week())
}

/// The text of one digest. `team` is given for a manager's digest: a line per CSM follows.
pub fn weekly_text(week: &str, m: &TeamMetrics, team: Option<&[CsmMetrics]>) -> String {
    let whose = if team.is_some() {
        "The team's"
    } else {
        "Your portfolio's"
    };
    let mut out = format!(
        "{whose} week {week}: {}, {} active.\n",
        text::count(m.accounts, "accounts"),
        m.active
    );
    out.push_str(&text::block(m, DIGEST_RENEWALS));
    let Some(team) = team.filter(|t| !t.is_empty()) else {
        return out;
    };
    out.push_str("By CSM:\n");
    for (i, c) in team.iter().enumerate() {
        let line = format!("  {}\n", csm_summary(c));
        let rest = team.len() - i;
        let note = format!("  and {rest} more: touchbot status shows everyone\n");
        if out.chars().count() + line.chars().count() + note.chars().count() > MAX_CHARS {
            out.push_str(&note);
            break;
        }
        out.push_str(&line);
    }
    out
}

/// "Aigerim: 12 accounts, NPS +14 (7), health 72 ↓3, replies 64% of 50, open escalations 2,
/// renewals 3 (1 red)".
fn csm_summary(c: &CsmMetrics) -> String {
    let m = &c.metrics;
    format!(
        "{}: {}, NPS {}, health {}, replies {}, open escalations {}, renewals {}",
        c.name,
        text::count(m.accounts, "accounts"),
        text::nps_cell(m),
        text::health_cell(m),
        text::response_cell(m),
        m.escalations.open,
        text::renewals_cell(&m.renewals)
    )
}

/// Queues this week's digest for every CSM who owns an account and for every CS manager and
/// VP. Returns how many posts were queued now and how many already were.
pub async fn queue_weekly_digests(
    pool: &PgPool,
    settings: &Settings,
    now: DateTime<Utc>,
) -> anyhow::Result<WeeklyReport> {
    let params = Params::from_settings(settings);
    let facts = load(pool, now, None, &params).await?;
    let week = iso_week(now, settings.escalation.sla.time_zone);
    let portfolio = compute(&facts, Scope::Portfolio, &params);
    let team = by_csm(&facts, &params);

    let mut report = WeeklyReport::default();
    for person in &facts.staff {
        let body = match person.role {
            StaffRole::Csm => {
                let mine = compute(&facts, Scope::Csm(person.id), &params);
                // Nothing to report to a CSM without accounts.
                if mine.accounts == 0 {
                    continue;
                }
                weekly_text(&week, &mine, None)
            }
            StaffRole::CsManager | StaffRole::Vp => weekly_text(&week, &portfolio, Some(&team)),
            StaffRole::Admin => continue,
        };
        let recipient = Recipient::Staff(person.id);
        let post = NewPost {
            idempotency_key: format!("weekly:{}:{week}", recipient.key()),
            kind: PostKind::Weekly,
            escalation_id: None,
            account_id: None,
            recipient,
            delivery: PostDelivery::Now,
            body,
            buttons: Vec::new(),
            due_at: now,
        };
        match enqueue(pool, &post, now).await? {
            Some(_) => report.queued += 1,
            None => report.already_queued += 1,
        }
    }
    Ok(report)
}
