//! The daily digest: posts queued with delivery 'digest' wait until the day's digest time
//! (`digest.daily_at` in the team's zone, `escalation.sla.time_zone`), then each recipient gets
//! one post listing them, and the items are marked 'digested'.
//!
//! A digest is named by its recipient and local date (`digest:staff-3:2026-03-02`), and it is
//! written in the same transaction that marks its items, so running the job twice, or on two
//! instances, or again after a crash, neither loses an item nor posts a digest twice. An item
//! that turns up after its recipient's digest for the day went out waits for the next one.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use sqlx::PgPool;

use super::texts::{self as post_texts, Lang};
use crate::domain::{PostId, StaffId};
use crate::outbound::calendar::ClockTime;
use crate::outbound::scheduler::{JobFn, job_fn};
use crate::staff_posts::{self, NewPost, PostDelivery, PostKind, Recipient};

/// Telegram's limit for one message, in UTF-16 code units.
pub const MAX_POST_LEN: usize = 4096;
/// One entry shows at most this many characters of the post it stands for.
const ENTRY_LEN: usize = 200;
/// The scheduler looks every minute whether a digest is due; the date in each digest's key
/// makes the looks after the first one of the day do nothing.
pub const DIGEST_TICK_CRON: &str = "15 * * * * *";

/// What one composition did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestReport {
    /// The local date the digests are named after.
    pub date: NaiveDate,
    /// Items due at or before this instant (that day's `daily_at`) were gathered.
    pub cutoff: DateTime<Utc>,
    /// Recipients who got a digest now.
    pub recipients: usize,
    /// Posts written (more than `recipients` when a digest had to be split).
    pub posts: usize,
    /// Items gathered into those posts.
    pub items: usize,
    /// Items left for the next digest, because their recipient's digest for `date` was
    /// already written.
    pub deferred: usize,
}

/// The most recent digest time at or before `now`: its local date in `tz`, and the instant.
pub fn latest_digest_time(
    now: DateTime<Utc>,
    tz: Tz,
    daily_at: ClockTime,
) -> (NaiveDate, DateTime<Utc>) {
    let today = now.with_timezone(&tz).date_naive();
    let at = local_instant(tz, today, daily_at);
    if at <= now {
        return (today, at);
    }
    let yesterday = today - Days::new(1);
    (yesterday, local_instant(tz, yesterday, daily_at))
}

/// `time` on `date` in `tz`. A time skipped by a clock change counts from an hour later; a time
/// that happens twice counts the first time.
fn local_instant(tz: Tz, date: NaiveDate, time: ClockTime) -> DateTime<Utc> {
    let local = date.and_time(time.0);
    tz.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(local + chrono::TimeDelta::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&local))
}

/// One queued item, as the digest shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestItem {
    pub account_name: Option<String>,
    pub body: String,
}

/// One short line for an item: its account and the first line of its text.
pub fn digest_entry(item: &DigestItem) -> String {
    let first = item
        .body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let line = match &item.account_name {
        Some(account) if !first.contains(account.as_str()) => format!("{account}: {first}"),
        _ => first.to_string(),
    };
    let short = if line.chars().count() > ENTRY_LEN {
        let cut: String = line.chars().take(ENTRY_LEN - 1).collect();
        format!("{}…", cut.trim_end())
    } else {
        line
    };
    format!("• {short}")
}

fn len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// The digest's text, split into messages of at most `limit` (UTF-16 units) when it is long:
/// the header opens the first, a "continued" line the others, and no entry is split.
pub fn digest_texts(lang: Lang, date: NaiveDate, entries: &[String], limit: usize) -> Vec<String> {
    let header = post_texts::digest_header(lang, date, entries.len());
    // Room for the longest opening line any part can get, whatever the number of parts.
    let opening = len(&header).max(len(&post_texts::digest_continued(lang, date, 999, 999)));
    let room = limit.saturating_sub(opening + 2).max(1);
    let mut chunks: Vec<Vec<&str>> = vec![Vec::new()];
    let mut used = 0;
    for entry in entries {
        let cost = len(entry) + 1;
        let chunk = chunks.last_mut().expect("never empty");
        if !chunk.is_empty() && used + cost > room {
            chunks.push(vec![entry.as_str()]);
            used = cost;
        } else {
            chunk.push(entry.as_str());
            used += cost;
        }
    }
    let parts = chunks.len();
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let opening = if i == 0 {
                header.clone()
            } else {
                post_texts::digest_continued(lang, date, i + 1, parts)
            };
            format!("{opening}\n\n{}", chunk.join("\n"))
        })
        .collect()
}

