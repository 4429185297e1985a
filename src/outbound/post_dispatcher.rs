//! Delivers staff posts (escalation cards, ladder steps, SLA breaches, digests) queued in
//! `staff_posts`, with the touch dispatcher's guarantees: claimed under a fenced lease, marked
//! 'sending' before the channel is called, retried with backoff, never sent twice, and left
//! 'unknown' rather than resent when a crash makes the outcome unclear.
//!
//! Where a post goes is decided at send time, from the recipient as they are then: a staff
//! member's private Telegram chat, or the team chat (also for a staff member the bot cannot
//! reach privately). A post with nowhere to go waits, without counting a try.
//!
//! `deliver_due_posts` does one pass at a given `now` (tests call it); `run_post_dispatcher`
//! adds the waiting, on the wall clock.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use sqlx::PgPool;
use tokio::sync::watch;

use super::delivery::{AfterSend, Clock, RECORD_PATIENCE, Stop, after_send, record_patiently};
use super::dispatcher::{DispatcherConfig, Reconciled};
use super::outbox::Rescued;
use super::post_queue::{self, PostLease, PostQueueError, PostRow};
use super::post_texts::{self, Lang};
use super::wakeup::{Wakeup, wait_before_next_pass};
use crate::channel::{Address, Channels, Lookup, OutboundMessage};
use crate::domain::{ChannelKind, PostId};

/// The PostgreSQL channel the `staff_posts` trigger notifies when a post is due to deliver.
pub const NOTIFY_CHANNEL: &str = "touchbot_staff_posts";

/// Why a post meant for the team chat waits.
pub const NO_TEAM_CHAT: &str =
    "waiting for a team chat: none is bound yet (touchbot team set-chat)";

/// Counts of what one delivery pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PostDeliveryReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    /// Posts with nowhere to go yet, put back without counting a try.
    pub waiting: usize,
    /// Handed to the channel without a clear answer: left 'unknown', never posted again.
    pub unknown: usize,
    /// Handed back unsent because the dispatcher is stopping.
    pub released: usize,
    /// Posts this worker lost to the lease rescue before it could record a result.
    pub lease_lost: usize,
    /// Posts left in place by a database error; the lease rescue picks them up.
    pub errors: usize,
}

impl PostDeliveryReport {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Sent => self.sent += 1,
            Outcome::Retried => self.retried += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Waiting => self.waiting += 1,
            Outcome::Unknown => self.unknown += 1,
            Outcome::Released => self.released += 1,
            Outcome::LeaseLost => self.lease_lost += 1,
        }
    }

    pub fn add(&mut self, other: PostDeliveryReport) {
        self.claimed += other.claimed;
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
        self.waiting += other.waiting;
        self.unknown += other.unknown;
        self.released += other.released;
        self.lease_lost += other.lease_lost;
        self.errors += other.errors;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Sent,
    Retried,
    Failed,
    Waiting,
    Unknown,
    Released,
    LeaseLost,
}

/// Where a post goes at send time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `rerouted_for` names the staff member when their post goes to the team chat instead.
    Send {
        to: Address,
        rerouted_for: Option<String>,
    },
    /// Nowhere to post yet; the reason is kept on the post.
    Wait(String),
}

