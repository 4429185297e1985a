//! The planner stores an account's calendar in the `touches` outbox, and the preview shows it,
//! against a real PostgreSQL (one fresh database per test).

mod fixtures;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use fixtures::touches::{Stored, stored};
use fixtures::{account, contact, count, csm, date, new_account, new_contact, now};
use sqlx::PgPool;
use touchbot::domain::{AccountId, AccountLifecycle, ChannelKind, ContactRole, Segment};
use touchbot::outbound::calendar::{CalendarConfig, ClockTime};
use touchbot::outbound::planner::{self, ReplanReport};
use touchbot::outbound::preview::{PreviewRow, preview};
use touchbot::storage::{accounts, contacts};

async fn replan(pool: &PgPool, account: AccountId, at: DateTime<Utc>) -> ReplanReport {
    planner::replan_account(pool, &CalendarConfig::default(), account, at)
        .await
        .unwrap()
}

async fn update(pool: &PgPool, account: AccountId, change: accounts::AccountUpdate) {
    accounts::update(pool, account, &change).await.unwrap();
}

/// Northwind: SMB, UTC, started today (Monday 2026-03-02), renewing a year later, with a CSM,
/// a decision maker (Dana) and a champion (Ivan).
async fn northwind(pool: &PgPool) -> AccountId {
    let aigerim = csm(pool, "Aigerim").await;
    let mut new = new_account("Northwind", date(2026, 3, 2));
    new.renewal_date = Some(date(2027, 3, 2));
    new.csm_id = Some(aigerim);
    let a = account(pool, new).await;
    contact(
        pool,
        a,
        "Dana",
        ContactRole::DecisionMaker,
        "+77010000001",
        now(),
    )
    .await;
    contact(
        pool,
        a,
        "Ivan",
        ContactRole::Champion,
        "+77010000002",
        now(),
    )
    .await;
    a
}

/// (template, local date and time, recipient, status) of each row.
fn readable(rows: &[PreviewRow]) -> Vec<(String, String, String, String)> {
    rows.iter()
        .map(|r| {
            (
                r.template.clone(),
                r.local_time.format("%a %Y-%m-%d %H:%M").to_string(),
                r.recipient.clone(),
                r.status.clone(),
            )
        })
        .collect()
}