/// The idempotency key of a recipient's digest for `date`; later parts add `:part-N`.
pub fn digest_key(recipient: Recipient, date: NaiveDate) -> String {
    format!("digest:{}:{date}", recipient.key())
}

struct Gathered {
    lang: Lang,
    ids: Vec<i64>,
    entries: Vec<String>,
}

/// Writes the latest due daily digest (see [`latest_digest_time`]) for every recipient with
/// planned digest items due by then, in one transaction. Safe to call at any time and any
/// number of times.
pub async fn compose_daily_digests(
    pool: &PgPool,
    time_zone: Tz,
    daily_at: ClockTime,
    now: DateTime<Utc>,
) -> anyhow::Result<DigestReport> {
    let (date, cutoff) = latest_digest_time(now, time_zone, daily_at);
    let mut report = DigestReport {
        date,
        cutoff,
        recipients: 0,
        posts: 0,
        items: 0,
        deferred: 0,
    };
    let mut tx = pool.begin().await.context("could not reach PostgreSQL")?;
    // Locked, so a second composer waits and then finds them gathered.
    let rows = sqlx::query!(
        r#"
        select p.id, p.staff_id, p.body, a.name as "account_name?", s.locale as "staff_locale?"
          from staff_posts p
          left join accounts a on a.id = p.account_id
          left join staff s on s.id = p.staff_id
         where p.status = 'planned' and p.delivery = 'digest' and p.due_at <= $1
         order by p.due_at, p.id
         for update of p
        "#,
        cutoff,
    )
    .fetch_all(&mut *tx)
    .await
    .context("could not read the items waiting for a digest")?;

    let mut by_recipient: BTreeMap<Option<i64>, Gathered> = BTreeMap::new();
    for row in rows {
        let gathered = by_recipient
            .entry(row.staff_id)
            .or_insert_with(|| Gathered {
                lang: Lang::of(row.staff_locale.as_deref()),
                ids: Vec::new(),
                entries: Vec::new(),
            });
        gathered.ids.push(row.id);
        gathered.entries.push(digest_entry(&DigestItem {
            account_name: row.account_name,
            body: row.body,
        }));
    }

    for (staff_id, gathered) in by_recipient {
        let recipient = match staff_id {
            Some(id) => Recipient::Staff(StaffId(id)),
            None => Recipient::TeamChat,
        };
        let key = digest_key(recipient, date);
        let texts = digest_texts(gathered.lang, date, &gathered.entries, MAX_POST_LEN);
        let mut first: Option<PostId> = None;
        for (i, text) in texts.iter().enumerate() {
            let post = NewPost {
                idempotency_key: if i == 0 {
                    key.clone()
                } else {
                    format!("{key}:part-{}", i + 1)
                },
                kind: PostKind::Digest,
                escalation_id: None,
                account_id: None,
                recipient,
                delivery: PostDelivery::Now,
                body: text.clone(),
                buttons: Vec::new(),
                due_at: now,
            };
            let id = staff_posts::enqueue(&mut *tx, &post, now)
                .await
                .context("could not queue a digest")?;
            if i == 0 {
                first = id;
                if first.is_none() {
                    break;
                }
            }
            report.posts += 1;
        }
        let Some(digest_id) = first else {
            report.deferred += gathered.ids.len();
            continue;
        };
        sqlx::query!(
            "update staff_posts set status = 'digested', digest_id = $2, updated_at = $3
              where id = any($1)",
            &gathered.ids,
            digest_id.0,
            now,
        )
        .execute(&mut *tx)
        .await
        .context("could not mark the digest's items")?;
        report.recipients += 1;
        report.items += gathered.ids.len();
    }
    tx.commit()
        .await
        .context("could not save the daily digests")?;
    Ok(report)
}

