//! The per-account summary the portfolio's figures read (`account_health`, migration 0027),
//! written by the reassessment from what it computed, beside its scores. A trigger on
//! `health_scores` keeps the row for every other writer (an import, a test, a clock writing out
//! of order) by reading the history back; it leaves alone the rows that already name the
//! inserted score, which the reassessment writes first (migration 0031).
//!
//! What the reassessment needs of the scores before its own: the category of the latest one
//! (the rules' "turned red, was yellow"), the scores of the rules' drop window, and enough to
//! carry the score in force 30 days back. The summary row holds most of it; the history is
//! read only where the row cannot tell.

use std::collections::BTreeMap;

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{PgConnection, PgPool};

use super::asked::{AskedTouches, ResponseCounts};
use crate::domain::{AccountId, Accounts};

/// How far back the summary compares: its score 30 days before the latest.
const BASELINE: TimeDelta = TimeDelta::days(30);

/// What one account's history held at `now`, before the new score.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriorScores {
    /// The category of the latest score at or before `now` (none: no score, or one with too
    /// little data).
    pub category: Option<String>,
    /// The scored rows of the window asked for, with their times, oldest first.
    pub history: Vec<(DateTime<Utc>, u8)>,
    /// The summary row as it stood, where it describes the account up to `now`; `None` when
    /// a score later than `now` is stored (a clock written out of order): the trigger then
    /// rebuilds the row from the history.
    baseline: Option<Baseline>,
}

/// The score in force 30 days before `now` and the time of the next scored row after that
/// instant, before the new score.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Baseline {
    score_30d_ago: Option<i16>,
    until: Option<DateTime<Utc>>,
}

/// The prior scores of the accounts `among` that are not churned, with the scored rows of
/// the last `window` (at least the 30 days the summary compares over).
pub async fn read_prior(
    pool: &PgPool,
    now: DateTime<Utc>,
    among: Accounts<'_>,
    window: TimeDelta,
) -> anyhow::Result<BTreeMap<AccountId, PriorScores>> {
    let params = among.params();
    let baseline_at = now - BASELINE;
    // The summary row names the latest score; its baseline still holds at `now - 30 days`
    // unless a scored row came after the old baseline by then. Only the accounts where it does
    // not hold, or that hold a score later than `now`, probe the history (the lateral joins'
    // conditions on `s` alone are checked before any index is read).
    let rows = sqlx::query!(
        r#"select a.id as account_id, s.account_id is not null as "summarized!",
                  coalesce(s.computed_at > $1, false) as "later!",
                  case when s.computed_at <= $1 then s.category else p.category end as category,
                  case when s.computed_at <= $1
                            and (s.baseline_until is null or s.baseline_until > $2)
                       then s.score_30d_ago else b.score end as score_30d_ago,
                  case when s.computed_at <= $1
                            and (s.baseline_until is null or s.baseline_until > $2)
                       then s.baseline_until end as until,
                  w.ats as "ats!", w.scores as "scores!"
           from accounts a
           left join account_health s on s.account_id = a.id
           left join lateral (select h.category from health_scores h
                               where s.computed_at > $1 and h.account_id = a.id
                                 and h.computed_at <= $1
                               order by h.computed_at desc, h.id desc limit 1) p on true
           left join lateral (select h.score from health_scores h
                               where (s.computed_at > $1 or s.baseline_until <= $2)
                                 and h.account_id = a.id and h.score is not null
                                 and h.computed_at <= $2
                               order by h.computed_at desc, h.id desc limit 1) b on true
           cross join lateral (select coalesce(array_agg(h.computed_at order by h.computed_at, h.id),
                                               '{}') as ats,
                                      coalesce(array_agg(h.score order by h.computed_at, h.id),
                                               '{}') as scores
                                 from health_scores h
                                where s.account_id is not null and h.account_id = a.id
                                  and h.score is not null
                                  and h.computed_at >= $3 and h.computed_at <= $1) w
           where a.lifecycle <> 'churned' and ($4::int8 is null or a.id between $4 and $5::int8)
             and ($6::int8[] is null or a.id = any($6))"#,
        now,
        baseline_at,
        now - window.max(BASELINE),
        params.lo,
        params.hi,
        params.ids.as_deref()
    )
    .fetch_all(pool)
    .await
    .context("reading the scores before the new ones")?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let history = r
                .ats
                .into_iter()
                .zip(r.scores)
                .filter_map(|(at, score)| Some((at, u8::try_from(score).ok()?)))
                .collect::<Vec<_>>();
            let baseline = match (r.summarized, r.later) {
                (_, true) => None,
                // Every score written since migration 0027 keeps the row, so an account
                // without one has never been scored.
                (false, false) => Some(Baseline::default()),
                // Where the old baseline still holds, so does the next scored row after it;
                // otherwise that row is in the window read, if there is one.
                (true, false) => Some(Baseline {
                    score_30d_ago: r.score_30d_ago,
                    until: r.until.or_else(|| {
                        history
                            .iter()
                            .map(|(at, _)| *at)
                            .find(|at| *at > baseline_at)
                    }),
                }),
            };
            let prior = PriorScores {
                category: r.category,
                history,
                baseline,
            };
            (AccountId(r.account_id), prior)
        })
        .collect())
}

