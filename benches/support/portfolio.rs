//! The portfolio bench's data: a quarter of client history per account, written set-wise, so
//! the reassessment and `status` read what a real portfolio holds (touches sent and answered,
//! NPS answers, usage, tickets, a departed sponsor) rather than an empty calendar.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// For every `plan-%` account, as of `now`: twelve asking touches sent over the last 168 days
/// (every fourteenth day, round the three contacts), two thirds of them answered (an NPS score,
/// a detractor's one time in five, on the NPS ones, a check-in choice on the others), four touches planned ahead, and red
/// signals on a share of the accounts (a critical ticket overdue on one in ten, a departed
/// sponsor on one in twenty, usage halved on one in eight).
pub async fn seed_history(pool: &PgPool, now: DateTime<Utc>) -> anyhow::Result<()> {
    sqlx::query(
        "insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at, status, sent_at)
         select c.account_id, 'hist-' || k, r.kind, r.kind, r.category, r.kind, c.id,
                $1 - make_interval(days => 14 * k), 'sent', $1 - make_interval(days => 14 * k)
           from contacts c
           join accounts a on a.id = c.account_id and a.name like 'plan-%'
           cross join generate_series(1, 12) k
           cross join lateral (select case when k % 4 = 0 then 'nps' else 'checkin' end as kind,
                                      case when k % 4 = 0 then 'survey' else 'checkin' end
                                        as category) r
          where (c.id + k) % 3 = 0",
    )
    .bind(now)
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at)
         select c.account_id, 'next-' || k, 'checkin', 'checkin', 'checkin', 'checkin', c.id,
                $1 + make_interval(days => 7 * k)
           from contacts c
           join accounts a on a.id = c.account_id and a.name like 'plan-%'
           cross join generate_series(1, 4) k
          where (c.id + k) % 3 = 0",
    )
    .bind(now)
    .execute(pool)
    .await?;
    // Two touches in three are answered two days after their send.
    sqlx::query(
        "insert into replies (account_id, contact_id, touch_id, channel, provider_message_id,
                              received_at, body, kind, score, choice)
         select t.account_id, t.contact_id, t.id, 'simulated', 'bench-' || t.id,
                t.sent_at + interval '2 days',
                case when t.kind = 'nps' then s.score::text else 'good' end,
                t.kind,
                case when t.kind = 'nps' then s.score end,
                case when t.kind = 'checkin' then 'good' end
           from touches t
          -- One NPS answer in five is a detractor's.
          cross join lateral (select (case when t.id % 5 = 0 then t.id % 7 else 7 + t.id % 4 end)
                                       ::smallint as score) s
          where t.status = 'sent' and t.touch_key like 'hist-%' and t.id % 3 <> 0",
    )
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into signals (account_id, kind, value, details, occurred_at, source, idempotency_key)
         select a.id, 'ticket_opened', null::float8, '{\"ticket\": \"T\", \"severity\": \"critical\"}'::jsonb,
                $1 - interval '9 days', 'bench', 'bt-' || a.id
           from accounts a where a.name like 'plan-%' and a.id % 10 = 0
         union all
         select a.id, 'sponsor_left', null::float8, '{}'::jsonb, $1 - interval '1 day', 'bench', 'bs-' || a.id
           from accounts a where a.name like 'plan-%' and a.id % 20 = 1
         union all
         select a.id, 'active_users', v.value, '{}'::jsonb, v.at, 'bench', 'bu-' || a.id || '-' || v.n
           from accounts a,
                (values (1, 100.0::float8, $1 - interval '40 days'), (2, 50.0::float8, $1 - interval '1 day'))
                  as v(n, value, at)
          where a.name like 'plan-%' and a.id % 8 = 3",
    )
    .bind(now)
    .execute(pool)
    .await?;
    sqlx::query("analyze").execute(pool).await?;
    Ok(())
}
