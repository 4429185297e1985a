//! The dispatcher against a real PostgreSQL and the simulated channel.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::*;
use sqlx::PgPool;
use touchbot::channel::simulated::SimulatedChannel;
use touchbot::channel::{Channels, PermanentReason};
use touchbot::delivery::queue::Table;
use touchbot::delivery::{Rescued, Settle};
use touchbot::domain::ChannelKind;
use touchbot::outbound::dispatcher::{
    self, DeliveryReport, DispatcherConfig, UNSUPPORTED_LOOKUP_REASON, deliver_due,
    rescue_and_reconcile,
};
use touchbot::outbound::outbox::{self, OutboxError, TouchTable};
use touchbot::outbound::scheduler::{GuardedJob, JobRun, Leadership, job_fn};

async fn deliver(
    pool: &PgPool,
    channels: &Channels,
    config: &DispatcherConfig,
    now: chrono::DateTime<Utc>,
) -> DeliveryReport {
    deliver_due(pool, channels, &PlainRenderer, config, "worker-1", now)
        .await
        .unwrap()
}

fn lease_expired() -> chrono::DateTime<Utc> {
    t0() + TimeDelta::seconds(config().lease_seconds as i64 + 1)
}

#[sqlx::test]
async fn a_due_touch_is_sent_once_and_marked_sent_with_the_provider_id(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;

    let report = deliver(&pool, &channels, &config(), t0()).await;
    let again = deliver(&pool, &channels, &config(), t0() + TimeDelta::hours(1)).await;

    assert_eq!(report.sent, 1);
    assert_eq!(again, DeliveryReport::default());
    let sent = sim.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message.text, "welcome for ann");
    assert_eq!(
        sent[0].message.idempotency_key,
        format!("touch:{acme}:welcome")
    );
    let s = state(&pool, id).await;
    assert_eq!(s.status, "sent");
    assert_eq!(s.sent_at, Some(t0()));
    assert_eq!(
        s.provider_message_id,
        Some(sent[0].provider_message_id.clone())
    );
}

#[sqlx::test]
async fn a_touch_not_yet_due_is_not_sent(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(
        &pool,
        acme,
        ann,
        "nps-30",
        "nps",
        t0() + TimeDelta::minutes(1),
    )
    .await;

    let report = deliver(&pool, &channels(&sim), &config(), t0()).await;

    assert_eq!(report, DeliveryReport::default());
    assert!(sim.sent().is_empty());
    assert_eq!(state(&pool, id).await.status, "planned");
}

#[sqlx::test]
async fn two_workers_at_once_never_send_the_same_touch_twice(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let mut keys = Vec::new();
    for i in 0..60 {
        let c = contact(&pool, acme, &format!("user-{i}")).await;
        touch(&pool, acme, c, &format!("welcome-{i}"), "welcome", t0()).await;
        keys.push(format!("touch:{acme}:welcome-{i}"));
    }
    let config = DispatcherConfig {
        batch_size: 3,
        workers: 2,
        ..config()
    };

    let (a, b) = tokio::join!(
        deliver_due(&pool, &channels, &PlainRenderer, &config, "worker-a", t0()),
        deliver_due(&pool, &channels, &PlainRenderer, &config, "worker-b", t0()),
    );
    let (a, b) = (a.unwrap(), b.unwrap());

    assert_eq!(a.sent + b.sent, 60);
    assert_eq!(a.claimed + b.claimed, 60);
    assert_eq!(sim.sent().len(), 60);
    assert_eq!(sim.total_send_attempts(), 60);
    for key in &keys {
        assert_eq!(
            sim.send_attempts(key),
            1,
            "{key} was handed over more than once"
        );
    }
}

