//! An account's replies as stored, newest first, a page at a time (for the API). The words of
//! an erased contact are never shown, whatever erasure left in the row: their answers still
//! count, without text.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::domain::{AccountId, ChannelKind, ContactId, ParseError, TouchId, TouchKind};

/// One message a contact sent, with what the parser made of it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StoredReply {
    pub id: i64,
    pub contact_id: ContactId,
    pub channel: ChannelKind,
    pub received_at: DateTime<Utc>,
    /// What it was read as: nps, csat, checkin, optout, optin, unclear (a score asked again)
    /// or free_text.
    pub kind: String,
    /// The NPS (0-10) or CSAT (1-5) score.
    pub score: Option<i16>,
    /// The check-in button chosen: good, help or manager.
    pub choice: Option<String>,
    /// The message as written; none for an erased contact.
    pub text: Option<String>,
    /// The reason given after a bare score; none for an erased contact.
    pub comment: Option<String>,
    /// True once the contact was erased: the answer still counts, its words are gone.
    pub contact_erased: bool,
    /// The touch this answers; none for a message that answered nothing.
    pub touch: Option<AnsweredTouch>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AnsweredTouch {
    pub id: TouchId,
    pub kind: TouchKind,
    /// The touch's key in the calendar, such as nps@90 or csat@T-7.
    pub key: String,
}

/// Where a page of replies ended, newest first: the next page holds those older than this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyKey {
    pub received_at: DateTime<Utc>,
    pub id: i64,
}

impl StoredReply {
    pub fn key(&self) -> ReplyKey {
        ReplyKey {
            received_at: self.received_at,
            id: self.id,
        }
    }
}

fn stored<T: std::str::FromStr<Err = ParseError>>(value: &str) -> anyhow::Result<T> {
    value
        .parse()
        .map_err(|e: ParseError| anyhow::anyhow!("a stored reply: {}", e.0))
}

/// At most `limit` replies of `account` received at or after `since`, older than `before`,
/// newest first.
pub async fn of_account(
    pool: &PgPool,
    account: AccountId,
    since: Option<DateTime<Utc>>,
    before: Option<ReplyKey>,
    limit: i64,
) -> anyhow::Result<Vec<StoredReply>> {
    let rows = sqlx::query!(
        r#"select r.id, r.contact_id, r.channel, r.received_at, r.kind, r.score, r.choice,
                  case when c.erased_at is null then nullif(r.body, '') end as "text?",
                  case when c.erased_at is null then r.comment end as "comment?",
                  c.erased_at is not null as "contact_erased!",
                  t.id as "touch_id?", t.kind as "touch_kind?", t.touch_key as "touch_key?"
             from replies r
             join contacts c on c.id = r.contact_id
             left join touches t on t.id = r.touch_id
            where r.account_id = $1
              and ($2::timestamptz is null or r.received_at >= $2)
              and ($3::timestamptz is null or (r.received_at, r.id) < ($3, $4::bigint))
            order by r.received_at desc, r.id desc
            limit $5"#,
        account.0,
        since,
        before.map(|b| b.received_at),
        before.map(|b| b.id),
        limit
    )
    .fetch_all(pool)
    .await
    .context("reading the account's replies")?;
    rows.into_iter()
        .map(|r| {
            let touch = match (r.touch_id, r.touch_kind, r.touch_key) {
                (Some(id), Some(kind), Some(key)) => Some(AnsweredTouch {
                    id: TouchId(id),
                    kind: stored(&kind)?,
                    key,
                }),
                _ => None,
            };
            Ok(StoredReply {
                id: r.id,
                contact_id: ContactId(r.contact_id),
                channel: stored(&r.channel)?,
                received_at: r.received_at,
                kind: r.kind,
                score: r.score,
                choice: r.choice,
                text: r.text,
                comment: r.comment,
                contact_erased: r.contact_erased,
                touch,
            })
        })
        .collect()
}
