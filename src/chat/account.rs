//! `/status ACCOUNT`: one account in full — the health score with each component and its reason,
//! the trend over 90 days, the last NPS and its comment, the next touches, the contacts and
//! whether they can be reached, and the open escalations.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use sqlx::PgPool;

use super::portfolio::escalation_words;
use super::takeover;
use crate::domain::AccountId;
use crate::escalation::store::{self, Filter};
use crate::health::store::{LatestHealth, history, latest_scores};
use crate::health::{ScorePoint, change_over, score_at};
use crate::storage::accounts::Account;
use crate::storage::contacts::{self, Contact};

/// Touches listed under "Next touches".
const LISTED_TOUCHES: i64 = 5;

pub(super) async fn status(
    pool: &PgPool,
    account: &Account,
    team_tz: Tz,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let id = account.id;
    let csm = match account.csm_id {
        Some(s) => {
            sqlx::query_scalar!("select name from staff where id = $1", s.0)
                .fetch_optional(pool)
                .await?
        }
        None => None,
    };
    let mut out = format!(
        "{} — {}, {}; CSM {}\n",
        account.name,
        account.segment.as_str().replace('_', " "),
        account.lifecycle,
        csm.as_deref().unwrap_or("none")
    );
    let latest = latest_scores(pool, now, Some(id)).await?.remove(&id);
    out.push_str(&health_block(latest.as_ref()));
    let points = history(pool, id, now - TimeDelta::days(365)).await?;
    out.push_str(&trend_line(&points, now));
    out.push_str(&last_nps(pool, id, now).await?);
    out.push_str(&renewal_line(account, now));
    out.push_str(&next_touches(pool, id, account.time_zone, now).await?);
    out.push_str(&contacts_block(pool, id, team_tz, now).await?);
    let mut conn = pool.acquire().await?;
    let open = store::fetch(&mut conn, Filter::Unresolved(Some(id)), false).await?;
    drop(conn);
    if open.is_empty() {
        out.push_str("Open escalations: none\n");
    } else {
        out.push_str("Open escalations:\n");
        for e in &open {
            out.push_str(&format!("• {}\n", escalation_words(e, now)));
        }
    }
    Ok(out)
}

fn health_block(h: Option<&LatestHealth>) -> String {
    let Some(h) = h else {
        return "Health: not scored yet (scores are computed nightly and when news arrives)\n"
            .into();
    };
    let mut out = match (h.score, h.category) {
        (Some(score), Some(category)) => format!(
            "Health {score} {category} (computed {})\n",
            h.computed_at.format("%-d %b %H:%M UTC")
        ),
        _ => format!(
            "Health: too little data to score (computed {})\n",
            h.computed_at.format("%-d %b %H:%M UTC")
        ),
    };
    for c in &h.components {
        out.push_str(&format!("  - {}\n", c.explanation));
    }
    if !h.missing.is_empty() {
        out.push_str(&format!("  Missing data: {}\n", h.missing.join(", ")));
    }
    out
}

/// The move over 90 days, or since the first score when the history is shorter.
fn trend_line(points: &[ScorePoint], now: DateTime<Utc>) -> String {
    let window = TimeDelta::days(90);
    let Some(current) = score_at(points, now) else {
        return "Trend over 90 days: no scores yet\n".into();
    };
    let moved = |change: i32| match change {
        0 => "unchanged".to_string(),
        d if d > 0 => format!("up {d}"),
        d => format!("down {}", -d),
    };
    if let (Some(change), Some(before)) = (
        change_over(points, now, window),
        score_at(points, now - window),
    ) {
        return format!(
            "Trend over 90 days: {} ({} → {})\n",
            moved(change),
            before.score,
            current.score
        );
    }
    match points.iter().filter(|p| p.at <= now).min_by_key(|p| p.at) {
        Some(first) if first.at < current.at => format!(
            "Trend: {} since the first score on {} ({} → {})\n",
            moved(i32::from(current.score) - i32::from(first.score)),
            first.at.format("%-d %b"),
            first.score,
            current.score
        ),
        _ => "Trend over 90 days: only one score so far\n".into(),
    }
}

async fn last_nps(pool: &PgPool, id: AccountId, now: DateTime<Utc>) -> anyhow::Result<String> {
    let row = sqlx::query!(
        r#"select r.score as "score!", r.comment, r.received_at, c.name as contact_name
             from replies r join contacts c on c.id = r.contact_id
            where r.account_id = $1 and r.kind = 'nps' and r.score is not null
              and r.received_at <= $2
            order by r.received_at desc, r.id desc
            limit 1"#,
        id.0,
        now
    )
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        None => "Last NPS: none yet\n".into(),
        Some(r) => {
            let comment = match r.comment.as_deref().map(str::trim) {
                Some(c) if !c.is_empty() => format!(" — \"{c}\""),
                _ => " (no comment)".into(),
            };
            format!(
                "Last NPS: {} from {} on {}{comment}\n",
                r.score,
                r.contact_name,
                r.received_at.format("%-d %b %Y")
            )
        }
    })
}