#[sqlx::test]
async fn the_calendar_preview_of_an_account_started_today_shows_the_default_calendar(pool: PgPool) {
    let a = northwind(&pool).await;
    let report = replan(&pool, a, now()).await;
    assert_eq!(
        report,
        ReplanReport {
            planned: 26,
            skipped: 1,
            cancelled: 0,
            failed: 0,
            unchanged: 0
        }
    );

    let rows = preview(&pool, &CalendarConfig::default(), a, now())
        .await
        .unwrap();
    let dana = "Dana (decision maker)";
    let ivan = "Ivan (champion)";
    let csm = "Aigerim (CSM, internal)";
    let expected = [
        // Day 0: a welcome for each contact, as soon as the window opens.
        ("welcome", "Mon 2026-03-02 10:00", dana, "planned"),
        ("welcome", "Mon 2026-03-02 10:00", ivan, "planned"),
        // Onboarding: weekly check-ins with the champion, weeks 1-4.
        ("checkin-week-1", "Mon 2026-03-09 10:00", ivan, "planned"),
        ("checkin-week-2", "Mon 2026-03-16 10:00", ivan, "planned"),
        ("checkin-week-3", "Mon 2026-03-23 10:00", ivan, "planned"),
        ("checkin-week-4", "Mon 2026-03-30 10:00", ivan, "planned"),
        // Day 30: the first NPS survey, and the 30-day checkpoint for the CSM.
        ("nps", "Wed 2026-04-01 10:00", dana, "planned"),
        ("task-checkpoint-30", "Wed 2026-04-01 10:00", csm, "planned"),
        // Day 90 is a Sunday: the survey (the other contact's turn), the review and the
        // adoption check-in move to Monday, where the check-in folds into the survey.
        ("checkin", "Mon 2026-06-01 10:00", ivan, "skipped"),
        ("nps", "Mon 2026-06-01 10:00", ivan, "planned"),
        ("task-review-90", "Mon 2026-06-01 10:00", csm, "planned"),
        ("checkin", "Tue 2026-06-30 10:00", ivan, "planned"),
        ("checkin", "Thu 2026-07-30 10:00", ivan, "planned"),
        // Day 180 is a Saturday.
        ("checkin", "Mon 2026-08-31 10:00", ivan, "planned"),
        ("nps", "Mon 2026-08-31 10:00", dana, "planned"),
        ("checkin", "Mon 2026-09-28 10:00", ivan, "planned"),
        ("checkin", "Wed 2026-10-28 10:00", ivan, "planned"),
        // Renewal on Tuesday 2027-03-02: the CSM's tasks at 120/90/60/30/7 days, the
        // decision maker's reminders at 90/60/30/7 days.
        ("task-renewal-120", "Mon 2026-11-02 10:00", csm, "planned"),
        ("checkin", "Fri 2026-11-27 10:00", ivan, "planned"),
        ("renewal-90", "Wed 2026-12-02 10:00", dana, "planned"),
        ("task-renewal-90", "Wed 2026-12-02 10:00", csm, "planned"),
        ("renewal-60", "Fri 2027-01-01 10:00", dana, "planned"),
        ("task-renewal-60", "Fri 2027-01-01 10:00", csm, "planned"),
        ("renewal-30", "Mon 2027-02-01 10:00", dana, "planned"),
        ("task-renewal-30", "Mon 2027-02-01 10:00", csm, "planned"),
        ("renewal-7", "Tue 2027-02-23 10:00", dana, "planned"),
        ("task-renewal-7", "Tue 2027-02-23 10:00", csm, "planned"),
    ];
    let expected: Vec<(String, String, String, String)> = expected
        .iter()
        .map(|(t, d, r, s)| (t.to_string(), d.to_string(), r.to_string(), s.to_string()))
        .collect();
    let mut got = readable(&rows);
    // Rows at the same instant come in touch-key order; compare them by what a user reads.
    let mut want = expected.clone();
    got.sort_by(|a, b| (&a.1[4..], &a.0, &a.2).cmp(&(&b.1[4..], &b.0, &b.2)));
    want.sort_by(|a, b| (&a.1[4..], &a.0, &a.2).cmp(&(&b.1[4..], &b.0, &b.2)));
    assert_eq!(got, want);
    let merged = rows.iter().find(|r| r.status == "skipped").unwrap();
    assert_eq!(merged.reason.as_deref(), Some("merged into nps-90"));

    // The outbox holds the same calendar the preview shows.
    let mut outbox: Vec<(String, DateTime<Utc>, String)> = stored(&pool, a)
        .await
        .into_iter()
        .map(|t| (t.touch_key, t.due_at, t.status))
        .collect();
    let mut shown: Vec<(String, DateTime<Utc>, String)> = rows
        .iter()
        .map(|r| (r.touch_key.clone(), r.due_at, r.status.clone()))
        .collect();
    outbox.sort();
    shown.sort();
    assert_eq!(outbox, shown);
}

#[sqlx::test]
async fn replanning_twice_changes_nothing(pool: PgPool) {
    let a = northwind(&pool).await;
    replan(&pool, a, now()).await;
    let first = stored(&pool, a).await;
    let again = replan(&pool, a, now() + Duration::minutes(5)).await;
    assert_eq!(again.cancelled, 0);
    assert_eq!(stored(&pool, a).await, first);
    assert_eq!(count(&pool, "touches").await, first.len() as i64);
}

#[sqlx::test]
async fn a_new_renewal_date_cancels_the_old_renewal_touches_and_plans_new_ones(pool: PgPool) {
    let a = northwind(&pool).await;
    replan(&pool, a, now()).await;
    update(
        &pool,
        a,
        accounts::AccountUpdate {
            renewal_date: Some(Some(date(2027, 6, 1))),
            ..Default::default()
        },
    )
    .await;
    let report = replan(&pool, a, now()).await;
    assert_eq!(report.cancelled, 9);

    let rows = stored(&pool, a).await;
    let old: Vec<&Stored> = rows
        .iter()
        .filter(|t| t.touch_key.ends_with("@2027-03-02"))
        .collect();
    assert_eq!(old.len(), 9);
    for t in &old {
        assert_eq!(t.status, "cancelled", "{t:?}");
        assert_eq!(
            t.status_reason.as_deref(),
            Some("no longer in the calendar (dates, contacts or settings changed)")
        );
    }
    let new: Vec<&str> = rows
        .iter()
        .filter(|t| t.touch_key.ends_with("@2027-06-01") && t.status == "planned")
        .map(|t| t.touch_key.as_str())
        .collect();
    assert_eq!(new.len(), 9, "{new:?}");
    assert!(new.contains(&"renewal-7@2027-06-01"));
    assert!(new.contains(&"task-renewal-120@2027-06-01"));
}