/// A post for a client contact goes to them (never to the team chat); a staff member with a
/// Telegram id gets the post privately; the team chat gets the rest.
pub fn route(row: &PostRow) -> Route {
    if let Some((contact, channel, address)) = &row.contact {
        return match (channel.parse::<ChannelKind>(), address) {
            (Ok(channel), Some(address)) => Route::Send {
                to: Address {
                    channel,
                    address: address.clone(),
                },
                rerouted_for: None,
            },
            _ => Route::Wait(format!(
                "waiting for contact {contact} to have an address the bot can reach"
            )),
        };
    }
    if let (Some(_), Some(telegram_id)) = (row.staff_id, row.staff_telegram_user_id) {
        return Route::Send {
            to: Address {
                channel: ChannelKind::Telegram,
                address: telegram_id.to_string(),
            },
            rerouted_for: None,
        };
    }
    let channel = row.team_channel.as_deref().map(str::parse::<ChannelKind>);
    match (channel, &row.team_address) {
        (Some(Ok(channel)), Some(address)) => Route::Send {
            to: Address {
                channel,
                address: address.clone(),
            },
            rerouted_for: row.staff_id.map(|id| {
                row.staff_name
                    .clone()
                    .unwrap_or_else(|| format!("staff {id}"))
            }),
        },
        (Some(Err(_)), _) => Route::Wait(format!(
            "waiting for a team chat: the bound one names channel '{}', which this build does \
             not know; bind it again (touchbot team set-chat)",
            row.team_channel.as_deref().unwrap_or_default()
        )),
        _ => Route::Wait(NO_TEAM_CHAT.into()),
    }
}

/// The text as posted: the body, after a line naming whom it is for when it was rerouted.
pub fn post_text(row: &PostRow, rerouted_for: Option<&str>) -> String {
    match rerouted_for {
        Some(name) => format!(
            "{}\n\n{}",
            post_texts::rerouted_for(Lang::of(row.staff_locale.as_deref()), name),
            row.body
        ),
        None => row.body.clone(),
    }
}

struct Pass<'a> {
    pool: &'a PgPool,
    channels: &'a Channels,
    config: &'a DispatcherConfig,
    clock: Clock,
    stop: Stop,
}

