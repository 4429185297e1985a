//! What a manager asks first: how is the portfolio doing, and how is this account doing.
//! Figures come from one set-based query per question, so the answer stays fast for large
//! portfolios. Health shows the latest stored score; it is computed by `health::store`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::app::Ctx;
use crate::cli::StatusArgs;
use crate::domain::AccountId;
use crate::health::Category;
use crate::health::store::{LatestHealth, latest_scores};
use crate::storage::accounts;

#[derive(Debug, Clone, Serialize)]
pub struct AccountStatus {
    pub id: i64,
    pub name: String,
    pub segment: String,
    pub csm: Option<String>,
    pub lifecycle: String,
    pub renewal_date: Option<NaiveDate>,
    pub days_to_renewal: Option<i64>,
    /// Client-facing touches delivered that ask for an answer (surveys, check-ins, QBRs).
    pub touches_sent: i64,
    /// Of those, how many got an answer.
    pub touches_answered: i64,
    pub touches_skipped: i64,
    pub touches_failed: i64,
    pub touches_unknown: i64,
    pub next_touch: Option<String>,
    pub next_touch_at: Option<DateTime<Utc>>,
    pub last_nps: Option<i16>,
    pub last_nps_comment: Option<String>,
    pub contacts: i64,
    pub unreachable_contacts: i64,
    pub opted_out_contacts: i64,
    /// The latest health score; `None` until the account has been scored once.
    pub health: Option<LatestHealth>,
}

impl AccountStatus {
    pub fn reply_rate(&self) -> Option<f64> {
        (self.touches_sent > 0).then(|| self.touches_answered as f64 / self.touches_sent as f64)
    }
}

/// NPS over a period: % promoters (9-10) minus % detractors (0-6).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Nps {
    pub answers: i64,
    pub promoters: i64,
    pub passives: i64,
    pub detractors: i64,
}

