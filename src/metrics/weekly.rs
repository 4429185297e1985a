//! The weekly digest: each CSM gets the figures of their own accounts, each CS manager and VP
//! those of the whole portfolio with a line per CSM. Posts are queued through
//! `staff_posts` and delivered like any other staff post; the key names the reader
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
use crate::staff_posts::{NewPost, PostDelivery, PostKind, Recipient, enqueue};

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

/// Whether this week's digest is due at `now`: the team's local time has reached `day` at `at`
/// in the current ISO week. Later days of the week still count, so a digest missed while the
/// service was down goes out when it comes back (once: the post key names the week).
pub fn weekly_due(
    now: DateTime<Utc>,
    zone: Tz,
    day: chrono::Weekday,
    at: chrono::NaiveTime,
) -> bool {
    use chrono::Datelike;
    let local = now.with_timezone(&zone);
    let today = local.weekday().num_days_from_monday();
    let wanted = day.num_days_from_monday();
    today > wanted || (today == wanted && local.time() >= at)
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
                // Every CSM has a row in `team`, computed from their own share of the facts.
                let mine = match team.iter().find(|c| c.staff_id == Some(person.id)) {
                    Some(row) => row.metrics.clone(),
                    None => compute(&facts, Scope::Csm(person.id), &params),
                };
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

#[cfg(test)]
mod due_tests {
    use super::weekly_due;
    use chrono::{NaiveTime, TimeZone, Utc, Weekday};

    #[test]
    fn the_weekly_digest_is_due_from_its_day_and_time_in_the_teams_zone_until_the_week_ends() {
        let zone = chrono_tz::Europe::Moscow;
        let at = NaiveTime::from_hms_opt(9, 30, 0).unwrap();
        // Monday 2026-11-23 06:29 UTC is 09:29 in Moscow: a minute early.
        let early = Utc.with_ymd_and_hms(2026, 11, 23, 6, 29, 0).unwrap();
        assert!(!weekly_due(early, zone, Weekday::Mon, at));
        assert!(weekly_due(
            early + chrono::Duration::minutes(1),
            zone,
            Weekday::Mon,
            at
        ));
        // Still due on Sunday night if the service was down on Monday.
        let sunday = Utc.with_ymd_and_hms(2026, 11, 29, 20, 0, 0).unwrap();
        assert!(weekly_due(sunday, zone, Weekday::Mon, at));
        // A Friday digest is not due on Thursday.
        assert!(!weekly_due(
            sunday - chrono::Duration::days(3),
            zone,
            Weekday::Fri,
            at
        ));
    }
}
