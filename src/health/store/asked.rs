//! The touches that asked something, read once for a group of accounts and shared by every
//! reader of a reassessment: the health score's engagement, the touch counts kept beside the
//! score for the portfolio's figures, and the escalation rules' silence. Each counts an answer
//! its own way (a linked reply by now; one within the reply window; anything the contact
//! wrote after the send), so a row carries what all three need, each looked up once.

use std::collections::BTreeMap;

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

use crate::domain::{AccountId, Accounts};
use crate::inbound::REPLY_WINDOW;

/// How far back the escalation rules' silence looks; the health reads 90 days of touches and
/// every check-in, whatever its age, for the latest ones.
pub const LOOKBACK: TimeDelta = TimeDelta::days(180);

/// One sent touch that asked something (an NPS or CSAT survey, a check-in, a QBR invitation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AskedTouch {
    pub checkin: bool,
    pub sent_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    /// The earliest reply linked to the touch, received by `now`.
    pub first_reply: Option<DateTime<Utc>>,
    /// The contact wrote something within [`REPLY_WINDOW`] of the send (by `now`), though no
    /// reply is linked to it: clients often answer in their own words. Looked up only for a
    /// touch of the last [`LOOKBACK`] with no linked reply, the only ones it can change.
    pub contact_wrote: bool,
}

impl AskedTouch {
    /// Answered as the health and the rules' silence see it: a linked reply by `now`.
    pub fn answered(&self) -> bool {
        self.first_reply.is_some()
    }

    /// Answered as the figures count it: a linked reply within `reply` of the send.
    pub fn answered_within(&self, reply: TimeDelta) -> bool {
        self.first_reply
            .is_some_and(|at| at <= self.sent_at + reply)
    }
}

/// Each account's asked touches, newest first (by send, then id).
pub type AskedTouches = BTreeMap<AccountId, Vec<AskedTouch>>;

/// The asked touches of `among` sent by `now`: those of the last [`LOOKBACK`], and every
/// check-in. An account with none has no entry.
pub async fn read(
    pool: &PgPool,
    now: DateTime<Utc>,
    among: Accounts<'_>,
) -> anyhow::Result<AskedTouches> {
    let params = among.params();
    let reply = sqlx::postgres::types::PgInterval::try_from(REPLY_WINDOW)
        .map_err(|e| anyhow::anyhow!("reply window as an interval: {e}"))?;
    let rows = sqlx::query!(
        r#"select t.account_id, t.kind = 'checkin' as "checkin!", t.sent_at as "sent_at!",
                  t.read_at, f.first_reply,
                  -- Two probes, each along its own index, the second only where it can matter.
                  (f.first_reply is null and t.sent_at > $2
                   and exists (select 1 from replies r
                                where r.contact_id = t.contact_id and r.received_at >= t.sent_at
                                  and r.received_at <= least(t.sent_at + $3::interval, $1)))
                  as "contact_wrote!"
           from touches t
           cross join lateral (select min(r.received_at) as first_reply from replies r
                                where r.touch_id = t.id and r.received_at <= $1) f
           -- Only touches that ask something can go unanswered; a welcome or a renewal
           -- notice is read, not answered.
           where t.status = 'sent' and t.contact_id is not null
             and t.kind in ('nps', 'csat', 'checkin', 'qbr')
             and t.sent_at <= $1 and (t.sent_at > $2 or t.kind = 'checkin')
             and ($4::int8 is null or t.account_id between $4 and $5::int8)
             and ($6::int8[] is null or t.account_id = any($6))
           order by t.account_id, t.sent_at desc, t.id desc"#,
        now,
        now - LOOKBACK,
        reply,
        params.lo,
        params.hi,
        params.ids.as_deref()
    )
    .fetch_all(pool)
    .await
    .context("reading the asked touches")?;
    let mut touches = AskedTouches::new();
    for t in rows {
        touches
            .entry(AccountId(t.account_id))
            .or_default()
            .push(AskedTouch {
                checkin: t.checkin,
                sent_at: t.sent_at,
                read_at: t.read_at,
                first_reply: t.first_reply,
                contact_wrote: t.contact_wrote,
            });
    }
    Ok(touches)
}

/// The touches of the last `window` counted as the figures count them (`account_health`,
/// `metrics::response_rate`): answered within `reply` of the send; waiting while unanswered
/// inside that window; asked once answered or once the window has passed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseCounts {
    pub asked: i32,
    pub answered: i32,
    pub waiting: i32,
}

impl ResponseCounts {
    pub fn of(
        touches: &[AskedTouch],
        now: DateTime<Utc>,
        window: TimeDelta,
        reply: TimeDelta,
    ) -> Self {
        let mut counts = ResponseCounts::default();
        for t in touches.iter().filter(|t| t.sent_at > now - window) {
            let answered = t.answered_within(reply);
            let waiting = !answered && now - t.sent_at < reply;
            counts.asked += i32::from(!waiting);
            counts.answered += i32::from(answered);
            counts.waiting += i32::from(waiting);
        }
        counts
    }
}