#[sqlx::test]
async fn a_worker_that_died_after_handing_over_is_settled_by_lookup_without_a_duplicate(
    pool: PgPool,
) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    sim.crash_after_delivery("ann");

    // The worker hangs forever inside the send; dropping its future is the process dying.
    let cfg = config();
    tokio::select! {
        _ = deliver(&pool, &channels, &cfg, t0()) => panic!("the crashed send returned"),
        _ = sim.crashed() => {}
    }
    until_in_flight_statements_land(&pool).await;
    assert_eq!(state(&pool, id).await.status, "sending");

    expire_leases(&pool).await;
    let (rescued, reconciled) = rescue_and_reconcile(&pool, &channels, lease_expired())
        .await
        .unwrap();
    let after = deliver(&pool, &channels, &config(), lease_expired()).await;

    assert_eq!(rescued.unknown, 1);
    assert_eq!(reconciled.sent, 1);
    assert_eq!(after, DeliveryReport::default());
    let s = state(&pool, id).await;
    assert_eq!(s.status, "sent");
    assert_eq!(
        s.provider_message_id,
        Some(sim.sent()[0].provider_message_id.clone())
    );
    assert_eq!(sim.sent().len(), 1);
    assert_eq!(sim.total_send_attempts(), 1);
}

#[sqlx::test]
async fn a_worker_that_died_before_the_channel_got_the_message_is_requeued_and_sent_once(
    pool: PgPool,
) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    let lease = TimeDelta::seconds(60);
    let claimed = TouchTable::claim_due(&pool, "doomed", t0(), lease, 10)
        .await
        .unwrap();
    outbox::mark_sending(&pool, claimed[0], t0(), lease)
        .await
        .unwrap();
    // ...and the worker is gone without sending or completing.

    expire_leases(&pool).await;
    let (rescued, reconciled) = rescue_and_reconcile(&pool, &channels, lease_expired())
        .await
        .unwrap();
    let report = deliver(&pool, &channels, &config(), lease_expired()).await;

    assert_eq!(rescued.unknown, 1);
    assert_eq!(reconciled.requeued, 1);
    assert_eq!(report.sent, 1);
    assert_eq!(sim.sent().len(), 1);
    assert_eq!(state(&pool, id).await.status, "sent");
}

#[sqlx::test]
async fn without_lookup_an_interrupted_send_stays_unknown_and_is_never_resent_on_its_own(
    pool: PgPool,
) {
    let sim = Arc::new(SimulatedChannel::new().without_lookup());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    sim.crash_after_delivery("ann");
    let cfg = config();
    tokio::select! {
        _ = deliver(&pool, &channels, &cfg, t0()) => panic!("the crashed send returned"),
        _ = sim.crashed() => {}
    }
    until_in_flight_statements_land(&pool).await;

    expire_leases(&pool).await;
    let (_, reconciled) = rescue_and_reconcile(&pool, &channels, lease_expired())
        .await
        .unwrap();
    let later = lease_expired() + TimeDelta::days(1);
    let report = deliver(&pool, &channels, &config(), later).await;
    let unknown = outbox::list_unknown(&pool).await.unwrap();

    assert_eq!(reconciled.still_unknown, 1);
    assert_eq!(report, DeliveryReport::default());
    assert_eq!(sim.total_send_attempts(), 1);
    let s = state(&pool, id).await;
    assert_eq!(s.status, "unknown");
    assert_eq!(s.status_reason.as_deref(), Some(UNSUPPORTED_LOOKUP_REASON));
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].id, id);
    assert_eq!(unknown[0].channel, Some(ChannelKind::Simulated));
    assert_eq!(unknown[0].lease_owner.as_deref(), Some("worker-1"));

    // An operator who checked decides to try again; the provider still dedupes by key.
    let mut conn = pool.acquire().await.unwrap();
    outbox::requeue(&mut conn, id, later).await.unwrap();
    let report = deliver(&pool, &channels, &config(), later).await;
    assert_eq!(report.sent, 1);
    assert_eq!(sim.sent().len(), 1);
    assert_eq!(state(&pool, id).await.status, "sent");
}

