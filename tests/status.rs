//! The portfolio view a manager asks for: NPS, reply rates, renewals ahead, against a real
//! PostgreSQL (one fresh database per test). Replies and sent touches are written by SQL, as
//! the dispatcher and the inbound path would leave them.

mod fixtures;
#[path = "status/page.rs"]
mod page;
#[path = "status/summary.rs"]
mod summary;

use chrono::{DateTime, Duration, TimeZone, Utc};
use fixtures::{account, date, new_account, now};
use sqlx::PgPool;
use touchbot::domain::{AccountId, AccountLifecycle};
use touchbot::metrics::Nps;
use touchbot::status::{account_statuses, nps_between, portfolio, render_portfolio};
use touchbot::storage::accounts;

async fn contact(pool: &PgPool, account: AccountId, name: &str) -> i64 {
    sqlx::query_scalar(
        "insert into contacts (account_id, name, role, channel, address)
         values ($1, $2, 'champion', 'simulated', $2) returning id",
    )
    .bind(account.0)
    .bind(name)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn reply(
    pool: &PgPool,
    account: AccountId,
    contact: i64,
    kind: &str,
    score: Option<i16>,
    at: DateTime<Utc>,
    touch: Option<i64>,
) {
    sqlx::query(
        "insert into replies (account_id, contact_id, touch_id, channel, provider_message_id,
                              received_at, body, kind, score)
         values ($1, $2, $3, 'simulated', gen_random_uuid()::text, $4, 'answer', $5, $6)",
    )
    .bind(account.0)
    .bind(contact)
    .bind(touch)
    .bind(at)
    .bind(kind)
    .bind(score)
    .execute(pool)
    .await
    .unwrap();
}

async fn nps(pool: &PgPool, account: AccountId, contact: i64, score: i16, ago_days: i64) {
    reply(
        pool,
        account,
        contact,
        "nps",
        Some(score),
        now() - Duration::days(ago_days),
        None,
    )
    .await;
}

/// A touch of the account in `status`, to a contact or (with `contact` None) to nobody.
async fn touch(
    pool: &PgPool,
    account: AccountId,
    key: &str,
    contact: Option<i64>,
    status: &str,
    due_at: DateTime<Utc>,
) -> i64 {
    sqlx::query_scalar(
        "insert into touches (account_id, touch_key, rule, kind, category, template, contact_id,
                              due_at, status, sent_at)
         values ($1, $2, 'checkin', 'checkin', 'checkin', 'checkin', $3, $4, $5,
                 case when $5 = 'sent' then $4 end)
         returning id",
    )
    .bind(account.0)
    .bind(key)
    .bind(contact)
    .bind(due_at)
    .bind(status)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn renewing(pool: &PgPool, name: &str, renewal: chrono::NaiveDate) -> AccountId {
    let mut new = new_account(name, date(2025, 3, 1));
    new.renewal_date = Some(renewal);
    account(pool, new).await
}

#[sqlx::test]
async fn portfolio_nps_counts_each_contacts_latest_answer_of_the_last_90_days(pool: PgPool) {
    let a = account(&pool, new_account("Northwind", date(2025, 3, 1))).await;
    let b = account(&pool, new_account("Contoso", date(2025, 3, 1))).await;
    let mut c = Vec::new();
    for i in 0..9 {
        c.push(contact(&pool, if i < 5 { a } else { b }, &format!("c{i}")).await);
    }
    // An old detractor who has since become a promoter; a promoter who turned detractor.
    nps(&pool, a, c[0], 3, 100).await;
    nps(&pool, a, c[0], 10, 10).await;
    nps(&pool, a, c[1], 10, 60).await;
    nps(&pool, a, c[1], 5, 5).await;
    nps(&pool, a, c[2], 7, 89).await;
    nps(&pool, a, c[3], 8, 1).await;
    nps(&pool, a, c[4], 9, 2).await;
    nps(&pool, b, c[5], 6, 3).await;
    nps(&pool, b, c[6], 10, 30).await;
    // Too old, or not yet received at the time asked about.
    nps(&pool, b, c[7], 10, 91).await;
    nps(&pool, b, c[8], 0, -1).await;
    // Not a survey answer.
    reply(
        &pool,
        b,
        c[8],
        "checkin",
        Some(1),
        now() - Duration::days(1),
        None,
    )
    .await;

    let p = portfolio(&pool, now()).await.unwrap();
    assert_eq!(
        p.metrics.nps,
        Nps {
            answers: 7,
            promoters: 3,
            passives: 2,
            detractors: 2
        }
    );
    assert_eq!(p.metrics.nps.score(), Some(14));
    let text = render_portfolio(&p);
    assert!(
        text.contains(
            "NPS, last 90 days: +14 from 7 answers (3 promoters, 2 passives, 2 detractors)"
        ),
        "{text}"
    );
    // Each account shows its own latest score.
    let statuses = account_statuses(&pool, now(), None).await.unwrap();
    let last: Vec<(&str, Option<i16>)> = statuses
        .iter()
        .map(|s| (s.name.as_str(), s.last_nps))
        .collect();
    assert_eq!(last, [("Contoso", Some(6)), ("Northwind", Some(8))]);
}

#[sqlx::test]
async fn scores_of_6_and_7_and_8_and_9_fall_on_either_side_of_each_band(pool: PgPool) {
    let a = account(&pool, new_account("Northwind", date(2025, 3, 1))).await;
    for (i, score) in [6, 7, 8, 9].into_iter().enumerate() {
        let c = contact(&pool, a, &format!("c{i}")).await;
        nps(&pool, a, c, score, 1).await;
    }
    let n = nps_between(&pool, now() - Duration::days(90), now())
        .await
        .unwrap();
    assert_eq!(
        n,
        Nps {
            answers: 4,
            promoters: 1,
            passives: 2,
            detractors: 1
        }
    );
    assert_eq!(n.score(), Some(0));
    assert_eq!(Nps::default().score(), None);
}

