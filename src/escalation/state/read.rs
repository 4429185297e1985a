//! What the rules know of an account's health and touches: read from storage, or handed over
//! by the reassessment that has just computed the scores and read the touches (`Known`), so a
//! nightly chunk reads neither twice.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use super::{Loaded, TOUCH_LOOKBACK_DAYS};
use crate::domain::{AccountId, Accounts, AccountsParams};
use crate::escalation::config::EscalationConfig;
use crate::escalation::input::{HealthCategory, HealthState, SentTouch};
use crate::health::store::{AskedTouches, Recomputed};

// The shared read of the asked touches must reach as far back as the silence rule looks.
const _: () = assert!(
    crate::health::store::ASKED_LOOKBACK.num_days() >= TOUCH_LOOKBACK_DAYS,
    "the asked touches read for the rules reach back far enough"
);

/// The health and touches of a group of accounts, as a reassessment computed and read them.
#[derive(Debug, Default)]
pub struct Known {
    health: BTreeMap<AccountId, HealthState>,
    touches: BTreeMap<AccountId, Vec<SentTouch>>,
}

impl Known {
    /// What the rules see after `done` stored its scores at `now`: each new score as the
    /// latest, the one before it as the previous category, and the drop window's scores
    /// with the new one.
    pub fn after(done: &Recomputed, config: &EscalationConfig, now: DateTime<Utc>) -> Known {
        let since = now - Duration::days(i64::from(config.health_drop.window_days));
        let health = done
            .scores
            .iter()
            .map(|(account, s)| {
                let prior = done.prior.get(account);
                let mut history: Vec<(DateTime<Utc>, u8)> = prior
                    .map(|p| p.history.iter().filter(|(at, _)| *at >= since).copied())
                    .into_iter()
                    .flatten()
                    .collect();
                history.extend(s.score.map(|score| (now, score)));
                let state = HealthState {
                    score: s.score,
                    category: s.category.and_then(|c| c.as_str().parse().ok()),
                    previous_category: prior
                        .and_then(|p| p.category.as_deref())
                        .and_then(|c| c.parse::<HealthCategory>().ok()),
                    history,
                };
                (*account, state)
            })
            .collect();
        Known {
            health,
            touches: sent_touches(&done.asked, now),
        }
    }

    pub(super) fn fill(mut self, loaded: &mut Loaded) {
        for (id, state) in &mut loaded.states {
            state.health = self.health.remove(id).unwrap_or_default();
            state.touches = self.touches.remove(id).unwrap_or_default();
        }
    }
}

/// The touches of the silence rule's look-back: answered by a reply linked to it, or by
/// anything the same contact wrote within the reply window after it (clients often answer
/// in their own words).
fn sent_touches(asked: &AskedTouches, now: DateTime<Utc>) -> BTreeMap<AccountId, Vec<SentTouch>> {
    let since = now - Duration::days(TOUCH_LOOKBACK_DAYS);
    asked
        .iter()
        .map(|(account, touches)| {
            let sent = touches
                .iter()
                .filter(|t| t.sent_at > since)
                .map(|t| SentTouch {
                    sent_at: t.sent_at,
                    answered: t.answered() || t.contact_wrote,
                })
                .collect();
            (*account, sent)
        })
        .collect()
}

/// The touches of the silence rule, read.
pub(super) async fn touches(
    pool: &PgPool,
    now: DateTime<Utc>,
    accounts: Accounts<'_>,
    loaded: &mut Loaded,
) -> anyhow::Result<()> {
    let asked = crate::health::store::read_asked(pool, now, accounts).await?;
    let mut sent = sent_touches(&asked, now);
    for (id, state) in &mut loaded.states {
        state.touches = sent.remove(id).unwrap_or_default();
    }
    Ok(())
}

/// The latest score, the category before it, and the scores inside the drop window, as
/// stored.
pub(super) async fn health(
    pool: &PgPool,
    config: &EscalationConfig,
    now: DateTime<Utc>,
    params: &AccountsParams,
    loaded: &mut Loaded,
) -> anyhow::Result<()> {
    let (only, lo, hi) = (params.ids.as_deref(), params.lo, params.hi);
    let latest = sqlx::query!(
        r#"select a.id as account_id, h.score, h.category
             from accounts a
             cross join lateral (select score, category from health_scores h
                                  where h.account_id = a.id and h.computed_at <= $2
                                  order by h.computed_at desc, h.id desc limit 2) h
            where a.lifecycle <> 'churned' and ($3::int8 is null or a.id between $3 and $4::int8)
             and ($1::bigint[] is null or a.id = any($1))"#,
        only,
        now,
        lo,
        hi
    )
    .fetch_all(pool)
    .await?;
    // Rows come newest first per account: the first is the score now, the second the one before.
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for h in latest {
        let Some(state) = loaded.states.get_mut(&AccountId(h.account_id)) else {
            continue;
        };
        let category = h
            .category
            .as_deref()
            .and_then(|c| c.parse::<HealthCategory>().ok());
        let n = seen.entry(h.account_id).or_default();
        if *n == 0 {
            state.health.score = h.score.and_then(|s| u8::try_from(s).ok());
            state.health.category = category;
        } else {
            state.health.previous_category = category;
        }
        *n += 1;
    }
    let history = sqlx::query!(
        r#"select account_id, computed_at, score as "score!" from health_scores
            where score is not null and computed_at <= $2 and computed_at >= $3
              and ($4::int8 is null or account_id between $4 and $5::int8)
             and ($1::bigint[] is null or account_id = any($1))"#,
        only,
        now,
        now - Duration::days(i64::from(config.health_drop.window_days)),
        lo,
        hi
    )
    .fetch_all(pool)
    .await?;
    for h in history {
        if let (Some(state), Ok(score)) = (
            loaded.states.get_mut(&AccountId(h.account_id)),
            u8::try_from(h.score),
        ) {
            state.health.history.push((h.computed_at, score));
        }
    }
    Ok(())
}