/// The scheduler's daily-digest job, run every tick on the leader.
pub fn daily_digest_job(pool: PgPool, time_zone: Tz, daily_at: ClockTime) -> JobFn {
    job_fn(move |now| {
        let pool = pool.clone();
        async move {
            let report = compose_daily_digests(&pool, time_zone, daily_at, now).await?;
            if report.posts > 0 || report.deferred > 0 {
                tracing::info!(?report, "daily digests");
            }
            Ok(())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 3).unwrap()
    }

    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 3, h, m, 0).unwrap()
    }

    #[test]
    fn the_digest_time_is_read_in_the_teams_zone() {
        let almaty: Tz = "Asia/Almaty".parse().unwrap();
        // 09:00 in Almaty (UTC+5) is 04:00 UTC.
        assert_eq!(
            latest_digest_time(utc(4, 0), almaty, ClockTime::hm(9, 0)),
            (date(), utc(4, 0))
        );
        let before = latest_digest_time(utc(3, 59), almaty, ClockTime::hm(9, 0));
        assert_eq!(before.0, date().pred_opt().unwrap());
        assert_eq!(before.1, utc(4, 0) - chrono::TimeDelta::days(1));
    }

    #[test]
    fn a_digest_time_skipped_by_the_clock_change_counts_from_an_hour_later() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 2026-03-29 02:30 does not exist in Berlin; 03:30 CEST is 01:30 UTC.
        let day = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        let at = local_instant(berlin, day, ClockTime::hm(2, 30));
        assert_eq!(at, Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap());
    }

    #[test]
    fn an_entry_is_the_account_and_the_first_line_of_the_post() {
        let item = DigestItem {
            account_name: Some("Acme".into()),
            body: "\nUsage fell by 40% in a month\nDetails follow".into(),
        };
        assert_eq!(digest_entry(&item), "• Acme: Usage fell by 40% in a month");
        let named = DigestItem {
            account_name: Some("Acme".into()),
            body: "Acme: health turned red".into(),
        };
        assert_eq!(digest_entry(&named), "• Acme: health turned red");
    }

    #[test]
    fn a_long_entry_is_shortened_with_an_ellipsis() {
        let item = DigestItem {
            account_name: None,
            body: "x".repeat(500),
        };
        let entry = digest_entry(&item);
        assert!(entry.ends_with('…'));
        assert_eq!(entry.chars().count(), ENTRY_LEN + 2);
    }

    #[test]
    fn a_short_digest_is_one_message_with_the_header_first() {
        let entries = vec!["• one".to_string(), "• two".to_string()];
        let texts = digest_texts(Lang::En, date(), &entries, MAX_POST_LEN);
        assert_eq!(texts.len(), 1);
        assert_eq!(
            texts[0],
            "Daily digest, 2026-03-03: 2 things that did not need you at once.\n\n• one\n• two"
        );
    }

    #[test]
    fn a_long_digest_is_split_between_entries_and_every_part_fits_telegram() {
        let entries: Vec<String> = (0..100)
            .map(|i| format!("• Сделка {i}: {}", "ж".repeat(150)))
            .collect();
        let texts = digest_texts(Lang::Ru, date(), &entries, MAX_POST_LEN);
        assert!(texts.len() > 1);
        assert!(texts.iter().all(|t| len(t) <= MAX_POST_LEN));
        assert!(texts[1].starts_with(&format!(
            "Сводка за 2026-03-03, продолжение (2 из {}):",
            texts.len()
        )));
        let listed: usize = texts
            .iter()
            .map(|t| t.lines().filter(|l| l.starts_with('•')).count())
            .sum();
        assert_eq!(listed, 100);
    }
}
