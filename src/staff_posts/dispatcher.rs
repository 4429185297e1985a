//! Delivers staff posts (escalation cards, ladder steps, SLA breaches, digests) queued in
//! `staff_posts`, on the delivery engine with the touches: claimed under a fenced lease, marked
//! 'sending' before the channel is called, retried with backoff, never sent twice, and left
//! 'unknown' rather than resent when a crash makes the outcome unclear.
//!
//! Where a post goes is decided at send time, from the recipient as they are then: a staff
//! member's private Telegram chat, or the team chat (also for a staff member the bot cannot
//! reach privately). A post with nowhere to go waits, without counting a try, and longer each
//! time it is found still waiting (as a touch does), so a card that no running process can
//! send is not claimed every poll forever. Binding a team chat, or a process starting with the
//! missing channel, brings such posts forward.
//!
//! `deliver_due_posts` does one pass at a given `now` (tests call it); `run_post_dispatcher`
//! adds the waiting, on the wall clock.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::watch;

use super::queue::{self as post_queue, Lease, PostRow, PostTable};
use super::texts::{self as post_texts, Lang};
use crate::channel::{Address, Channels, OutboundMessage};
use crate::delivery::chat::{ChatMessage, NotNow, Pace};
use crate::delivery::policy::{Clock, Stop, backoff_at};
use crate::delivery::queue::{Handed, Plan, Queue, Ready};
use crate::delivery::{Reconciled, Rescued, Settle, Worker, reconcile, worker};
use crate::domain::{ChannelKind, PostId};
use crate::outbound::dispatcher::DispatcherConfig;

pub use super::queue::{NOTIFY_CHANNEL, UNSUPPORTED_LOOKUP_REASON};

/// Why a post meant for the team chat waits.
pub const NO_TEAM_CHAT: &str =
    "waiting for a team chat: none is bound yet (touchbot team set-chat)";

/// Counts of what one delivery pass did.
pub type PostDeliveryReport = crate::delivery::Report;

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

/// What the staff dispatcher needs to deliver posts.
pub struct Posts<'a> {
    pub channels: &'a Channels,
    pub config: &'a DispatcherConfig,
    /// Whether a post whose chat is not ready waits in the queue or for the chat.
    pub pace: Pace,
}

/// Why a post waits for a channel this process does not have; the same words let a process
/// that has it find those posts at start (`post_queue::bring_forward_waiting_for`).
pub fn no_channel_reason(kind: ChannelKind) -> String {
    format!(
        "waiting: no {kind} channel is configured in this process, so the post waits until one is"
    )
}

impl Posts<'_> {
    /// Back in the queue, the reason kept, no try spent: what it waits for (a team chat, a
    /// channel, an address) comes from a person, not from time, so each claim that finds it
    /// still waiting doubles the wait (from the backoff base up to its cap), and whatever
    /// supplies the missing piece brings it forward.
    fn wait(&self, why: String, attempt: i32, now: DateTime<Utc>) -> Settle {
        tracing::debug!(why, attempt, "staff post waits");
        Settle::Wait {
            at: backoff_at(self.config, attempt, now),
            why,
        }
    }
}

impl<'a> Queue for Posts<'a> {
    type Table = PostTable;
    type Message = ChatMessage<'a>;
    type FollowUp = ();

    fn prepare(
        &self,
        row: &PostRow,
        lease: Lease,
        now: DateTime<Utc>,
    ) -> Plan<ChatMessage<'a>, ()> {
        let (to, rerouted_for) = match route(row) {
            Route::Send { to, rerouted_for } => (to, rerouted_for),
            Route::Wait(why) => return Plan::Settle(self.wait(why, lease.attempt, now), None),
        };
        let kind = to.channel;
        let message = OutboundMessage {
            idempotency_key: post_queue::channel_key(&row.idempotency_key),
            text: post_text(row, rerouted_for.as_deref()),
            buttons: row.buttons.clone(),
            to,
            template: None,
        };
        match ChatMessage::new(self.channels, message, now, self.pace) {
            Ok(message) => Plan::Send(message),
            Err(NotNow::Paused(wait)) => Plan::Settle(wait, None),
            Err(NotNow::NoChannel) => {
                Plan::Settle(self.wait(no_channel_reason(kind), lease.attempt, now), None)
            }
        }
    }

    fn destination(&self, message: &ChatMessage<'a>) -> Option<(ChannelKind, String)> {
        let to = &message.message.to;
        Some((to.channel, to.address.clone()))
    }

    async fn wait_turn(&self, message: &ChatMessage<'a>, stop: &Stop) -> Ready {
        message.wait_turn(stop).await
    }

    async fn send(&self, message: &ChatMessage<'a>, tries: i32, now: DateTime<Utc>) -> Handed {
        message.send(tries, self.config, now).await
    }
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
    let posts = Posts {
        channels,
        config,
        pace: Pace::Defer,
    };
    Worker::at(&posts, pool, config, now)
        .deliver_due(worker_id, now)
        .await
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
    deliver_posts_together(pool, channels, config, worker_id, ids, 1).await
}

/// As [`deliver_posts_now`], `in_flight` at a time: for the answers of many conversations
/// at once (a drainer's batch), where no two of `ids` must keep an order between them.
pub async fn deliver_posts_together(
    pool: &PgPool,
    channels: &Channels,
    config: &DispatcherConfig,
    worker_id: &str,
    ids: &[PostId],
    in_flight: usize,
) -> anyhow::Result<PostDeliveryReport> {
    // A conversation's answers go in order and at once: they wait for the chat.
    let posts = Posts {
        channels,
        config,
        pace: Pace::Wait,
    };
    let worker = Worker {
        queue: &posts,
        pool,
        config,
        clock: Clock::Wall,
        stop: Stop::default(),
    };
    let leases = post_queue::claim_these(pool, worker_id, ids, Utc::now(), config.lease())
        .await
        .context("could not claim the posts to deliver at once")?;
    Ok(worker.deliver(leases, in_flight.max(1)).await)
}

/// The staff posts' part of the periodic safety net: take back expired leases, then settle
/// what became 'unknown'.
pub async fn rescue_and_reconcile_posts(
    pool: &PgPool,
    channels: &Channels,
    now: DateTime<Utc>,
) -> anyhow::Result<(Rescued, Reconciled)> {
    reconcile::rescue_and_reconcile::<PostTable>(pool, channels, now).await
}

/// Makes due at `now` the posts that waited for one of `channels` (no process running had
/// it): a process starting with the channel sends them at once rather than at their next try,
/// which may be an hour away. Returns how many.
pub async fn bring_forward_posts_for(
    pool: &PgPool,
    channels: &Channels,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let reasons: Vec<String> = channels
        .kinds()
        .into_iter()
        .map(no_channel_reason)
        .collect();
    post_queue::bring_forward_waiting_for(pool, &reasons, now).await
}

/// Delivers staff posts as they fall due until `shutdown` turns true (or its sender is
/// dropped); see `delivery::worker::run`.
pub async fn run_post_dispatcher(
    pool: PgPool,
    channels: Arc<Channels>,
    config: DispatcherConfig,
    worker_id: String,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    match bring_forward_posts_for(&pool, &channels, Utc::now()).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            posts = n,
            "staff posts that waited for a channel this process has are due now"
        ),
        Err(e) => tracing::warn!(
            error = %e,
            "could not bring forward the staff posts waiting for a channel; they go out at their next try"
        ),
    }
    let posts = Posts {
        channels: &channels,
        config: &config,
        pace: Pace::Defer,
    };
    worker::run(&posts, &pool, &config, &worker_id, shutdown).await;
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
