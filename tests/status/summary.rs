//! The per-account summary behind the portfolio's figures (`account_health`): it follows each
//! new score, carries the score in force 30 days before, keeps the touch and NPS counts of the
//! latest reassessment, and gives way to the history for an instant it does not describe.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use touchbot::domain::AccountId;
use touchbot::health::HealthConfig;
use touchbot::health::store::recompute;
use touchbot::metrics::Params;
use touchbot::status::{account_statuses, portfolio, portfolio_of};

use super::fixtures::scores::stored_score;
use super::fixtures::{account, date, new_account, now};
use super::page::scored;
use super::{contact, reply, touch};

/// What the portfolio shows of its one account at `at`: the average score, its 30-day move,
/// and the touches asked, answered and still waiting.
async fn figures(pool: &PgPool, at: DateTime<Utc>) -> (Option<f64>, Option<f64>, (u32, u32, u32)) {
    let m = portfolio(pool, at).await.unwrap().metrics;
    (
        m.health.average,
        m.health.change_30d,
        (m.response.asked, m.response.answered, m.response.waiting),
    )
}

/// The one account's score and 30-day move as `status ACCOUNT` shows them at `at`.
async fn card(pool: &PgPool, a: AccountId, at: DateTime<Utc>) -> (Option<u8>, Option<i32>) {
    let s = account_statuses(pool, at, Some(a.0))
        .await
        .unwrap()
        .remove(0);
    let h = s.health.expect("scored");
    (h.score, h.change_30d)
}

/// The summary row as stored: score, score 30 days back, and the counts if they belong to it.
async fn summary_row(
    pool: &PgPool,
    a: AccountId,
) -> (Option<i16>, Option<i16>, Option<(i32, i32, i32)>) {
    let (score, before, counts): (Option<i16>, Option<i16>, Option<Vec<i32>>) = sqlx::query_as(
        "select score, score_30d_ago,
                case when counted_at = computed_at then array[asked, answered, waiting] end
           from account_health where account_id = $1",
    )
    .bind(a.0)
    .fetch_one(pool)
    .await
    .unwrap();
    let counts = counts.map(|c| (c[0], c[1], c[2]));
    (score, before, counts)
}

#[sqlx::test]
async fn the_figures_follow_each_new_score_and_count_touches_as_of_the_latest_reassessment(
    pool: PgPool,
) {
    let a = account(&pool, new_account("Northwind", date(2025, 3, 1))).await;
    let dana = contact(&pool, a, "Dana").await;
    let day = |n: i64| now() - Duration::days(n);
    let answered = touch(&pool, a, "t1", Some(dana), "sent", day(20)).await;
    reply(&pool, a, dana, "checkin", Some(4), day(19), Some(answered)).await;
    touch(&pool, a, "t2", Some(dana), "sent", day(10)).await;

    let nightly = now() - Duration::hours(1);
    let score = recompute(&pool, &HealthConfig::default(), nightly, "nightly", None)
        .await
        .unwrap()
        .remove(0)
        .1
        .score
        .expect("enough data to score");
    let (average, _, counts) = figures(&pool, now()).await;
    assert_eq!(average, Some(f64::from(score)));
    assert_eq!(counts, (2, 1, 0));
    assert_eq!(summary_row(&pool, a).await.2, Some((2, 1, 0)));

    // A check-in sent after the reassessment shows from the next one on (the nightly run, or
    // the reassessment after the client's next reply).
    touch(
        &pool,
        a,
        "t3",
        Some(dana),
        "sent",
        now() - Duration::minutes(30),
    )
    .await;
    assert_eq!(figures(&pool, now()).await.2, (2, 1, 0));
    recompute(&pool, &HealthConfig::default(), now(), "reply", Some(a))
        .await
        .unwrap();
    assert_eq!(figures(&pool, now()).await.2, (2, 1, 1));

    // A score written by any other path shows at once; the counts kept for the score it
    // replaced no longer describe it, so the touches are counted live.
    scored(&pool, a, 30, -8).await;
    let later = now() + Duration::days(8);
    let (average, _, counts) = figures(&pool, later).await;
    assert_eq!(average, Some(30.0));
    assert_eq!(counts, (3, 1, 0));
    assert_eq!(summary_row(&pool, a).await, (Some(30), None, None));
    assert_eq!(card(&pool, a, later).await, (Some(30), None));
}

#[sqlx::test]
async fn the_30_day_move_compares_with_the_score_in_force_30_days_before_the_instant_asked(
    pool: PgPool,
) {
    let a = account(&pool, new_account("Northwind", date(2025, 3, 1))).await;
    scored(&pool, a, 70, 40).await;
    scored(&pool, a, 50, 20).await;
    scored(&pool, a, 80, 0).await;
    assert_eq!(summary_row(&pool, a).await.1, Some(70));

    assert_eq!(figures(&pool, now()).await.1, Some(10.0));
    assert_eq!(card(&pool, a, now()).await, (Some(80), Some(10)));
    // Fifteen days on, without a new score, 30 days back falls after the score of 50.
    let later = now() + Duration::days(15);
    assert_eq!(figures(&pool, later).await.1, Some(30.0));
    assert_eq!(card(&pool, a, later).await, (Some(80), Some(30)));
}