/// One account's summary row as the reassessment writes it beside its new score.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    pub account: AccountId,
    pub score_id: i64,
    pub score: Option<i16>,
    pub category: Option<String>,
    pub score_30d_ago: Option<i16>,
    pub baseline_until: Option<DateTime<Utc>>,
    pub counts: ResponseCounts,
}

impl SummaryRow {
    /// The row for `account`'s new score `score_id` at `now`, or `None` when the history
    /// holds a later score, which stays the summary's (the trigger keeps that row).
    pub fn after(
        account: AccountId,
        score_id: i64,
        (score, category): (Option<i16>, Option<String>),
        prior: Option<&PriorScores>,
        asked: &AskedTouches,
        now: DateTime<Utc>,
    ) -> Option<SummaryRow> {
        // An account the read before did not see is left to the trigger.
        let baseline = prior?.baseline?;
        let params = crate::metrics::Params::default();
        let touches = asked.get(&account).map_or(&[][..], Vec::as_slice);
        Some(SummaryRow {
            account,
            score_id,
            // With no scored row after the old baseline, the next one is this score.
            baseline_until: baseline.until.or(score.map(|_| now)),
            score,
            category,
            score_30d_ago: baseline.score_30d_ago,
            counts: ResponseCounts::of(touches, now, params.response_window, params.reply_window),
        })
    }
}

/// Writes the summary rows of the scores about to be inserted at `now`: the latest score, the
/// one in force 30 days before, and the touch counts with the figures' default windows. A row
/// that already names a later score is left as it is (two writers of one account at once:
/// the later score wins whichever commits last).
pub async fn keep(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    rows: &[SummaryRow],
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&SummaryRow) -> i32| rows.iter().map(f).collect::<Vec<i32>>();
    let accounts: Vec<i64> = rows.iter().map(|r| r.account.0).collect();
    let score_ids: Vec<i64> = rows.iter().map(|r| r.score_id).collect();
    let scores: Vec<Option<i16>> = rows.iter().map(|r| r.score).collect();
    let categories: Vec<Option<String>> = rows.iter().map(|r| r.category.clone()).collect();
    let before: Vec<Option<i16>> = rows.iter().map(|r| r.score_30d_ago).collect();
    let until: Vec<Option<DateTime<Utc>>> = rows.iter().map(|r| r.baseline_until).collect();
    sqlx::query!(
        r#"insert into account_health as s (account_id, score_id, computed_at, score, category,
                                            baseline_at, score_30d_ago, baseline_until,
                                            counted_at, asked, answered, waiting,
                                            nps_counted_at, nps_answers, promoters, passives,
                                            detractors)
           select u.account_id, u.score_id, $1, u.score, u.category, $2, u.before, u.until,
                  $1, u.asked, u.answered, u.waiting,
                  $1, coalesce(c.answers, 0), coalesce(c.promoters, 0),
                  coalesce(c.passives, 0), coalesce(c.detractors, 0)
             from unnest($3::int8[], $4::int8[], $5::int2[], $6::text[], $7::int2[],
                         $8::timestamptz[], $9::int4[], $10::int4[], $11::int4[])
                  as u(account_id, score_id, score, category, before, until, asked, answered,
                       waiting)
             -- the NPS answers of the figures' default window, counted in the same statement
             -- rather than by a second update of the rows just written
             left join nps_counts($1, $12, $3) c on c.account_id = u.account_id
           on conflict (account_id) do update
              set score_id = excluded.score_id, computed_at = excluded.computed_at,
                  score = excluded.score, category = excluded.category,
                  baseline_at = excluded.baseline_at, score_30d_ago = excluded.score_30d_ago,
                  baseline_until = excluded.baseline_until, counted_at = excluded.counted_at,
                  asked = excluded.asked, answered = excluded.answered,
                  waiting = excluded.waiting, nps_counted_at = excluded.nps_counted_at,
                  nps_answers = excluded.nps_answers, promoters = excluded.promoters,
                  passives = excluded.passives, detractors = excluded.detractors
            where (s.computed_at, s.score_id) <= (excluded.computed_at, excluded.score_id)"#,
        now,
        now - BASELINE,
        &accounts,
        &score_ids,
        &scores as &[Option<i16>],
        &categories as &[Option<String>],
        &before as &[Option<i16>],
        &until as &[Option<DateTime<Utc>>],
        &column(|r| r.counts.asked),
        &column(|r| r.counts.answered),
        &column(|r| r.counts.waiting),
        now - crate::metrics::Params::default().nps_window,
    )
    .execute(conn)
    .await
    .context("keeping the summary beside the scores")?;
    Ok(())
}