fn renewal_line(account: &Account, now: DateTime<Utc>) -> String {
    let Some(date) = account.renewal_date else {
        return "Renewal: no date set\n".into();
    };
    let today = now.with_timezone(&account.time_zone).date_naive();
    match (date - today).num_days() {
        0 => format!("Renewal: {date}, today\n"),
        d if d > 0 => format!("Renewal: {date}, in {d} days\n"),
        d => format!("Renewal: {date}, {} days ago\n", -d),
    }
}

async fn next_touches(
    pool: &PgPool,
    id: AccountId,
    tz: Tz,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let rows = sqlx::query!(
        r#"select t.kind, t.due_at, c.name as "contact?", s.name as "staff?"
             from touches t
             left join contacts c on c.id = t.contact_id
             left join staff s on s.id = t.staff_id
            where t.account_id = $1 and t.status = 'planned'
            order by t.due_at, t.id
            limit $2"#,
        id.0,
        LISTED_TOUCHES
    )
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        return Ok("Next touches: nothing planned\n".into());
    }
    let mut out = "Next touches:\n".to_string();
    for r in rows {
        let to = r
            .contact
            .or(r.staff.map(|s| format!("{s} (task)")))
            .unwrap_or_else(|| "nobody".into());
        let overdue = if r.due_at <= now { ", overdue" } else { "" };
        out.push_str(&format!(
            "• {} — {} to {to}{overdue}\n",
            r.due_at.with_timezone(&tz).format("%a %-d %b %H:%M %Z"),
            r.kind.replace('_', " ")
        ));
    }
    Ok(out)
}

async fn contacts_block(
    pool: &PgPool,
    id: AccountId,
    team_tz: Tz,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let people = contacts::list(pool, id).await?;
    if people.is_empty() {
        return Ok("Contacts: none — add one with touchbot contact add\n".into());
    }
    let mut out = "Contacts:\n".to_string();
    for c in &people {
        let talking = takeover::active(pool, c.id, now).await?;
        out.push_str(&format!(
            "• {}\n",
            contact_words(c, talking.as_ref(), team_tz)
        ));
    }
    Ok(out)
}

/// "Dana, champion, telegram — reachable; opted out of survey".
fn contact_words(c: &Contact, talking: Option<&takeover::Takeover>, tz: Tz) -> String {
    let reach = match (&c.unreachable_reason, &c.address) {
        (Some(reason), _) => format!("unreachable ({})", reason.replace('_', " ")),
        (None, None) => "has not joined the bot yet".into(),
        (None, Some(_)) => "reachable".into(),
    };
    let mut words = format!(
        "{}, {}, {} — {reach}",
        c.name,
        c.role.as_str().replace('_', " "),
        c.channel
    );
    if !c.opted_out.is_empty() {
        let what: Vec<&str> = c.opted_out.iter().map(|m| m.as_str()).collect();
        words.push_str(&format!("; opted out of {}", what.join(", ")));
    }
    if let Some(t) = talking {
        words.push_str(&format!(
            "; talking with a person, automated touches paused until {}",
            super::when(t.until, tz)
        ));
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn point(day: u32, score: u8) -> ScorePoint {
        ScorePoint {
            at: Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap(),
            score,
        }
    }

    #[test]
    fn the_trend_compares_with_the_score_in_force_90_days_ago() {
        let now = Utc.with_ymd_and_hms(2026, 4, 5, 0, 0, 0).unwrap();
        let line = trend_line(&[point(1, 60), point(20, 70), point(30, 42)], now);
        assert_eq!(line, "Trend over 90 days: down 18 (60 → 42)\n");
    }

    #[test]
    fn a_shorter_history_is_measured_from_the_first_score() {
        let now = Utc.with_ymd_and_hms(2026, 1, 31, 0, 0, 0).unwrap();
        let line = trend_line(&[point(10, 50), point(30, 65)], now);
        assert_eq!(
            line,
            "Trend: up 15 since the first score on 10 Jan (50 → 65)\n"
        );
        assert!(trend_line(&[], now).contains("no scores yet"));
        assert!(trend_line(&[point(10, 50)], now).contains("only one score"));
    }
}