#[sqlx::test]
async fn a_new_renewal_date_also_cancels_old_renewal_touches_that_were_skipped_ahead(pool: PgPool) {
    // Without a decision maker the client's renewal reminders are skipped, not planned.
    let mut new = new_account("Northwind", date(2026, 3, 2));
    new.renewal_date = Some(date(2027, 3, 2));
    let a = account(&pool, new).await;
    contact(
        &pool,
        a,
        "Ivan",
        ContactRole::Champion,
        "+77010000002",
        now(),
    )
    .await;
    replan(&pool, a, now()).await;
    let skipped_before: Vec<Stored> = stored(&pool, a)
        .await
        .into_iter()
        .filter(|t| t.touch_key.starts_with("renewal-"))
        .collect();
    assert_eq!(skipped_before.len(), 4);
    assert!(skipped_before.iter().all(|t| t.status == "skipped"));

    update(
        &pool,
        a,
        accounts::AccountUpdate {
            renewal_date: Some(Some(date(2027, 6, 1))),
            ..Default::default()
        },
    )
    .await;
    replan(&pool, a, now()).await;
    for t in stored(&pool, a).await {
        if t.touch_key.ends_with("@2027-03-02") {
            assert_eq!(t.status, "cancelled", "{t:?}");
        }
    }
    // The preview, later on, does not show reminders for a renewal date that no longer
    // applies.
    let later = now() + Duration::days(365);
    let rows = preview(&pool, &CalendarConfig::default(), a, later)
        .await
        .unwrap();
    assert!(
        rows.iter().all(|r| !r.touch_key.ends_with("@2027-03-02")),
        "{:?}",
        readable(&rows)
    );
}

#[sqlx::test]
async fn a_touch_already_sent_is_never_rewritten_by_a_replan(pool: PgPool) {
    let a = northwind(&pool).await;
    replan(&pool, a, now()).await;
    let sent_at = now() + Duration::hours(1);
    sqlx::query(
        "update touches set status = 'sent', sent_at = $2, provider_message_id = 'wa-1'
         where account_id = $1 and touch_key like 'welcome:%'",
    )
    .bind(a.0)
    .bind(sent_at)
    .execute(&pool)
    .await
    .unwrap();
    let before: Vec<Stored> = stored(&pool, a)
        .await
        .into_iter()
        .filter(|t| t.status == "sent")
        .collect();
    assert_eq!(before.len(), 2);

    // Go-live a week later would move day 0, the welcomes included.
    update(
        &pool,
        a,
        accounts::AccountUpdate {
            go_live: Some(Some(date(2026, 3, 9))),
            ..Default::default()
        },
    )
    .await;
    replan(&pool, a, sent_at).await;

    let after = stored(&pool, a).await;
    let sent_after: Vec<Stored> = after
        .iter()
        .filter(|t| t.touch_key.starts_with("welcome:"))
        .cloned()
        .collect();
    assert_eq!(sent_after, before);
    let week_1 = after
        .iter()
        .find(|t| t.touch_key == "checkin-week-1")
        .unwrap();
    assert_eq!(week_1.due_at.date_naive(), date(2026, 3, 16));
}

#[sqlx::test]
async fn a_touch_skipped_when_its_time_came_keeps_its_reason_after_replans(pool: PgPool) {
    let aigerim = csm(&pool, "Aigerim").await;
    let mut new = new_account("Northwind", now().date_naive() - Duration::days(200));
    new.csm_id = Some(aigerim);
    let a = account(&pool, new).await;
    contact(
        &pool,
        a,
        "Dana",
        ContactRole::Champion,
        "+77010000001",
        now(),
    )
    .await;
    replan(&pool, a, now()).await;
    let decided = |rows: &[Stored]| {
        rows.iter()
            .filter(|t| ["checkpoint-30", "nps-30"].contains(&t.touch_key.as_str()))
            .cloned()
            .collect::<Vec<_>>()
    };
    let first = decided(&stored(&pool, a).await);
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|t| t.status == "skipped"));
    // The reason names how late the touch was: a rewrite would change it.
    assert_eq!(
        first[0].status_reason.as_deref(),
        Some("overdue by 168 days when planned")
    );

    replan(&pool, a, now() + Duration::days(1)).await;
    replan(&pool, a, now() + Duration::days(10)).await;
    assert_eq!(decided(&stored(&pool, a).await), first);
}