impl Nps {
    pub fn score(&self) -> Option<i64> {
        (self.answers > 0).then(|| {
            ((self.promoters - self.detractors) as f64 * 100.0 / self.answers as f64).round() as i64
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Portfolio {
    pub at: DateTime<Utc>,
    pub accounts: Vec<AccountStatus>,
    /// NPS over the 90 days before `at`, one answer per contact (their latest).
    pub nps_90d: Nps,
    pub renewals_within_120d: i64,
}

/// Every account's status, or only `only`'s.
pub async fn account_statuses(
    pool: &PgPool,
    now: DateTime<Utc>,
    only: Option<i64>,
) -> anyhow::Result<Vec<AccountStatus>> {
    let rows = sqlx::query!(
        r#"select a.id, a.name, a.segment, a.lifecycle, a.renewal_date, s.name as "csm?",
                  (a.renewal_date - ($1::timestamptz at time zone a.time_zone)::date)::int8 as days_to_renewal,
                  t.sent as "sent!", t.answered as "answered!", t.skipped as "skipped!",
                  t.failed as "failed!", t.unknown as "unknown!",
                  nxt.template as "next_touch?", nxt.due_at as "next_touch_at?",
                  nps.score as "last_nps?", nps.comment as "last_nps_comment?",
                  c.total as "contacts!", c.unreachable as "unreachable!", c.opted_out as "opted_out!"
           from accounts a
           left join staff s on s.id = a.csm_id
           cross join lateral (
               -- The reply rate counts the touches that ask something (a welcome or a renewal
               -- notice is read, not answered).
               select count(*) filter (where status = 'sent' and contact_id is not null
                                       and kind in ('nps', 'csat', 'checkin', 'qbr')) as sent,
                      count(*) filter (where status = 'sent' and contact_id is not null
                                       and kind in ('nps', 'csat', 'checkin', 'qbr')
                                       and exists (select 1 from replies r where r.touch_id = touches.id)) as answered,
                      count(*) filter (where status = 'skipped') as skipped,
                      count(*) filter (where status = 'failed') as failed,
                      count(*) filter (where status = 'unknown') as unknown
               from touches where account_id = a.id and due_at <= $1
           ) t
           left join lateral (
               select template, due_at from touches
               where account_id = a.id and status = 'planned' and due_at > $1
               order by due_at limit 1
           ) nxt on true
           left join lateral (
               select score, comment from replies
               where account_id = a.id and kind = 'nps' and score is not null and received_at <= $1
               order by received_at desc limit 1
           ) nps on true
           cross join lateral (
               select count(*) as total,
                      count(*) filter (where unreachable_at is not null) as unreachable,
                      count(*) filter (where exists (select 1 from contact_consents cc
                                                     where cc.contact_id = contacts.id and cc.opted_out)) as opted_out
               from contacts where account_id = a.id and removed_at is null
           ) c
           where $2::int8 is null or a.id = $2
           order by lower(a.name)"#,
        now,
        only
    )
    .fetch_all(pool)
    .await?;
    let mut health = latest_scores(pool, now, only.map(AccountId)).await?;
    Ok(rows
        .into_iter()
        .map(|r| AccountStatus {
            health: health.remove(&AccountId(r.id)),
            id: r.id,
            name: r.name,
            segment: r.segment,
            csm: r.csm,
            lifecycle: r.lifecycle,
            renewal_date: r.renewal_date,
            days_to_renewal: r.days_to_renewal,
            touches_sent: r.sent,
            touches_answered: r.answered,
            touches_skipped: r.skipped,
            touches_failed: r.failed,
            touches_unknown: r.unknown,
            next_touch: r.next_touch,
            next_touch_at: r.next_touch_at,
            last_nps: r.last_nps,
            last_nps_comment: r.last_nps_comment,
            contacts: r.contacts,
            unreachable_contacts: r.unreachable,
            opted_out_contacts: r.opted_out,
        })
        .collect())
}

pub async fn nps_between(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<Nps> {
    let r = sqlx::query!(
        r#"select count(*) as "answers!",
                  count(*) filter (where score >= 9) as "promoters!",
                  count(*) filter (where score between 7 and 8) as "passives!",
                  count(*) filter (where score <= 6) as "detractors!"
           from (select distinct on (contact_id) score from replies
                 where kind = 'nps' and score is not null and received_at > $1 and received_at <= $2
                 order by contact_id, received_at desc) latest"#,
        from,
        to
    )
    .fetch_one(pool)
    .await?;
    Ok(Nps {
        answers: r.answers,
        promoters: r.promoters,
        passives: r.passives,
        detractors: r.detractors,
    })
}

pub async fn portfolio(pool: &PgPool, now: DateTime<Utc>) -> anyhow::Result<Portfolio> {
    let accounts = account_statuses(pool, now, None).await?;
    let nps_90d = nps_between(pool, now - chrono::Duration::days(90), now).await?;
    let renewals_within_120d = accounts
        .iter()
        .filter(|a| {
            a.lifecycle == "active" && a.days_to_renewal.is_some_and(|d| (0..=120).contains(&d))
        })
        .count() as i64;
    Ok(Portfolio {
        at: now,
        accounts,
        nps_90d,
        renewals_within_120d,
    })
}

pub fn render_portfolio(p: &Portfolio) -> String {
    let mut out = String::new();
    let active = p
        .accounts
        .iter()
        .filter(|a| a.lifecycle == "active")
        .count();
    out.push_str(&format!(
        "Portfolio on {}: {} accounts ({} active), {} renewals in the next 120 days\n",
        p.at.format("%Y-%m-%d"),
        p.accounts.len(),
        active,
        p.renewals_within_120d
    ));
    out.push_str(&match p.nps_90d.score() {
        Some(s) => format!(
            "NPS, last 90 days: {s:+} from {} answers ({} promoters, {} passives, {} detractors)\n",
            p.nps_90d.answers, p.nps_90d.promoters, p.nps_90d.passives, p.nps_90d.detractors
        ),
        None => "NPS, last 90 days: no answers yet\n".to_string(),
    });
    out.push_str(&health_line(&p.accounts));
    let rows = p
        .accounts
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                a.segment.clone(),
                a.csm.clone().unwrap_or_else(|| "-".into()),
                health_cell(a.health.as_ref()),
                a.reply_rate()
                    .map(|r| format!("{:.0}% of {}", r * 100.0, a.touches_sent))
                    .unwrap_or_else(|| "-".into()),
                a.last_nps
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                match (a.renewal_date, a.days_to_renewal) {
                    (Some(d), Some(n)) if n >= 0 => format!("{d} (in {n} d)"),
                    (Some(d), _) => format!("{d} (passed)"),
                    _ => "-".into(),
                },
                attention(a),
            ]
        })
        .collect();
    out.push_str(&crate::cli::table(
        &[
            "account",
            "segment",
            "CSM",
            "health",
            "replies",
            "last NPS",
            "renewal",
            "attention",
        ],
        rows,
    ));
    out.push('\n');
    out
}

/// "72 yellow ↓8": the score, its category and its move over 30 days.
fn health_cell(h: Option<&LatestHealth>) -> String {
    let Some(h) = h else {
        return "-".into();
    };
    match (h.score, h.category) {
        (Some(s), Some(c)) => {
            let arrow = match h.change_30d {
                Some(d) if d > 0 => format!(" ↑{d}"),
                Some(d) if d < 0 => format!(" ↓{}", -d),
                _ => String::new(),
            };
            format!("{s} {c}{arrow}")
        }
        _ => "no data".into(),
    }
}

/// Accounts per category and the average score, over the accounts that have one.
fn health_line(accounts: &[AccountStatus]) -> String {
    let scored: Vec<&LatestHealth> = accounts
        .iter()
        .filter_map(|a| a.health.as_ref())
        .filter(|h| h.score.is_some())
        .collect();
    if scored.is_empty() {
        return "Health: no account scored yet\n".to_string();
    }
    let average = scored
        .iter()
        .filter_map(|h| h.score)
        .map(f64::from)
        .sum::<f64>()
        / scored.len() as f64;
    let counts: Vec<String> = Category::ALL
        .iter()
        .map(|c| {
            let n = scored.iter().filter(|h| h.category == Some(*c)).count();
            format!("{n} {c}")
        })
        .collect();
    format!("Health: {}; average {average:.0}\n", counts.join(", "))
}

/// The things a manager should look at, in a few words.
fn attention(a: &AccountStatus) -> String {
    let mut notes = Vec::new();
    if let Some(s) = a.last_nps
        && s <= 6
    {
        notes.push(format!("detractor ({s})"));
    }
    if a.touches_sent >= 3 && a.reply_rate().is_some_and(|r| r < 0.34) {
        notes.push("rarely answers".to_string());
    }
    if a.unreachable_contacts > 0 {
        notes.push(format!("{} unreachable", a.unreachable_contacts));
    }
    if a.touches_unknown > 0 {
        notes.push(format!("{} sends to check", a.touches_unknown));
    }
    if a.contacts < 2 && a.lifecycle == "active" {
        notes.push("single-threaded".to_string());
    }
    notes.join(", ")
}

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

pub async fn run(ctx: &Ctx, args: StatusArgs) -> anyhow::Result<()> {
    match args.account {
        None => {
            let p = portfolio(&ctx.pool, ctx.now).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                print!("{}", render_portfolio(&p));
            }
        }
        Some(key) => {
            let account = accounts::find(&ctx.pool, &key).await?;
            let all = account_statuses(&ctx.pool, ctx.now, Some(account.id.0)).await?;
            let a = all
                .into_iter()
                .find(|s| s.id == account.id.0)
                .ok_or_else(|| anyhow::anyhow!("account {} vanished", account.id))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&a)?);
            } else {
                print!("{}", render_account(&a));
            }
        }
    }
    Ok(())
}