/// Claims and delivers every post due at `now`, batch after batch, until none is left. A post
/// retried or waiting is due again only after `now`, so the pass ends.
pub async fn deliver_due_posts(
    pool: &PgPool,
    channels: &Channels,
    config: &DispatcherConfig,
    worker_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<PostDeliveryReport> {
    let mut report = PostDeliveryReport::default();
    loop {
        let batch = deliver_post_batch(pool, channels, config, worker_id, now).await?;
        if batch.claimed == 0 {
            return Ok(report);
        }
        report.add(batch);
    }
}

/// Claims one batch of posts due at `now` and delivers it, recording every change at `now`;
/// leases run on the database's clock.
pub async fn deliver_post_batch(
    pool: &PgPool,
    channels: &Channels,
    config: &DispatcherConfig,
    worker_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<PostDeliveryReport> {
    let pass = Pass {
        pool,
        channels,
        config,
        clock: Clock::Fixed(now),
        stop: Stop::default(),
    };
    pass.deliver_batch(worker_id, now).await
}

/// Delivers the posts `ids` at once, one after the other in their order, if they still wait:
/// for a post its producer has just queued and wants out now (the bot's answer to a client).
/// A post this cannot deliver now (slowed down, no channel) stays queued for the dispatcher;
/// one that another worker holds or that went out already is left alone.
pub async fn deliver_posts_now(
    pool: &PgPool,
    channels: &Channels,
    config: &DispatcherConfig,
    worker_id: &str,
    ids: &[PostId],
) -> anyhow::Result<PostDeliveryReport> {
    let pass = Pass {
        pool,
        channels,
        config,
        clock: Clock::Wall,
        stop: Stop::default(),
    };
    let leases = post_queue::claim_these(pool, worker_id, ids, Utc::now(), config.lease())
        .await
        .context("could not claim the posts to deliver at once")?;
    let mut report = PostDeliveryReport {
        claimed: leases.len(),
        ..Default::default()
    };
    for lease in leases {
        match pass.deliver_one(lease).await {
            Ok(outcome) => report.count(outcome),
            Err((id, e)) => {
                report.errors += 1;
                tracing::error!(post_id = %id, error = ?e, "could not record a post's delivery");
            }
        }
    }
    Ok(report)
}

impl Pass<'_> {
    async fn deliver_batch(
        &self,
        worker_id: &str,
        due_at: DateTime<Utc>,
    ) -> anyhow::Result<PostDeliveryReport> {
        let batch = post_queue::claim_due(
            self.pool,
            worker_id,
            due_at,
            self.config.lease(),
            self.config.batch_size.max(1),
        )
        .await
        .context("could not claim due staff posts")?;
        let mut report = PostDeliveryReport {
            claimed: batch.len(),
            ..Default::default()
        };
        let outcomes: Vec<_> = futures::stream::iter(batch)
            .map(|lease| self.deliver_one(lease))
            .buffer_unordered(self.config.workers.max(1))
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Ok(outcome) => report.count(outcome),
                Err((id, e)) => {
                    report.errors += 1;
                    tracing::error!(post_id = %id, error = ?e, "could not record a staff post's delivery");
                }
            }
        }
        Ok(report)
    }

    async fn deliver_one(&self, lease: PostLease) -> Result<Outcome, (PostId, anyhow::Error)> {
        self.try_deliver(lease).await.or_else(|e| match e {
            PostQueueError::LeaseLost(_) => {
                tracing::warn!(post_id = %lease.id, attempt = lease.attempt, "lease lost");
                Ok(Outcome::LeaseLost)
            }
            PostQueueError::Database(e) => Err((lease.id, e.into())),
        })
    }

    async fn wait(&self, lease: PostLease, why: &str) -> Result<Outcome, PostQueueError> {
        let poll = TimeDelta::seconds(self.config.poll_interval_seconds.max(1) as i64);
        let now = self.clock.now();
        post_queue::wait_for_route(self.pool, lease, now + poll, why, now).await?;
        tracing::debug!(post_id = %lease.id, why, "staff post waits");
        Ok(Outcome::Waiting)
    }

    async fn try_deliver(&self, lease: PostLease) -> Result<Outcome, PostQueueError> {
        if self.stop.raised() {
            post_queue::release(self.pool, lease, self.clock.now()).await?;
            return Ok(Outcome::Released);
        }
        let now = self.clock.now();
        let Some(row) = post_queue::load_for_send(self.pool, lease.id).await? else {
            // Deleted since the claim (its escalation or recipient went): nothing to record.
            return Ok(Outcome::LeaseLost);
        };
        let (to, rerouted_for) = match route(&row) {
            Route::Send { to, rerouted_for } => (to, rerouted_for),
            Route::Wait(why) => return self.wait(lease, &why).await,
        };
        let kind = to.channel;
        let (Some(channel), Some(throttle)) =
            (self.channels.get(kind), self.channels.throttle(kind))
        else {
            let why = format!(
                "waiting: no {kind} channel is configured in this process, so the post waits \
                 until one is"
            );
            return self.wait(lease, &why).await;
        };
        if let Some(until) = throttle.paused_until(&to.address, now) {
            let error = format!("waiting: {kind} asked us to slow down for this chat");
            post_queue::retry_later(self.pool, lease, until, &error, false, now).await?;
            return Ok(Outcome::Retried);
        }
        let message = OutboundMessage {
            idempotency_key: post_queue::channel_key(&row.idempotency_key),
            text: post_text(&row, rerouted_for.as_deref()),
            buttons: row.buttons.clone(),
            to,
            template: None,
        };

        if !self.stop.wait_turn(throttle, &message.to.address).await {
            post_queue::release(self.pool, lease, self.clock.now()).await?;
            return Ok(Outcome::Released);
        }
        let lease_for = self.config.lease();
        let tries =
            post_queue::mark_sending(self.pool, lease, &message.to, self.clock.now(), lease_for)
                .await?;
        let result = channel.send(&message).await;
        let now = self.clock.now();
        let after = after_send(result, &message.to, throttle, tries, self.config, now);
        record_patiently(RECORD_PATIENCE, || self.record(lease, after.clone(), now)).await
    }

    /// Stores what became of a post, as `after_send` read the channel's answer.
    async fn record(
        &self,
        lease: PostLease,
        after: AfterSend,
        now: DateTime<Utc>,
    ) -> Result<Outcome, PostQueueError> {
        match after {
            AfterSend::Sent(delivered) => {
                post_queue::complete(self.pool, lease, &delivered.provider_message_id, now).await?;
                Ok(Outcome::Sent)
            }
            AfterSend::Retry { at, error, counts } => {
                post_queue::retry_later(self.pool, lease, at, &error, counts, now).await?;
                Ok(Outcome::Retried)
            }
            AfterSend::Unknown { reason } => {
                tracing::warn!(post_id = %lease.id, %reason, "staff post outcome unknown");
                post_queue::mark_unknown(self.pool, lease, &reason, now).await?;
                Ok(Outcome::Unknown)
            }
            AfterSend::Fail { reason, .. } => {
                tracing::warn!(post_id = %lease.id, %reason, "staff post failed");
                post_queue::fail(self.pool, lease, &reason, now).await?;
                Ok(Outcome::Failed)
            }
        }
    }
}

