//! The statements of a batch of inbound messages, each over the whole batch: one read of
//! every fact the rules need, then one statement per kind of row written (replies, comments,
//! the contacts' last message, signals, follow-ups), so a batch of a hundred costs about as
//! many round trips as a batch of one.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::decide::{ButtonTouch, Facts, LastReply, NewReply, OpenTouch, body, button_touch};
use super::{Contact, InboundMessage, REPLY_WINDOW};
use crate::domain::{AccountId, ContactId};
use crate::inbound::receive::reply_key;

/// What was found for one message: its contact (None for an unknown sender), the outcome
/// stored by an earlier delivery (its signal's details), and the facts for the rules.
pub(super) struct Found {
    pub(super) contact: Option<Contact>,
    pub(super) stored: Option<serde_json::Value>,
    pub(super) facts: Facts,
}

/// Reads, for every message, its contact and what the rules need, in one statement.
pub(super) async fn read_facts(
    conn: &mut PgConnection,
    messages: &[InboundMessage],
) -> Result<Vec<Found>, sqlx::Error> {
    let channels: Vec<&str> = messages.iter().map(|m| m.channel.as_str()).collect();
    let addresses: Vec<&str> = messages.iter().map(|m| m.address.as_str()).collect();
    let ats: Vec<DateTime<Utc>> = messages.iter().map(|m| m.received_at).collect();
    let keys: Vec<String> = messages.iter().map(reply_key).collect();
    let buttons: Vec<Option<i64>> = messages
        .iter()
        .map(|m| button_touch(m).map(|t| t.0))
        .collect();
    let rows = sqlx::query!(
        r#"select c.id as "contact_id?", c.account_id as "account_id?", c.name as "name?",
                  coalesce(c.locale, a.locale) as "locale?", a.name as "account_name?",
                  s.name as "csm_name?", g.details as "stored?",
                  exists(select 1 from contact_takeovers k
                          where k.contact_id = c.id and k.ended_at is null and k.until > u.at)
                      as "takeover!",
                  o.id as "open_id?", o.kind as "open_kind?", o.sent_at as "open_sent_at?",
                  exists(select 1 from replies r where r.touch_id = o.id and r.kind = 'unclear')
                      as "open_reasked!",
                  l.id as "last_id?", l.kind as "last_kind?", l.score as "last_score?",
                  l.comment as "last_comment?", l.received_at as "last_at?",
                  b.kind as "button_kind?", b.answered as "button_answered?"
             from unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::int8[])
                  with ordinality as u(channel, address, at, key, button, n)
             left join contacts c
                    on c.channel = u.channel and c.address = u.address and c.removed_at is null
             left join accounts a on a.id = c.account_id
             left join staff s on s.id = a.csm_id
             left join signals g on g.idempotency_key = u.key
             left join lateral (
                  select t.id, t.kind, t.sent_at from touches t
                   where t.contact_id = c.id and t.status = 'sent'
                     and t.kind in ('nps', 'csat', 'checkin')
                     and t.sent_at > u.at - make_interval(secs => $6) and t.sent_at <= u.at
                     and not exists (select 1 from replies r
                                      where r.touch_id = t.id and r.kind <> 'unclear')
                   order by t.sent_at desc, t.id desc
                   limit 1) o on true
             left join lateral (
                  select r.id, r.kind, r.score, r.comment, r.received_at from replies r
                   where r.contact_id = c.id and r.received_at <= u.at
                   order by r.received_at desc, r.id desc
                   limit 1) l on true
             left join lateral (
                  select t.kind,
                         exists(select 1 from replies r
                                 where r.touch_id = t.id and r.kind <> 'unclear') as answered
                    from touches t where t.id = u.button and t.contact_id = c.id) b on true
            order by u.n"#,
        &channels as &[&str],
        &addresses as &[&str],
        &ats,
        &keys,
        &buttons as &[Option<i64>],
        REPLY_WINDOW.num_seconds() as f64,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let contact = match (r.contact_id, r.account_id, r.name, r.locale, r.account_name) {
                (Some(id), Some(account), Some(name), Some(locale), Some(account_name)) => {
                    Some(Contact {
                        id: ContactId(id),
                        account_id: AccountId(account),
                        name,
                        locale,
                        account_name,
                        csm_name: r.csm_name,
                    })
                }
                _ => None,
            };
            let open = match (r.open_id, r.open_kind, r.open_sent_at) {
                (Some(id), Some(kind), Some(sent_at)) => Some(OpenTouch { id, kind, sent_at }),
                _ => None,
            };
            let last = match (r.last_id, r.last_kind, r.last_at) {
                (Some(id), Some(kind), Some(received_at)) => Some(LastReply {
                    id,
                    kind,
                    score: r.last_score,
                    comment: r.last_comment,
                    received_at,
                }),
                _ => None,
            };
            let button = match (r.button_kind, r.button_answered) {
                (Some(kind), Some(answered)) => Some(ButtonTouch { kind, answered }),
                _ => None,
            };
            Found {
                contact,
                stored: r.stored,
                facts: Facts {
                    takeover: r.takeover,
                    open,
                    open_reasked: r.open_reasked,
                    last,
                    button,
                },
            }
        })
        .collect())
}