#[sqlx::test]
async fn only_unknown_or_failed_touches_can_be_requeued_by_hand(pool: PgPool) {
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    let mut conn = pool.acquire().await.unwrap();

    let err = outbox::requeue(&mut conn, id, t0()).await.unwrap_err();

    assert_eq!(
        err.to_string(),
        format!(
            "touch {id} is 'planned'; only 'unknown' or 'failed' touches can be requeued by hand"
        )
    );
}

#[sqlx::test]
async fn a_claimed_touch_whose_worker_vanished_before_sending_is_delivered_exactly_once(
    pool: PgPool,
) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    TouchTable::claim_due(&pool, "doomed", t0(), TimeDelta::seconds(60), 10)
        .await
        .unwrap();

    let while_leased = deliver(&pool, &channels, &config(), t0()).await;
    expire_leases(&pool).await;
    let (rescued, _) = rescue_and_reconcile(&pool, &channels, lease_expired())
        .await
        .unwrap();
    let after = deliver(&pool, &channels, &config(), lease_expired()).await;
    let (rescued_again, _) =
        rescue_and_reconcile(&pool, &channels, lease_expired() + TimeDelta::hours(1))
            .await
            .unwrap();

    assert_eq!(while_leased, DeliveryReport::default());
    assert_eq!(
        rescued,
        Rescued {
            requeued: 1,
            unknown: 0
        }
    );
    assert_eq!(after.sent, 1);
    assert_eq!(rescued_again, Rescued::default());
    assert_eq!(sim.sent().len(), 1);
    assert_eq!(state(&pool, id).await.attempt, 2);
}

#[sqlx::test]
async fn a_stale_workers_result_is_refused_once_its_lease_was_taken_over(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    let lease = TimeDelta::seconds(60);
    let stale = TouchTable::claim_due(&pool, "slow", t0(), lease, 10)
        .await
        .unwrap()[0];
    outbox::mark_sending(&pool, stale, t0(), lease)
        .await
        .unwrap();

    // The slow worker's lease runs out; the channel never saw its message, so it is requeued
    // and another worker delivers it.
    expire_leases(&pool).await;
    rescue_and_reconcile(&pool, &channels, lease_expired())
        .await
        .unwrap();
    let report = deliver(&pool, &channels, &config(), lease_expired()).await;
    let sent = Settle::Sent {
        provider_id: "late-id".into(),
    };
    let late = outbox::settle(&pool, stale, sent, lease_expired()).await;
    let retry = Settle::Retry {
        at: lease_expired(),
        error: "late".into(),
        counts: true,
    };
    let late_retry = outbox::settle(&pool, stale, retry, lease_expired()).await;

    assert_eq!(report.sent, 1);
    assert!(matches!(late, Err(OutboxError::LeaseLost(l)) if l == stale));
    assert!(matches!(late_retry, Err(OutboxError::LeaseLost(_))));
    let s = state(&pool, id).await;
    assert_eq!(s.status, "sent");
    assert_eq!(
        s.provider_message_id,
        Some(sim.sent()[0].provider_message_id.clone())
    );
}

#[sqlx::test]
async fn a_transient_failure_is_retried_with_growing_waits_and_then_succeeds(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    sim.fail_transiently("ann", 2);

    let first = deliver(&pool, &channels, &config(), t0()).await;
    let retry_1 = state(&pool, id).await.next_attempt_at.unwrap();
    let too_early = deliver(&pool, &channels, &config(), retry_1 - TimeDelta::seconds(1)).await;
    let second = deliver(&pool, &channels, &config(), retry_1).await;
    let after_second = state(&pool, id).await;
    let retry_2 = after_second.next_attempt_at.unwrap();
    let third = deliver(&pool, &channels, &config(), retry_2).await;

    assert_eq!(first.retried, 1);
    assert_eq!(too_early, DeliveryReport::default());
    assert_eq!(second.retried, 1);
    assert!(
        after_second
            .last_error
            .unwrap()
            .contains("temporary failure")
    );
    assert!(retry_1 > t0());
    assert!(
        retry_2 - retry_1 > retry_1 - t0(),
        "the second wait is not longer"
    );
    assert_eq!(third.sent, 1);
    let s = state(&pool, id).await;
    assert_eq!(s.status, "sent");
    assert_eq!(s.attempt, 3);
    assert_eq!(sim.sent().len(), 1);
}