pub const UNSUPPORTED_LOOKUP_REASON: &str = "posting this was cut short (the worker stopped, or \
    the channel's answer was lost) and the channel cannot tell whether it arrived, so it is not posted again on its own; look in the \
    chat named by sent_address, and set the post back to 'planned' if it is not there";

/// Asks the channel of each 'unknown' post whether it arrived, and settles what it can.
pub async fn reconcile_unknown_posts(
    pool: &PgPool,
    channels: &Channels,
    now: DateTime<Utc>,
) -> anyhow::Result<Reconciled> {
    let mut result = Reconciled::default();
    let unknown = post_queue::list_unknown(pool)
        .await
        .context("could not list the staff posts with an unknown outcome")?;
    for post in unknown {
        let Some(channel) = post.channel.and_then(|kind| channels.get(kind)) else {
            let reason = match post.channel {
                Some(kind) => format!(
                    "the worker stopped while posting; no {kind} channel is configured here to \
                     ask whether the post arrived"
                ),
                None => "the worker stopped while posting, to a channel this build does not \
                         know"
                    .into(),
            };
            post_queue::explain_unknown(pool, post.id, &reason, now).await?;
            result.still_unknown += 1;
            continue;
        };
        match channel
            .lookup(&post_queue::channel_key(&post.idempotency_key))
            .await
        {
            Lookup::Sent(delivered) => {
                post_queue::resolve_unknown_as_sent(
                    pool,
                    post.id,
                    &delivered.provider_message_id,
                    now,
                )
                .await?;
                result.sent += 1;
            }
            Lookup::NotSent => {
                let why = "the channel confirmed the interrupted post never arrived";
                post_queue::requeue_unknown(pool, post.id, why, now).await?;
                result.requeued += 1;
            }
            Lookup::Unsupported => {
                post_queue::explain_unknown(pool, post.id, UNSUPPORTED_LOOKUP_REASON, now).await?;
                result.still_unknown += 1;
            }
        }
    }
    Ok(result)
}

/// The staff posts' part of the periodic safety net: take back expired leases, then settle
/// what became 'unknown'.
pub async fn rescue_and_reconcile_posts(
    pool: &PgPool,
    channels: &Channels,
    now: DateTime<Utc>,
) -> anyhow::Result<(Rescued, Reconciled)> {
    let mut conn = pool.acquire().await.context("could not reach PostgreSQL")?;
    let rescued = post_queue::rescue_expired_leases(&mut conn, now)
        .await
        .context("could not rescue the expired leases of staff posts")?;
    drop(conn);
    let reconciled = reconcile_unknown_posts(pool, channels, now).await?;
    if rescued != Rescued::default() || reconciled != Reconciled::default() {
        tracing::info!(?rescued, ?reconciled, "staff post rescue");
    }
    Ok((rescued, reconciled))
}