/// Writes the reply rows, in their order; for each, its id, or None when its touch has its
/// one answer already (from another message meanwhile). A row that exists already for the
/// same message (stored by some other path without its signal) stands, and its id is given.
pub(super) async fn insert_replies(
    conn: &mut PgConnection,
    rows: &[(&Contact, &InboundMessage, &NewReply)],
) -> Result<Vec<Option<i64>>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let accounts: Vec<i64> = rows.iter().map(|(c, _, _)| c.account_id.0).collect();
    let contacts: Vec<i64> = rows.iter().map(|(c, _, _)| c.id.0).collect();
    let touches: Vec<Option<i64>> = rows
        .iter()
        .map(|(_, _, r)| r.touch_id.map(|t| t.0))
        .collect();
    let channels: Vec<&str> = rows.iter().map(|(_, m, _)| m.channel.as_str()).collect();
    let ids: Vec<&str> = rows
        .iter()
        .map(|(_, m, _)| m.provider_message_id.as_str())
        .collect();
    let ats: Vec<DateTime<Utc>> = rows.iter().map(|(_, m, _)| m.received_at).collect();
    let bodies: Vec<&str> = rows.iter().map(|(_, m, _)| body(m)).collect();
    let kinds: Vec<&str> = rows.iter().map(|(_, _, r)| r.kind).collect();
    let scores: Vec<Option<i16>> = rows
        .iter()
        .map(|(_, _, r)| r.score.map(i16::from))
        .collect();
    let comments: Vec<Option<&str>> = rows.iter().map(|(_, _, r)| r.comment.as_deref()).collect();
    let choices: Vec<Option<&str>> = rows.iter().map(|(_, _, r)| r.choice).collect();
    let inserted = sqlx::query!(
        "insert into replies (account_id, contact_id, touch_id, channel, provider_message_id,
                              received_at, body, kind, score, comment, choice)
         select u.account_id, u.contact_id, u.touch_id, u.channel, u.provider_message_id,
                u.received_at, u.body, u.kind, u.score, u.comment, u.choice
           from unnest($1::int8[], $2::int8[], $3::int8[], $4::text[], $5::text[],
                       $6::timestamptz[], $7::text[], $8::text[], $9::int2[], $10::text[],
                       $11::text[])
                with ordinality as u(account_id, contact_id, touch_id, channel,
                                     provider_message_id, received_at, body, kind, score,
                                     comment, choice, n)
          order by u.n
         on conflict do nothing
         returning id, channel, provider_message_id",
        &accounts,
        &contacts,
        &touches as &[Option<i64>],
        &channels as &[&str],
        &ids as &[&str],
        &ats,
        &bodies as &[&str],
        &kinds as &[&str],
        &scores as &[Option<i16>],
        &comments as &[Option<&str>],
        &choices as &[Option<&str>],
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut found: HashMap<(String, String), i64> = inserted
        .into_iter()
        .map(|r| ((r.channel, r.provider_message_id), r.id))
        .collect();
    if found.len() < rows.len() {
        let existing = sqlx::query!(
            "select r.id, r.channel, r.provider_message_id
               from replies r
               join unnest($1::text[], $2::text[]) as u(channel, provider_message_id)
                 on r.channel = u.channel and r.provider_message_id = u.provider_message_id",
            &channels as &[&str],
            &ids as &[&str],
        )
        .fetch_all(&mut *conn)
        .await?;
        found.extend(
            existing
                .into_iter()
                .map(|r| ((r.channel, r.provider_message_id), r.id)),
        );
    }
    Ok(rows
        .iter()
        .map(|(_, m, _)| {
            let key = (
                m.channel.as_str().to_string(),
                m.provider_message_id.clone(),
            );
            found.get(&key).copied()
        })
        .collect())
}