#[sqlx::test]
async fn a_touch_that_keeps_failing_is_marked_failed_after_the_last_attempt(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    sim.fail_transiently("ann", 100);
    let config = DispatcherConfig {
        max_attempts: 3,
        ..config()
    };

    let mut now = t0();
    let mut failed = 0;
    for _ in 0..5 {
        failed += deliver(&pool, &channels, &config, now).await.failed;
        match state(&pool, id).await.next_attempt_at {
            Some(next) if next > now => now = next,
            _ => now += TimeDelta::days(1),
        }
    }

    assert_eq!(failed, 1);
    assert_eq!(sim.total_send_attempts(), 3);
    let s = state(&pool, id).await;
    assert_eq!(s.status, "failed");
    assert!(
        s.status_reason
            .unwrap()
            .starts_with("gave up after 3 attempts")
    );
}

#[sqlx::test]
async fn a_rate_limited_touch_waits_exactly_retry_after_and_holds_back_that_chat(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let welcome = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    let checkin = touch(&pool, acme, ann, "checkin-1", "checkin", t0()).await;
    sim.rate_limit("ann", Duration::from_secs(7), 1);
    // One worker, so the second touch is looked at after the first got its answer.
    let config = DispatcherConfig {
        workers: 1,
        ..config()
    };
    let pause_over = t0() + TimeDelta::seconds(7);

    let first = deliver(&pool, &channels, &config, t0()).await;
    let welcome_next = state(&pool, welcome).await.next_attempt_at;
    let checkin_next = state(&pool, checkin).await.next_attempt_at;
    let during = deliver(
        &pool,
        &channels,
        &config,
        pause_over - TimeDelta::seconds(1),
    )
    .await;
    let after = deliver(&pool, &channels, &config, pause_over).await;

    assert_eq!(first.retried, 2);
    assert_eq!(welcome_next, Some(pause_over));
    assert_eq!(checkin_next, Some(pause_over));
    // Only one request reached the provider while the chat was paused.
    assert_eq!(sim.total_send_attempts() - after.sent as u32, 1);
    assert_eq!(during, DeliveryReport::default());
    assert_eq!(after.sent, 2);
}

#[sqlx::test]
async fn a_blocked_contact_fails_the_touch_is_marked_unreachable_and_gets_nothing_more(
    pool: PgPool,
) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = channels(&sim);
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let bob = contact(&pool, acme, "bob").await;
    let first = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    let later = touch(&pool, acme, ann, "nps-30", "nps", t0() + TimeDelta::days(1)).await;
    touch(
        &pool,
        acme,
        bob,
        "bob-nps-30",
        "nps",
        t0() + TimeDelta::days(1),
    )
    .await;
    sim.block("ann");

    let now = deliver(&pool, &channels, &config(), t0()).await;
    let next_day = deliver(&pool, &channels, &config(), t0() + TimeDelta::days(1)).await;

    assert_eq!(now.failed, 1);
    let s = state(&pool, first).await;
    assert_eq!(s.status, "failed");
    assert!(s.status_reason.unwrap().contains("blocked"));
    let contact = sqlx::query!(
        "select unreachable_at, unreachable_reason from contacts where id = $1",
        ann.0
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(contact.unreachable_at, Some(t0()));
    assert_eq!(contact.unreachable_reason.as_deref(), Some("blocked"));
    let signals = sqlx::query!(
        "select kind, source, contact_id, idempotency_key from signals where account_id = $1",
        acme.0
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0].kind, "contact_unreachable");
    assert_eq!(signals[0].source, "dispatcher");
    assert_eq!(signals[0].contact_id, Some(ann.0));

    assert_eq!((next_day.skipped, next_day.sent), (1, 1));
    let s = state(&pool, later).await;
    assert_eq!(s.status, "skipped");
    assert_eq!(s.status_reason.as_deref(), Some("contact unreachable"));
    assert_eq!(sim.send_attempts(&format!("touch:{acme}:nps-30")), 0);
}