/// Delivers staff posts as they fall due until `shutdown` turns true (or its sender is
/// dropped). It wakes on the `staff_posts` trigger's NOTIFY, at the next due time it knows of,
/// and at least every `poll_interval_seconds`. Expired leases are the scheduler's rescue job's.
/// Once `shutdown` is raised, posts not yet handed to a channel go back to the queue.
pub async fn run_post_dispatcher(
    pool: PgPool,
    channels: Arc<Channels>,
    config: DispatcherConfig,
    worker_id: String,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let poll = Duration::from_secs(config.poll_interval_seconds.max(1));
    let mut wakeup = Wakeup::listen(&pool, NOTIFY_CHANNEL).await;
    tracing::info!(worker_id, "staff post dispatcher started");
    let pass = Pass {
        pool: &pool,
        channels: &channels,
        config: &config,
        clock: Clock::Wall,
        stop: Stop::new(&shutdown),
    };

    while !pass.stop.raised() {
        let mut report = PostDeliveryReport::default();
        while !pass.stop.raised() {
            match pass.deliver_batch(&worker_id, Utc::now()).await {
                Ok(batch) if batch.claimed > 0 => report.add(batch),
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(error = ?e, "staff post delivery pass failed");
                    break;
                }
            }
        }
        if report.claimed > report.waiting {
            tracing::info!(?report, "staff post delivery pass");
        }
        let next = post_queue::next_due_at(&pool).await;
        wakeup
            .wait(wait_before_next_pass(next, poll, Utc::now()), &mut shutdown)
            .await;
    }
    tracing::info!(worker_id, "staff post dispatcher stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::StaffId;

    fn row() -> PostRow {
        PostRow {
            id: PostId(1),
            idempotency_key: "esc:4:opened:staff-2".into(),
            body: "Acme: NPS 3".into(),
            buttons: vec![],
            staff_id: Some(StaffId(2)),
            staff_name: Some("Dana".into()),
            staff_telegram_user_id: Some(4242),
            staff_locale: Some("en".into()),
            team_channel: Some("telegram".into()),
            contact: None,
            team_address: Some("-100500".into()),
        }
    }

    #[test]
    fn a_staff_member_with_a_telegram_id_gets_the_post_privately() {
        assert_eq!(
            route(&row()),
            Route::Send {
                to: Address {
                    channel: ChannelKind::Telegram,
                    address: "4242".into()
                },
                rerouted_for: None
            }
        );
    }

    #[test]
    fn a_staff_member_without_one_gets_it_in_the_team_chat_under_their_name() {
        let mut r = row();
        r.staff_telegram_user_id = None;
        let Route::Send { to, rerouted_for } = route(&r) else {
            panic!("expected a send");
        };
        assert_eq!(to.address, "-100500");
        assert_eq!(rerouted_for.as_deref(), Some("Dana"));
        let text = post_text(&r, rerouted_for.as_deref());
        assert!(text.starts_with("For Dana "), "{text}");
        assert!(text.ends_with("\n\nAcme: NPS 3"), "{text}");
    }

    #[test]
    fn a_team_post_goes_to_the_bound_chat_as_written() {
        let mut r = row();
        r.staff_id = None;
        r.staff_name = None;
        r.staff_telegram_user_id = None;
        let Route::Send { to, rerouted_for } = route(&r) else {
            panic!("expected a send");
        };
        assert_eq!(to.channel, ChannelKind::Telegram);
        assert_eq!(rerouted_for, None);
        assert_eq!(post_text(&r, None), "Acme: NPS 3");
    }

    #[test]
    fn without_a_team_chat_a_team_post_waits_and_says_how_to_bind_one() {
        let mut r = row();
        r.staff_id = None;
        r.team_channel = None;
        r.team_address = None;
        assert_eq!(route(&r), Route::Wait(NO_TEAM_CHAT.into()));
        assert!(NO_TEAM_CHAT.contains("touchbot team set-chat"));
    }
}