/// Keeps the reasons given after bare scores: (reply id, reason).
pub(super) async fn add_comments(
    conn: &mut PgConnection,
    comments: &[(i64, &str)],
) -> Result<(), sqlx::Error> {
    if comments.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = comments.iter().map(|(id, _)| *id).collect();
    let reasons: Vec<&str> = comments.iter().map(|(_, r)| *r).collect();
    sqlx::query!(
        "update replies set comment = u.reason
           from unnest($1::int8[], $2::text[]) as u(id, reason)
          where replies.id = u.id",
        &ids,
        &reasons as &[&str],
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Remembers when each contact last wrote (WhatsApp's 24-hour window counts from it); a
/// message that arrives late never moves it back.
pub(super) async fn note_inbound(
    conn: &mut PgConnection,
    wrote: &[(ContactId, DateTime<Utc>)],
) -> Result<(), sqlx::Error> {
    if wrote.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = wrote.iter().map(|(c, _)| c.0).collect();
    let ats: Vec<DateTime<Utc>> = wrote.iter().map(|(_, at)| *at).collect();
    sqlx::query!(
        "update contacts
            set last_inbound_at = greatest(last_inbound_at, u.at)
           from (select id, max(at) as at from unnest($1::int8[], $2::timestamptz[]) as v(id, at)
                  group by id) u
          where contacts.id = u.id",
        &ids,
        &ats,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes the messages' `reply` signals with their outcomes; false when one of them was
/// written meanwhile by another delivery of the same message (the batch must not stand).
pub(super) async fn insert_signals(
    conn: &mut PgConnection,
    signals: &[(&Contact, &InboundMessage, serde_json::Value)],
) -> Result<bool, sqlx::Error> {
    if signals.is_empty() {
        return Ok(true);
    }
    let accounts: Vec<i64> = signals.iter().map(|(c, _, _)| c.account_id.0).collect();
    let contacts: Vec<i64> = signals.iter().map(|(c, _, _)| c.id.0).collect();
    let ats: Vec<DateTime<Utc>> = signals.iter().map(|(_, m, _)| m.received_at).collect();
    let sources: Vec<&str> = signals.iter().map(|(_, m, _)| m.channel.as_str()).collect();
    let keys: Vec<String> = signals.iter().map(|(_, m, _)| reply_key(m)).collect();
    let details: Vec<&serde_json::Value> = signals.iter().map(|(_, _, d)| d).collect();
    let written = sqlx::query_scalar!(
        r#"with written as (
               insert into signals (account_id, contact_id, kind, occurred_at, source,
                                    idempotency_key, details)
               select u.account_id, u.contact_id, 'reply', u.at, u.source, u.key, u.details
                 from unnest($1::int8[], $2::int8[], $3::timestamptz[], $4::text[], $5::text[],
                             $6::jsonb[])
                      with ordinality as u(account_id, contact_id, at, source, key, details, n)
                order by u.n
               on conflict (idempotency_key) do nothing
               returning 1)
           select count(*) as "written!" from written"#,
        &accounts,
        &contacts,
        &ats,
        &sources as &[&str],
        &keys,
        &details as &[&serde_json::Value],
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(written == signals.len() as i64)
}