#[sqlx::test]
async fn a_late_enrolment_skips_what_is_stale_and_sends_nothing_in_a_burst(pool: PgPool) {
    let aigerim = csm(&pool, "Aigerim").await;
    let start = now().date_naive() - Duration::days(200);
    let mut new = new_account("Northwind", start);
    new.segment = Segment::Enterprise;
    new.csm_id = Some(aigerim);
    let a = account(&pool, new).await;
    let dana = contact(
        &pool,
        a,
        "Dana",
        ContactRole::DecisionMaker,
        "+77010000001",
        now(),
    )
    .await;
    contact(
        &pool,
        a,
        "Ivan",
        ContactRole::Champion,
        "+77010000002",
        now(),
    )
    .await;
    replan(&pool, a, now()).await;

    let rows = stored(&pool, a).await;
    let grace_start = now() - Duration::days(4);
    let stale: Vec<&Stored> = rows.iter().filter(|t| t.due_at < grace_start).collect();
    assert!(stale.len() > 15, "{stale:?}");
    assert!(stale.iter().all(|t| t.status == "skipped"), "{stale:?}");
    // The CSM's tasks were simply missed. The contacts were only added today, so the
    // client's touches from before had nobody to go to.
    for key in ["checkpoint-30", "results-review-90"] {
        let t = rows.iter().find(|t| t.touch_key == key).unwrap();
        let reason = t.status_reason.as_deref().unwrap();
        assert!(reason.starts_with("overdue by "), "{t:?}");
        assert!(reason.ends_with(" days when planned"), "{t:?}");
    }
    for key in [
        "nps-30",
        "nps-90",
        "nps-180",
        "checkin-week-1",
        "qbr-quarterly#1",
    ] {
        let t = rows.iter().find(|t| t.touch_key == key).unwrap();
        assert_eq!(t.status, "skipped", "{t:?}");
        assert!(
            t.status_reason
                .as_deref()
                .unwrap()
                .starts_with("no reachable "),
            "{t:?}"
        );
    }
    // The welcomes (for contacts added today) are planned today; nothing planned is due in
    // the past, and no contact gets two touches on one day.
    let planned: Vec<&Stored> = rows.iter().filter(|t| t.status == "planned").collect();
    assert!(planned.iter().all(|t| t.due_at >= now()), "{planned:?}");
    let welcome = rows
        .iter()
        .find(|t| t.touch_key == format!("welcome:c{dana}"))
        .unwrap();
    assert_eq!(welcome.status, "planned");
    assert_eq!(welcome.due_at.date_naive(), now().date_naive());
    let mut days: Vec<(i64, NaiveDate)> = planned
        .iter()
        .filter_map(|t| t.contact_id.map(|c| (c, t.due_at.date_naive())))
        .collect();
    let all = days.len();
    days.sort();
    days.dedup();
    assert_eq!(days.len(), all, "two touches for one contact on one day");
}

#[sqlx::test]
async fn touches_that_fell_due_within_the_grace_days_are_spread_out_from_today(pool: PgPool) {
    // Day 30 was yesterday and week 4's check-in three days ago: both are still sent, but
    // not together.
    let start = now().date_naive() - Duration::days(31);
    let a = account(&pool, new_account("Northwind", start)).await;
    sqlx::query("update accounts set created_at = $2 where id = $1")
        .bind(a.0)
        .bind(now() - Duration::days(31))
        .execute(&pool)
        .await
        .unwrap();
    // The contact was there from the start.
    let dana = contact(
        &pool,
        a,
        "Dana",
        ContactRole::Champion,
        "+77010000001",
        now() - Duration::days(31),
    )
    .await;
    replan(&pool, a, now()).await;
    let rows = stored(&pool, a).await;
    let find = |key: &str| rows.iter().find(|t| t.touch_key == key).unwrap();
    let nps = find("nps-30");
    assert_eq!(nps.status, "planned");
    assert_eq!(nps.due_at.date_naive(), now().date_naive());
    let week_4 = find("checkin-week-4");
    assert_eq!(week_4.status, "skipped", "{week_4:?}");
    assert_eq!(week_4.status_reason.as_deref(), Some("merged into nps-30"));
    assert_eq!(
        find(&format!("welcome:c{dana}")).status_reason.as_deref(),
        Some("overdue by 31 days when planned")
    );
}