#[sqlx::test]
async fn the_reply_rate_counts_answered_client_touches(pool: PgPool) {
    let a = account(&pool, new_account("Northwind", date(2025, 3, 1))).await;
    let dana = contact(&pool, a, "Dana").await;
    let day = |n: i64| now() - Duration::days(n);
    let first = touch(&pool, a, "t1", Some(dana), "sent", day(30)).await;
    touch(&pool, a, "t2", Some(dana), "sent", day(20)).await;
    let third = touch(&pool, a, "t3", Some(dana), "sent", day(10)).await;
    touch(&pool, a, "t4", Some(dana), "sent", day(5)).await;
    // Asked again, then answered (a touch holds one answer): still one answered touch. A reply
    // to nothing counts for nothing.
    reply(&pool, a, dana, "unclear", None, day(29), Some(first)).await;
    reply(&pool, a, dana, "checkin", Some(4), day(28), Some(first)).await;
    reply(&pool, a, dana, "checkin", Some(5), day(9), Some(third)).await;
    reply(&pool, a, dana, "free_text", None, day(3), None).await;
    // Not sent, or not for a client: not in the rate.
    touch(&pool, a, "t5", None, "skipped", day(2)).await;
    touch(&pool, a, "t6", Some(dana), "failed", day(1)).await;
    touch(
        &pool,
        a,
        "t7",
        Some(dana),
        "planned",
        now() + Duration::days(7),
    )
    .await;
    let aigerim = fixtures::csm(&pool, "Aigerim").await;
    sqlx::query(
        "insert into touches (account_id, touch_key, rule, kind, category, template, staff_id,
                              due_at, status, sent_at)
         values ($1, 'task', 'task', 'task', 'service', 'task', $2, $3, 'sent', $3)",
    )
    .bind(a.0)
    .bind(aigerim.0)
    .bind(day(40))
    .execute(&pool)
    .await
    .unwrap();
    // A welcome or a renewal notice asks nothing, so it cannot go unanswered.
    for (key, kind) in [("w", "welcome"), ("r", "renewal")] {
        sqlx::query(
            "insert into touches (account_id, touch_key, rule, kind, category, template,
                                  contact_id, due_at, status, sent_at)
             values ($1, $2, $3, $3, 'service', $3, $4, $5, 'sent', $5)",
        )
        .bind(a.0)
        .bind(key)
        .bind(kind)
        .bind(dana)
        .bind(day(15))
        .execute(&pool)
        .await
        .unwrap();
    }

    let s = account_statuses(&pool, now(), Some(a.0))
        .await
        .unwrap()
        .remove(0);
    assert_eq!((s.touches_sent, s.touches_answered), (4, 2));
    assert_eq!(s.reply_rate(), Some(0.5));
    assert_eq!((s.touches_skipped, s.touches_failed), (1, 1));
    assert_eq!(s.next_touch.as_deref(), Some("checkin"));
    assert_eq!(s.next_touch_at, Some(now() + Duration::days(7)));
    let text = render_portfolio(&portfolio(&pool, now()).await.unwrap());
    assert!(text.contains("50% of 4"), "{text}");
}

#[sqlx::test]
async fn renewals_within_120_days_count_only_active_accounts_with_the_date_ahead(pool: PgPool) {
    let today = now().date_naive();
    renewing(&pool, "Soon", today + Duration::days(30)).await;
    renewing(&pool, "Edge", today + Duration::days(120)).await;
    renewing(&pool, "Today", today).await;
    renewing(&pool, "Later", today + Duration::days(121)).await;
    renewing(&pool, "Passed", today - Duration::days(5)).await;
    let paused = renewing(&pool, "Paused", today + Duration::days(30)).await;
    accounts::update(
        &pool,
        paused,
        &accounts::AccountUpdate {
            lifecycle: Some(AccountLifecycle::Paused),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    account(&pool, new_account("No date", date(2025, 3, 1))).await;

    let p = portfolio(&pool, now()).await.unwrap();
    assert_eq!(p.metrics.renewals.len(), 3);
    // None is scored, so the nearest renewal ahead comes first; none or passed, last.
    let days: Vec<(&str, Option<i64>)> = p
        .accounts
        .iter()
        .map(|a| (a.name.as_str(), a.days_to_renewal))
        .collect();
    assert_eq!(
        days,
        [
            ("Today", Some(0)),
            ("Paused", Some(30)),
            ("Soon", Some(30)),
            ("Edge", Some(120)),
            ("Later", Some(121)),
            ("No date", None),
            ("Passed", Some(-5)),
        ]
    );
    let text = render_portfolio(&p);
    assert!(
        text.starts_with("Portfolio on 2026-03-02: 7 accounts (6 active)\n"),
        "{text}"
    );
    assert!(
        text.contains("Renewals in the next 120 days: 3 (3 not scored)\n"),
        "{text}"
    );
    assert!(text.contains("(passed)"), "{text}");
}

#[sqlx::test]
async fn days_to_renewal_count_from_the_accounts_own_date(pool: PgPool) {
    // 20:00 UTC on 2 March is already 3 March in Almaty.
    let evening = Utc.with_ymd_and_hms(2026, 3, 2, 20, 0, 0).unwrap();
    let mut new = new_account("Almaty", date(2025, 3, 1));
    new.time_zone = "Asia/Almaty".into();
    new.renewal_date = Some(date(2026, 3, 13));
    account(&pool, new).await;
    let s = account_statuses(&pool, evening, None).await.unwrap();
    assert_eq!(s[0].days_to_renewal, Some(10));
}