#[sqlx::test]
async fn an_instant_before_the_latest_score_reads_the_history(pool: PgPool) {
    let a = account(&pool, new_account("Northwind", date(2025, 3, 1))).await;
    let dana = contact(&pool, a, "Dana").await;
    scored(&pool, a, 60, 10).await;
    touch(
        &pool,
        a,
        "t1",
        Some(dana),
        "sent",
        now() - Duration::days(3),
    )
    .await;
    recompute(&pool, &HealthConfig::default(), now(), "nightly", None)
        .await
        .unwrap();

    let before = now() - Duration::days(5);
    let (average, _, counts) = figures(&pool, before).await;
    assert_eq!(average, Some(60.0));
    // The check-in of three days ago was not yet sent then.
    assert_eq!(counts, (0, 0, 0));
    assert_eq!(card(&pool, a, before).await, (Some(60), None));
    assert_eq!(figures(&pool, now()).await.2, (0, 0, 1));
}

#[sqlx::test]
async fn the_migration_fills_the_summary_from_the_history_already_stored(pool: PgPool) {
    let a = account(&pool, new_account("Northwind", date(2025, 3, 1))).await;
    let dana = contact(&pool, a, "Dana").await;
    let answered = touch(
        &pool,
        a,
        "t1",
        Some(dana),
        "sent",
        now() - Duration::days(20),
    )
    .await;
    reply(
        &pool,
        a,
        dana,
        "checkin",
        Some(4),
        now() - Duration::days(19),
        Some(answered),
    )
    .await;
    touch(
        &pool,
        a,
        "t2",
        Some(dana),
        "sent",
        now() - Duration::days(2),
    )
    .await;
    scored(&pool, a, 70, 40).await;
    scored(&pool, a, 55, 0).await;
    let unscored = account(&pool, new_account("Contoso", date(2025, 3, 1))).await;
    let live = figures(&pool, now()).await;

    // As a database scored before the migration: no summary at all.
    sqlx::query("delete from account_health")
        .execute(&pool)
        .await
        .unwrap();
    let migration = include_str!("../../migrations/0027_account_health.sql");
    let backfill = &migration[migration.find("-- Backfill").expect("the backfill marker")..];
    sqlx::raw_sql(backfill).execute(&pool).await.unwrap();

    assert_eq!(
        summary_row(&pool, a).await,
        (Some(55), Some(70), Some((1, 1, 1)))
    );
    let rows: i64 = sqlx::query_scalar("select count(*) from account_health where account_id = $1")
        .bind(unscored.0)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    assert_eq!(figures(&pool, now()).await, live);
}

/// A summary row as stored: the score part, and the touch counts if they belong to it.
#[derive(Debug, PartialEq, sqlx::FromRow)]
struct Row {
    account_id: i64,
    score_id: i64,
    computed_at: DateTime<Utc>,
    score: Option<i16>,
    category: Option<String>,
    baseline_at: DateTime<Utc>,
    score_30d_ago: Option<i16>,
    baseline_until: Option<DateTime<Utc>>,
    counts: Option<Vec<i32>>,
}

