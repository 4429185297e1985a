//! The support tickets behind CSAT surveys, for a chunk of accounts in one statement.

use std::collections::HashMap;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::ContactId;
use crate::outbound::calendar::{CalendarConfig, ClosedTicket};

/// Each account's tickets closed within `[calendar.csat] within_days` of `now`, one row per
/// ticket: its latest closing, any rating given with a closing, and who raised it (the contact
/// of its first opening that names one, else of its latest closing that does). A ticket opened
/// again after its latest closing is left out: it is not closed any more.
pub async fn closed_tickets(
    pool: &PgPool,
    config: &CalendarConfig,
    ids: &[i64],
    now: DateTime<Utc>,
) -> anyhow::Result<HashMap<i64, Vec<ClosedTicket>>> {
    let (lo, hi) = crate::domain::id_bounds(ids);
    let within = i32::try_from(config.csat.within_days).unwrap_or(i32::MAX);
    let rows = sqlx::query!(
        r#"with closed as (
               select account_id, details->>'ticket' as ticket, max(occurred_at) as closed_at,
                      (array_agg((details->>'csat')::int order by occurred_at desc)
                           filter (where details ? 'csat'))[1] as csat,
                      (array_agg(contact_id order by occurred_at desc)
                           filter (where contact_id is not null))[1] as closer
               from signals
               where account_id = any($1) and account_id between $4 and $5
                 and kind = 'ticket_closed' and details ? 'ticket'
                 and occurred_at <= $2
               group by account_id, details->>'ticket'
           )
           select c.account_id, c.ticket as "ticket!", c.closed_at as "closed_at!", c.csat,
                  coalesce((select o.contact_id from signals o
                            where o.account_id = c.account_id and o.kind = 'ticket_opened'
                              and o.details->>'ticket' = c.ticket
                              and o.contact_id is not null and o.occurred_at <= $2
                            order by o.occurred_at, o.id
                            limit 1),
                           c.closer) as raised_by
           from closed c
           where c.closed_at > $2 - make_interval(days => $3)
             and not exists (select 1 from signals r
                             where r.account_id = c.account_id and r.kind = 'ticket_opened'
                               and r.details->>'ticket' = c.ticket
                               and r.occurred_at > c.closed_at and r.occurred_at <= $2)
           order by c.account_id, c.closed_at, c.ticket"#,
        ids,
        now,
        within,
        lo,
        hi,
    )
    .fetch_all(pool)
    .await
    .context("reading the recently closed tickets")?;
    let mut out: HashMap<i64, Vec<ClosedTicket>> = HashMap::new();
    for r in rows {
        out.entry(r.account_id).or_default().push(ClosedTicket {
            ticket: r.ticket,
            closed_at: r.closed_at,
            raised_by: r.raised_by.map(ContactId),
            // Stored ratings were checked to be 1-5 when the signal came in.
            csat: r.csat.and_then(|c| u8::try_from(c).ok()),
        });
    }
    Ok(out)
}