#[sqlx::test]
async fn a_content_refusal_fails_the_touch_but_leaves_the_contact_reachable(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    sim.fail_permanently("ann", PermanentReason::Rejected);

    deliver(&pool, &channels(&sim), &config(), t0()).await;

    assert_eq!(state(&pool, id).await.status, "failed");
    let unreachable =
        sqlx::query_scalar!("select unreachable_at from contacts where id = $1", ann.0)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(unreachable, None);
}

#[sqlx::test]
async fn an_opted_out_contact_is_skipped_for_that_category_only(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let survey = touch(&pool, acme, ann, "nps-30", "nps", t0()).await;
    let checkin = touch(&pool, acme, ann, "checkin-1", "checkin", t0()).await;
    sqlx::query!(
        "insert into contact_consents (contact_id, category, opted_out, changed_at, source)
         values ($1, 'survey', true, $2, 'chat')",
        ann.0,
        t0() - TimeDelta::days(3),
    )
    .execute(&pool)
    .await
    .unwrap();

    let report = deliver(&pool, &channels(&sim), &config(), t0()).await;

    assert_eq!((report.skipped, report.sent), (1, 1));
    let s = state(&pool, survey).await;
    assert_eq!(s.status, "skipped");
    assert_eq!(
        s.status_reason.as_deref(),
        Some("contact opted out of survey messages")
    );
    assert_eq!(state(&pool, checkin).await.status, "sent");
}

#[sqlx::test]
async fn a_touch_for_a_paused_account_or_a_removed_contact_is_skipped(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let globex = account(&pool, "Globex").await;
    let bob = contact(&pool, globex, "bob").await;
    let to_ann = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    let to_bob = touch(&pool, globex, bob, "welcome", "welcome", t0()).await;
    sqlx::query!(
        "update accounts set lifecycle = 'paused' where id = $1",
        acme.0
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query!(
        "update contacts set removed_at = $2 where id = $1",
        bob.0,
        t0()
    )
    .execute(&pool)
    .await
    .unwrap();

    let report = deliver(&pool, &channels(&sim), &config(), t0()).await;

    assert_eq!(report.skipped, 2);
    assert_eq!(
        state(&pool, to_ann).await.status_reason.as_deref(),
        Some("account is paused")
    );
    assert_eq!(
        state(&pool, to_bob).await.status_reason.as_deref(),
        Some("contact removed")
    );
    assert!(sim.sent().is_empty());
}

#[sqlx::test]
async fn a_reminder_to_a_csm_goes_to_their_telegram_or_is_skipped_without_one(pool: PgPool) {
    let telegram = Arc::new(SimulatedChannel::new().with_kind(ChannelKind::Telegram));
    let channels = Channels::new(Default::default()).with(telegram.clone());
    let acme = account(&pool, "Acme").await;
    let dana = staff(&pool, "Dana", Some(4242)).await;
    let erik = staff(&pool, "Erik", None).await;
    let for_dana = staff_touch(&pool, acme, dana, "renewal-task-120", t0()).await;
    let for_erik = staff_touch(&pool, acme, erik, "renewal-task-120-b", t0()).await;

    deliver(&pool, &channels, &config(), t0()).await;

    assert_eq!(state(&pool, for_dana).await.status, "sent");
    let sent = telegram.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message.to.address, "4242");
    assert_eq!(sent[0].message.text, "renewal_task for Dana");
    let s = state(&pool, for_erik).await;
    assert_eq!(s.status, "skipped");
    assert_eq!(s.status_reason.as_deref(), Some("CSM has no Telegram id"));
}