async fn rows(pool: &PgPool) -> Vec<Row> {
    sqlx::query_as(
        "select account_id, score_id, computed_at, score, category, baseline_at, score_30d_ago,
                baseline_until,
                case when counted_at = computed_at then array[asked, answered, waiting] end
                  as counts
           from account_health order by account_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The summary rows are the ones the history alone gives, and their counts the ones the
/// figures would count live at the score's time.
async fn as_the_history_gives(pool: &PgPool) {
    let kept = rows(pool).await;
    sqlx::query("select account_health_refresh(array(select id from accounts))")
        .execute(pool)
        .await
        .unwrap();
    let live: Vec<Option<Vec<i32>>> = sqlx::query_scalar(
        "select case when s.counted_at = s.computed_at
                     then array[coalesce(c.asked, 0), coalesce(c.answered, 0),
                                coalesce(c.waiting, 0)]::int4[] end
           from account_health s
           left join lateral asked_touch_counts(s.computed_at, s.computed_at - interval '90 days',
                                                interval '7 days', array[s.account_id]) c on true
          order by s.account_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let rebuilt = rows(pool).await;
    assert_eq!(kept, rebuilt);
    assert_eq!(kept.into_iter().map(|r| r.counts).collect::<Vec<_>>(), live);
}

async fn usage(pool: &PgPool, a: AccountId, kind: &str, value: f64, at: DateTime<Utc>) {
    sqlx::query(
        "insert into signals (account_id, kind, value, details, occurred_at, source,
                              idempotency_key)
         values ($1, $2, $3, '{}'::jsonb, $4, 'test', gen_random_uuid()::text)",
    )
    .bind(a.0)
    .bind(kind)
    .bind(value)
    .bind(at)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test]
async fn the_summary_the_reassessment_writes_is_the_one_the_history_gives_night_after_night(
    pool: PgPool,
) {
    let settings = touchbot::config::Settings::default();
    let judge = touchbot::inbound::Judge::from(&settings);
    let a = account(&pool, new_account("Northwind", date(2025, 3, 1))).await;
    let b = account(&pool, new_account("Contoso", date(2025, 3, 1))).await;
    let dana = contact(&pool, a, "Dana").await;
    let start = now() - Duration::days(75);
    usage(&pool, a, "licences", 100.0, start).await;
    for night in 0..75 {
        let at = start + Duration::days(night);
        // The usage moves every night, so the score does; every fifth night a check-in goes
        // out, answered two nights later or not at all.
        usage(&pool, a, "active_users", (night * 37 % 100) as f64, at).await;
        if night % 5 == 0 {
            let sent = touch(&pool, a, &format!("t{night}"), Some(dana), "sent", at).await;
            if night % 10 == 0 {
                reply(
                    &pool,
                    a,
                    dana,
                    "checkin",
                    None,
                    at + Duration::days(2),
                    Some(sent),
                )
                .await;
            }
        }
        // Other writers: a score with too little data, and one stored ahead of the clock
        // (the nights after it, until they pass it, leave the summary to it).
        if night == 33 {
            scored_without_data(&pool, b, at - Duration::hours(1)).await;
        }
        if night == 50 {
            scored(&pool, b, 40, (now() - at).num_days() - 3).await;
        }
        touchbot::inbound::reassess(&pool, judge, at, "nightly", None)
            .await
            .unwrap();
        as_the_history_gives(&pool).await;
    }
    let scores: i64 = sqlx::query_scalar("select count(distinct score) from health_scores")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(scores > 5, "the scores moved ({scores} distinct)");
}

async fn scored_without_data(pool: &PgPool, a: AccountId, at: DateTime<Utc>) {
    stored_score(pool, a, None, at).await;
}

/// The NPS counts kept in the summary row: (answers, promoters, passives, detractors), if they
/// belong to its latest score.
async fn nps_row(pool: &PgPool, a: AccountId) -> Option<(i32, i32, i32, i32)> {
    let counts: Option<Vec<i32>> = sqlx::query_scalar(
        "select case when nps_counted_at = computed_at
                     then array[nps_answers, promoters, passives, detractors] end
           from account_health where account_id = $1",
    )
    .bind(a.0)
    .fetch_one(pool)
    .await
    .unwrap();
    counts.map(|c| (c[0], c[1], c[2], c[3]))
}

/// The portfolio's NPS over `days` at `at`: (answers, promoters, passives, detractors).
async fn nps_over(pool: &PgPool, days: i64, at: DateTime<Utc>) -> (i64, i64, i64, i64) {
    let params = Params {
        nps_window: Duration::days(days),
        ..Params::default()
    };
    let n = portfolio_of(pool, at, None, &params)
        .await
        .unwrap()
        .metrics
        .nps;
    (n.answers, n.promoters, n.passives, n.detractors)
}

#[sqlx::test]
async fn the_nps_of_90_days_is_counted_as_of_the_latest_reassessment_and_another_window_live(
    pool: PgPool,
) {
    let a = account(&pool, new_account("Northwind", date(2025, 3, 1))).await;
    let dana = contact(&pool, a, "Dana").await;
    let finn = contact(&pool, a, "Finn").await;
    let day = |n: i64| now() - Duration::days(n);
    reply(&pool, a, dana, "nps", Some(3), day(60), None).await;
    reply(&pool, a, dana, "nps", Some(10), day(40), None).await;
    reply(&pool, a, finn, "nps", Some(8), day(10), None).await;
    recompute(
        &pool,
        &HealthConfig::default(),
        now() - Duration::hours(1),
        "nightly",
        None,
    )
    .await
    .unwrap();
    // Each contact once, with their latest answer: Dana a promoter, Finn a passive.
    assert_eq!(nps_row(&pool, a).await, Some((2, 1, 1, 0)));
    assert_eq!(nps_over(&pool, 90, now()).await, (2, 1, 1, 0));

    // Finn's new answer shows from the next reassessment on in the 90 days; the chat's
    // `/nps 30` reads the answers themselves, so it shows at once.
    reply(
        &pool,
        a,
        finn,
        "nps",
        Some(2),
        now() - Duration::minutes(30),
        None,
    )
    .await;
    assert_eq!(nps_over(&pool, 90, now()).await, (2, 1, 1, 0));
    assert_eq!(nps_over(&pool, 30, now()).await, (1, 0, 0, 1));
    recompute(&pool, &HealthConfig::default(), now(), "reply", Some(a))
        .await
        .unwrap();
    assert_eq!(nps_row(&pool, a).await, Some((2, 1, 0, 1)));
    assert_eq!(nps_over(&pool, 90, now()).await, (2, 1, 0, 1));

    // A score written by any other path shows at once; the NPS is then read live again.
    scored(&pool, a, 30, -8).await;
    assert_eq!(nps_row(&pool, a).await, None);
    assert_eq!(
        nps_over(&pool, 90, now() + Duration::days(8)).await,
        (2, 1, 0, 1)
    );
}
