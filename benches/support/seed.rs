//! Data the benchmarks start from, written set-wise in a few statements.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use touchbot::domain::TouchKind;

/// `touches` welcome touches due at `due`, three contacts per account, ten touches per account.
pub async fn seed_due_touches(
    pool: &PgPool,
    touches: usize,
    due: DateTime<Utc>,
) -> anyhow::Result<()> {
    let accounts = touches.div_ceil(10).max(1) as i64;
    sqlx::query(
        "insert into accounts (name, segment, contract_start, renewal_date)
         select 'dispatch-' || g, 'smb', date '2026-01-01', date '2027-01-01'
         from generate_series(1, $1) g",
    )
    .bind(accounts)
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into contacts (account_id, name, role, channel, address)
         select a.id, 'c' || a.id || '-' || k, 'champion', 'simulated', 'c' || a.id || '-' || k
         from accounts a, generate_series(1, 3) k",
    )
    .execute(pool)
    .await?;
    let kind = TouchKind::Welcome;
    sqlx::query(
        "with c as (select id, account_id, row_number() over (order by id) - 1 as n from contacts)
         insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at)
         select c.account_id, 'bench-' || g, $2, $2, $3, $2, c.id,
                $4 - make_interval(secs => g % 3600)
         from generate_series(0, $1 - 1) g
         join c on c.n = (g / 10) * 3 + g % 3",
    )
    .bind(touches as i64)
    .bind(kind.as_str())
    .bind(kind.category().as_str())
    .bind(due)
    .execute(pool)
    .await?;
    Ok(())
}

/// `accounts` active accounts across segments and zones, each with a CSM and three contacts.
pub async fn seed_accounts(pool: &PgPool, accounts: usize) -> anyhow::Result<()> {
    sqlx::query(
        "insert into staff (name, role, telegram_user_id)
         select 'csm-' || g, 'csm', 1000 + g from generate_series(1, 10) g",
    )
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into accounts (name, segment, contract_start, renewal_date, csm_id, time_zone)
         select 'plan-' || g,
                (array['enterprise', 'mid_market', 'smb'])[g % 3 + 1],
                date '2026-01-05' + (g % 60)::int,
                case when g % 5 = 0 then null else date '2027-01-05' + (g % 60)::int end,
                (select id from staff order by id limit 1 offset g % 10),
                (array['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Almaty',
                       'Australia/Sydney', 'America/Sao_Paulo'])[g % 6 + 1]
         from generate_series(1, $1) g",
    )
    .bind(accounts as i64)
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into contacts (account_id, name, role, channel, address, created_at)
         select a.id, 'p' || a.id || '-' || k,
                (array['decision_maker', 'champion', 'user'])[k], 'simulated',
                'p' || a.id || '-' || k, timestamptz '2026-01-01 00:00Z'
         from accounts a, generate_series(1, 3) k
         where a.name like 'plan-%'",
    )
    .execute(pool)
    .await?;
    Ok(())
}