#[sqlx::test]
async fn pausing_an_account_cancels_its_planned_touches(pool: PgPool) {
    let a = northwind(&pool).await;
    let first = replan(&pool, a, now()).await;
    update(
        &pool,
        a,
        accounts::AccountUpdate {
            lifecycle: Some(AccountLifecycle::Paused),
            ..Default::default()
        },
    )
    .await;
    let report = replan(&pool, a, now()).await;
    assert_eq!(report.planned, 0);
    // Everything still ahead goes, the check-in skipped ahead as merged included.
    assert_eq!(report.cancelled, first.planned + first.skipped);
    let rows = stored(&pool, a).await;
    assert!(rows.iter().all(|t| t.status != "planned"));
    assert!(
        preview(&pool, &CalendarConfig::default(), a, now())
            .await
            .unwrap()
            .is_empty()
    );

    // Active again: the same touches come back, under the same ids.
    update(
        &pool,
        a,
        accounts::AccountUpdate {
            lifecycle: Some(AccountLifecycle::Active),
            ..Default::default()
        },
    )
    .await;
    let back = replan(&pool, a, now()).await;
    assert_eq!(back.planned, first.planned);
    let again = stored(&pool, a).await;
    assert_eq!(again.len(), rows.len());
    assert_eq!(
        again.iter().filter(|t| t.status == "planned").count(),
        first.planned
    );
}

#[sqlx::test]
async fn replanning_all_accounts_leaves_paused_ones_alone(pool: PgPool) {
    let a = northwind(&pool).await;
    let b = account(&pool, new_account("Contoso", date(2026, 3, 2))).await;
    contact(
        &pool,
        b,
        "Olga",
        ContactRole::Champion,
        "+77010000003",
        now(),
    )
    .await;
    update(
        &pool,
        b,
        accounts::AccountUpdate {
            lifecycle: Some(AccountLifecycle::Paused),
            ..Default::default()
        },
    )
    .await;
    let report = planner::replan_all(&pool, &CalendarConfig::default(), now())
        .await
        .unwrap();
    assert_eq!(report.planned, 26);
    assert!(stored(&pool, b).await.is_empty());
    assert_eq!(stored(&pool, a).await.len(), 27);
}

#[sqlx::test]
async fn the_preview_writes_nothing_and_shows_an_edited_configuration(pool: PgPool) {
    let a = northwind(&pool).await;
    replan(&pool, a, now()).await;
    let before = stored(&pool, a).await;

    let mut edited = CalendarConfig::default();
    edited.send_window.start = ClockTime(chrono::NaiveTime::from_hms_opt(14, 30, 0).unwrap());
    edited.rules.retain(|r| r.key != "nps-180");
    let rows = preview(&pool, &edited, a, now() + Duration::minutes(1))
        .await
        .unwrap();

    assert_eq!(stored(&pool, a).await, before);
    assert_eq!(count(&pool, "touches").await, before.len() as i64);
    assert!(!rows.iter().any(|r| r.touch_key == "nps-180"));
    assert!(
        rows.iter()
            .all(|r| r.local_time.format("%H:%M").to_string() == "14:30"),
        "{:?}",
        readable(&rows)
    );
    // The stored plan still follows the settings in force.
    let nps_180 = before.iter().find(|t| t.touch_key == "nps-180").unwrap();
    assert_eq!(nps_180.status, "planned");
    assert_eq!(nps_180.due_at.format("%H:%M").to_string(), "10:00");
}

#[sqlx::test]
async fn a_telegram_contact_who_has_not_joined_yet_is_passed_over(pool: PgPool) {
    let a = account(&pool, new_account("Larkspur", date(2026, 3, 2))).await;
    let mut waiting = new_contact(a, "Ivan", ContactRole::Champion, "");
    waiting.channel = ChannelKind::Telegram;
    waiting.address = None;
    let ivan = contacts::add(&pool, &waiting, now()).await.unwrap().id;
    let dana = contact(
        &pool,
        a,
        "Dana",
        ContactRole::DecisionMaker,
        "+77011230001",
        now(),
    )
    .await;
    replan(&pool, a, now()).await;
    let rows = stored(&pool, a).await;
    // Check-ins prefer the champion, but he has no chat yet: they go to Dana meanwhile.
    let week1 = rows
        .iter()
        .find(|r| r.touch_key == "checkin-week-1")
        .unwrap();
    assert_eq!(week1.contact_id, Some(dana.0));
    assert_eq!(week1.status, "planned");
    assert!(
        rows.iter()
            .filter(|r| r.contact_id == Some(ivan.0))
            .all(|r| r.status != "planned"),
        "nothing is planned for a contact the bot cannot reach yet"
    );
}
