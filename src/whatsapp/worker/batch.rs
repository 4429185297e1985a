//! A drainer's batch of events, handled together where that changes nothing a contact or a
//! CSM sees: the senders are looked up in one statement, the messages stored together (one
//! transaction, a statement per kind of row; one by one if that fails, so one bad message
//! holds up none of the others) and their answers queued together; the steps after them (the reassessment of their accounts, with the escalation rules) run once
//! for the lot, their answers go out together (each still marked `sending`, durably, before
//! it is handed over) and the events are marked done in one statement, after all that.
//!
//! A round holds at most one message per account: a second reply from the same account
//! closes the round first, so the escalation rules see every reply's score, as they would
//! one at a time (two detractor and promoter scores scored together would hide the first).
//! The claim already gives at most one message per sender.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::super::arrivals::{self, Answered, Incoming};
use super::super::events::StoredMessage;
use super::super::queue::{self, Claimed};
use super::{NOT_YET_PAUSE, Worker};
use crate::domain::PostId;
use crate::inbound::followups;
use crate::inbound::{ContactRef, FollowUps};
use crate::staff_posts::dispatcher::deliver_posts_together;

/// A message of the batch, read and its sender found, waiting for its round to be stored.
struct Pending {
    event: Claimed,
    stored: StoredMessage,
    address: String,
    contact: Option<ContactRef>,
}

/// What a round has handled so far, still to be followed up, answered and marked done.
#[derive(Default)]
struct Round {
    follow_ups: Vec<String>,
    /// Each message's queued answers, in order.
    answers: Vec<Vec<PostId>>,
    /// The events whose handling the round completes, and the messages among them.
    events: Vec<Claimed>,
    latest: Option<DateTime<Utc>>,
}

/// Handles `events` (claimed, in their order); returns how many were done, and false when
/// the database went away (the drainer stops for now; the rest stay claimed until their lease
/// runs out).
pub(super) async fn handle(worker: &Worker, events: Vec<Claimed>) -> (usize, bool) {
    let (mut pending, mut accounts) = (Vec::new(), BTreeSet::new());
    let mut handled = 0;
    for (event, read) in read_messages(worker, events).await {
        let message = match read {
            None => match one_alone(worker, &event).await {
                Some(done) => {
                    handled += done;
                    continue;
                }
                None => return (handled, false),
            },
            Some(Err(e)) => {
                if !worker.after_failure(&event, e).await {
                    return (handled, false);
                }
                continue;
            }
            Some(Ok(message)) => message,
        };
        let account = message.contact.as_ref().map(|c| c.account_id);
        if let Some(account) = account
            && !accounts.insert(account)
        {
            match store_round(worker, std::mem::take(&mut pending)).await {
                Some(done) => handled += done,
                None => return (handled, false),
            }
            accounts = BTreeSet::from([account]);
        }
        pending.push(message);
    }
    match store_round(worker, pending).await {
        Some(done) => (handled + done, true),
        None => (handled, false),
    }
}

/// The batch's messages read and their senders looked up (in one statement); None for an
/// event that is no message, an error for a message that cannot be read.
async fn read_messages(
    worker: &Worker,
    events: Vec<Claimed>,
) -> Vec<(Claimed, Option<anyhow::Result<Pending>>)> {
    let read: Vec<Option<anyhow::Result<StoredMessage>>> = events
        .iter()
        .map(|event| {
            (event.kind == "message").then(|| {
                serde_json::from_value(event.payload.clone())
                    .map_err(|e| anyhow::anyhow!(e).context("reading a stored WhatsApp message"))
            })
        })
        .collect();
    let messages: Vec<&StoredMessage> = read.iter().flatten().flatten().collect();
    let mut senders = match arrivals::senders(worker, &messages).await {
        Ok(senders) => senders.into_iter(),
        Err(e) => {
            let e = format!("{e:#}");
            let failed = || Err(anyhow::anyhow!(e.clone()));
            return events
                .into_iter()
                .zip(read)
                .map(|(event, read)| (event, read.map(|_| failed())))
                .collect();
        }
    };
    events
        .into_iter()
        .zip(read)
        .map(|(event, read)| {
            let pending = read.map(|read| {
                let stored = read?;
                let (address, contact) = senders.next().expect("a sender for each message")?;
                Ok(Pending {
                    event: event.clone(),
                    stored,
                    address,
                    contact,
                })
            });
            (event, pending)
        })
        .collect()
}