#[sqlx::test]
async fn a_touch_for_a_channel_this_process_lacks_waits_with_a_clear_error(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let acme = account(&pool, "Acme").await;
    let ann = contact_on(&pool, acme, "whatsapp", "+77010000000").await;
    common::wrote_at(&pool, ann, t0()).await;
    let id = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;

    let report = deliver(&pool, &channels(&sim), &config(), t0()).await;

    assert_eq!(report.retried, 1);
    let s = state(&pool, id).await;
    assert_eq!(s.status, "planned");
    assert!(s.next_attempt_at.unwrap() > t0());
    assert!(
        s.last_error
            .unwrap()
            .starts_with("no whatsapp channel is configured")
    );
}

#[sqlx::test]
async fn a_template_that_cannot_render_fails_that_touch_only(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let broken = touch(&pool, acme, ann, "welcome", "welcome", t0()).await;
    let fine = touch(&pool, acme, ann, "checkin-1", "checkin", t0()).await;
    set_template(&pool, broken, "broken").await;

    let report = deliver(&pool, &channels(&sim), &config(), t0()).await;

    assert_eq!((report.failed, report.sent), (1, 1));
    let s = state(&pool, broken).await;
    assert_eq!(s.status, "failed");
    assert!(s.status_reason.unwrap().contains("does not exist"));
    assert_eq!(state(&pool, fine).await.status, "sent");
}

#[sqlx::test]
async fn a_notify_wakes_the_run_loop_long_before_its_next_poll(pool: PgPool) {
    let sim = Arc::new(SimulatedChannel::new());
    let channels = Arc::new(channels(&sim));
    let acme = account(&pool, "Acme").await;
    let ann = contact(&pool, acme, "ann").await;
    let bob = contact(&pool, acme, "bob").await;
    touch(
        &pool,
        acme,
        ann,
        "welcome",
        "welcome",
        Utc::now() - TimeDelta::minutes(1),
    )
    .await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let config = DispatcherConfig {
        poll_interval_seconds: 3600,
        ..config()
    };
    let running = tokio::spawn(dispatcher::run_dispatcher(
        pool.clone(),
        channels,
        Arc::new(PlainRenderer),
        config,
        "looper".into(),
        shutdown,
        None,
    ));
    let wait = Duration::from_secs(10);
    tokio::time::timeout(wait, sim.wait_for_sent(1))
        .await
        .expect("the touch due at start-up was not delivered");

    // The loop now waits for an hour unless the insert's NOTIFY wakes it.
    touch(
        &pool,
        acme,
        bob,
        "welcome-bob",
        "welcome",
        Utc::now() - TimeDelta::seconds(1),
    )
    .await;
    tokio::time::timeout(wait, sim.wait_for_sent(2))
        .await
        .expect("the new touch was not delivered: the NOTIFY did not wake the loop");

    stop.send(true).unwrap();
    tokio::time::timeout(wait, running)
        .await
        .expect("the run loop did not stop on shutdown")
        .unwrap()
        .unwrap();
}

#[sqlx::test]
async fn only_the_leader_runs_scheduled_jobs_and_a_job_never_overlaps_itself(pool: PgPool) {
    let first = Arc::new(Leadership::new(&pool, "test-leader"));
    let second = Arc::new(Leadership::new(&pool, "test-leader"));
    let gate = Arc::new(tokio::sync::Notify::new());
    let body = {
        let gate = gate.clone();
        job_fn(move |_now| {
            let gate = gate.clone();
            async move {
                gate.notified().await;
                Ok(())
            }
        })
    };
    let on_first = GuardedJob::new("job", first.clone(), body);
    let on_second = GuardedJob::new("job", second.clone(), job_fn(|_now| async { Ok(()) }));

    let (a, b) = tokio::join!(on_first.run(t0()), async {
        let overlapping = on_first.run(t0()).await;
        gate.notify_one();
        overlapping
    });
    let follower = on_second.run(t0()).await;
    first.resign().await;
    let after_resign = on_second.run(t0()).await;

    assert_eq!(a, JobRun::Ran);
    assert_eq!(b, JobRun::StillRunning);
    assert_eq!(follower, JobRun::NotLeader);
    assert_eq!(after_resign, JobRun::Ran);
    assert!(!first.is_leader().await);
}