/// A status (or anything else but a message), handled on its own as before: Some(1) when
/// done, Some(0) when put off or failed, None when the database went away.
async fn one_alone(worker: &Worker, event: &Claimed) -> Option<usize> {
    match worker.handle(event).await {
        Ok(false) => match queue::later(&worker.handling, event.id, NOT_YET_PAUSE).await {
            Ok(()) => Some(0),
            Err(e) => {
                tracing::warn!(event = event.id, error = %e, "could not put a WhatsApp event off");
                None
            }
        },
        Ok(true) => match queue::done(&worker.handling, event.id).await {
            Ok(()) => Some(1),
            Err(e) => {
                tracing::warn!(event = event.id, error = %e, "could not mark a WhatsApp event done");
                None
            }
        },
        Err(e) => worker.after_failure(event, e).await.then_some(0),
    }
}

/// Stores a round's messages together (no two of one account), then finishes the round;
/// how many were done, None when the database went away.
async fn store_round(worker: &Worker, pending: Vec<Pending>) -> Option<usize> {
    if pending.is_empty() {
        return Some(0);
    }
    let incoming: Vec<Incoming<'_>> = pending
        .iter()
        .map(|p| Incoming {
            stored: &p.stored,
            address: &p.address,
            contact: p.contact.as_ref(),
        })
        .collect();
    let answered = arrivals::answer_all(worker, &incoming, FollowUps::ByCaller).await;
    let mut round = Round::default();
    for (p, answered) in pending.iter().zip(answered) {
        match answered {
            Ok(Answered { queued, follow_ups }) => {
                round.follow_ups.extend(follow_ups);
                round.answers.push(queued);
                round.events.push(p.event.clone());
                let at = p.stored.message.sent_at();
                round.latest = Some(round.latest.map_or(at, |l| l.max(at)));
            }
            Err(e) => {
                if !worker.after_failure(&p.event, e).await {
                    return None;
                }
            }
        }
    }
    finish(worker, round).await
}

/// Does the round's follow-ups together, delivers its answers and marks its events done;
/// how many were done, None when the database went away.
async fn finish(worker: &Worker, round: Round) -> Option<usize> {
    if round.events.is_empty() {
        return Some(0);
    }
    let now = round.latest.unwrap_or_else(Utc::now);
    // A failed step is recorded on its row and done by the sweep: the messages are stored,
    // and their answers are due.
    if let Err(e) =
        followups::run_batch(&worker.handling, &worker.settings, &round.follow_ups, now).await
    {
        tracing::warn!(error = ?e, "the steps after a batch of WhatsApp messages failed; they are done later");
    }
    if let Err(e) = deliver(worker, &round.answers).await {
        // Each is handled again (its answers delivered then), as after any failure.
        let e = format!("{e:#}");
        for event in &round.events {
            if !worker
                .after_failure(event, anyhow::anyhow!(e.clone()))
                .await
            {
                return None;
            }
        }
        return Some(0);
    }
    let ids: Vec<i64> = round.events.iter().map(|e| e.id).collect();
    match queue::done_all(&worker.handling, &ids).await {
        Ok(()) => Some(ids.len()),
        Err(e) => {
            // Handled; done again (changing nothing) once the claims run out.
            tracing::warn!(events = ids.len(), error = %e, "could not mark WhatsApp events done");
            None
        }
    }
}

/// The answers of the round's messages, the first of each together, then the second of each
/// (if any), so one message's answers keep their order; different messages are different
/// chats (one message per sender in a claim).
async fn deliver(worker: &Worker, answers: &[Vec<PostId>]) -> anyhow::Result<()> {
    let worker_id = format!("answers-{}", std::process::id());
    let deepest = answers.iter().map(Vec::len).max().unwrap_or(0);
    for n in 0..deepest {
        let ids: Vec<PostId> = answers.iter().filter_map(|a| a.get(n).copied()).collect();
        deliver_posts_together(
            &worker.pool,
            &worker.answers,
            &worker.settings.dispatcher,
            &worker_id,
            &ids,
            ids.len(),
        )
        .await
        .map_err(|e| e.context("answering a batch of WhatsApp messages"))?;
    }
    Ok(())
}
