//! The buttons under staff posts: Take, Contacted, Snooze and Resolve on an escalation card
//! (`esc:<id>:<action>`, from `escalation::card::card_buttons`), the outcome asked for on
//! Resolve (`esc:<id>:resolve:<outcome>`), and Hand back under a client's relayed words
//! (`tko:<contact>:back`). Only staff may press them; a stranger's tap changes nothing.
//!
//! After a tap the card is rebuilt from the database, with its history under it ("Taken by
//! Alice at 10:42 MSK, Mon 2 Mar"), so the adapter can edit the message in place.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use sqlx::PgPool;

use super::identity::{BUTTON_REFUSAL, log_refused, who};
use super::{takeover, when};
use crate::channel::Button;
use crate::config::Settings;
use crate::domain::{ContactId, EscalationId};
use crate::escalation::actions::{Action, ActionError, act};
use crate::escalation::card::{self, CardFacts};
use crate::escalation::input::{HealthCategory, HealthState};
use crate::escalation::lifecycle::{ChurnReason, Outcome, OutcomeParseError, Status};
use crate::escalation::store::{self, Event, Filter};
use crate::health::store::{history, latest_scores};
use crate::health::{Category, score_at};
use crate::storage::{accounts, contacts};

/// Telegram shows a callback answer of at most 200 characters.
const MAX_NOTICE: usize = 200;
/// History lines kept under a card; older ones are counted, not listed.
const LISTED_EVENTS: usize = 10;

/// A card as it should read: its text and the buttons that still make sense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardView {
    pub text: String,
    pub buttons: Vec<Vec<Button>>,
}

/// What to do with the message whose button was pressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Leave it as it is.
    Keep,
    /// Replace its text and buttons (no buttons: none are left).
    Card(CardView),
    /// Keep the text and take the buttons away.
    RemoveButtons,
}

/// The outcome of a tap: a short notice for the person who tapped (Telegram: the answer to the
/// callback query) and what becomes of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PressResult {
    pub notice: String,
    pub edit: Edit,
}

impl PressResult {
    fn new(notice: impl Into<String>, edit: Edit) -> PressResult {
        let notice: String = notice.into();
        let notice = if notice.chars().count() > MAX_NOTICE {
            let cut: String = notice.chars().take(MAX_NOTICE - 1).collect();
            format!("{cut}…")
        } else {
            notice
        };
        PressResult { notice, edit }
    }
}

/// What a tap's data asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tap {
    Escalation(EscalationId, EscTap),
    Handback(ContactId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum EscTap {
    Act(Action),
    /// Resolve was tapped: ask for the outcome.
    AskOutcome,
    /// An outcome button whose outcome needs words a button cannot carry.
    NeedsWords(OutcomeParseError),
    /// Back from the outcomes to the card's buttons.
    Back,
}

fn parse_tap(data: &str) -> Option<Tap> {
    let mut parts = data.splitn(3, ':');
    let (kind, id, rest) = (parts.next()?, parts.next()?, parts.next()?);
    let id: i64 = id.parse().ok()?;
    match kind {
        "tko" if rest == "back" => Some(Tap::Handback(ContactId(id))),
        "esc" => {
            let id = EscalationId(id);
            let tap = match rest {
                "take" => EscTap::Act(Action::Take),
                "contacted" => EscTap::Act(Action::Contacted),
                "snooze" => EscTap::Act(Action::Snooze { days: 1 }),
                "resolve" => EscTap::AskOutcome,
                "back" => EscTap::Back,
                _ => match rest.strip_prefix("resolve:")?.parse::<Outcome>() {
                    Ok(outcome) => EscTap::Act(Action::Resolve(outcome)),
                    Err(e @ OutcomeParseError::MissingDetail { .. }) => EscTap::NeedsWords(e),
                    Err(_) => return None,
                },
            };
            Some(Tap::Escalation(id, tap))
        }
        _ => None,
    }
}

/// The outcomes offered after Resolve, and a way back.
pub fn outcome_buttons(id: EscalationId) -> Vec<Vec<Button>> {
    let button = |label: &str, data: &str| Button {
        label: label.to_string(),
        data: format!("esc:{id}:{data}"),
    };
    vec![
        vec![
            button("Saved", "resolve:saved"),
            button("Recovered", "resolve:recovered"),
            button("No action needed", "resolve:no_action"),
        ],
        vec![
            button("Churned: price", "resolve:churned:price"),
            button("Churned: service", "resolve:churned:service"),
            button("Churned: budget", "resolve:churned:budget"),
        ],
        vec![
            button(
                "Churned: business changed",
                "resolve:churned:business_changed",
            ),
            button(
                "Churned: missing feature…",
                "resolve:churned:missing_feature",
            ),
            button("Churned: competitor…", "resolve:churned:competitor"),
        ],
        vec![button("« Back", "back")],
    ]
}

/// Handles a tap on a staff button by the Telegram user `presser`.
pub async fn press(
    pool: &PgPool,
    settings: &Settings,
    data: &str,
    presser: i64,
    now: DateTime<Utc>,
) -> PressResult {
    match try_press(pool, settings, data, presser, now).await {
        Ok(result) => result,
        Err(e) => {
            tracing::error!(telegram_user_id = presser, error = ?e, "could not handle a staff button");
            PressResult::new(
                "Sorry, that did not go through. Please try again in a minute.",
                Edit::Keep,
            )
        }
    }
}

async fn try_press(
    pool: &PgPool,
    settings: &Settings,
    data: &str,
    presser: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<PressResult> {
    let Some(staff) = who(pool, presser).await? else {
        log_refused(presser, "button");
        return Ok(PressResult::new(BUTTON_REFUSAL, Edit::Keep));
    };
    let Some(tap) = parse_tap(data) else {
        return Ok(PressResult::new(
            "This button is no longer in use.",
            Edit::Keep,
        ));
    };
    let (id, tap) = match tap {
        Tap::Handback(contact) => return handback(pool, contact, &staff, now).await,
        Tap::Escalation(id, tap) => (id, tap),
    };
    let refreshed = |notice: String| async move {
        Ok(match card_view(pool, settings, id, now).await? {
            Some(view) => PressResult::new(notice, Edit::Card(view)),
            None => PressResult::new(notice, Edit::Keep),
        })
    };
    match tap {
        EscTap::Back => refreshed(String::new()).await,
        EscTap::NeedsWords(e) => {
            let (reason, what) = match e {
                OutcomeParseError::MissingDetail { reason, what, .. } => (reason, what),
                _ => ("competitor", "name"),
            };
            Ok(PressResult::new(
                format!("Say which: send /resolve {id} churned:{reason}:… with the {what}."),
                Edit::Keep,
            ))
        }
        EscTap::AskOutcome => match card_view(pool, settings, id, now).await? {
            None => Ok(PressResult::new(
                format!("Escalation #esc{id} is no longer on record."),
                Edit::RemoveButtons,
            )),
            Some(view) if view.buttons.is_empty() => Ok(PressResult::new(
                "It is already resolved.",
                Edit::Card(view),
            )),
            Some(view) => Ok(PressResult::new(
                "How did it end? Choose the outcome.",
                Edit::Card(CardView {
                    text: format!("{}\n\nHow did it end? Choose the outcome below.", view.text),
                    buttons: outcome_buttons(id),
                }),
            )),
        },
        EscTap::Act(action) => match act(pool, id, &action, staff.id, now).await {
            Ok(_) => refreshed(done_notice(&action)).await,
            Err(ActionError::NotFound(_)) => Ok(PressResult::new(
                format!("Escalation #esc{id} is no longer on record."),
                Edit::RemoveButtons,
            )),
            Err(ActionError::NotAllowed { message, .. }) => refreshed(capitalised(&message)).await,
            Err(ActionError::Database(e)) => Err(e.into()),
        },
    }
}

fn done_notice(action: &Action) -> String {
    match action {
        Action::Take => "Taken: it is yours now.".into(),
        Action::Contacted => "Noted: the client was contacted.".into(),
        Action::Snooze { days: 1 } => "Snoozed for a day.".into(),
        Action::Snooze { days } => format!("Snoozed for {days} days."),
        Action::Resolve(outcome) => format!("Resolved as {}.", outcome_words(outcome)),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

async fn handback(
    pool: &PgPool,
    contact: ContactId,
    staff: &crate::storage::staff::Staff,
    now: DateTime<Utc>,
) -> anyhow::Result<PressResult> {
    let Some(person) = contacts::get(pool, contact).await? else {
        return Ok(PressResult::new(
            "That contact is no longer on record.",
            Edit::RemoveButtons,
        ));
    };
    let ended = takeover::handback(pool, contact, Some(staff.id), now).await?;
    let notice = if ended {
        format!(
            "{} is back with the bot: automated touches resume.",
            person.name
        )
    } else {
        format!("{} was already back with the bot.", person.name)
    };
    Ok(PressResult::new(notice, Edit::RemoveButtons))
}

/// "saved", "churned (competitor: Acme CRM)".
pub fn outcome_words(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Saved => "saved".into(),
        Outcome::Recovered => "recovered".into(),
        Outcome::NoAction => "no action needed".into(),
        Outcome::Other(text) => format!("other: {text}"),
        Outcome::Churned(reason) => {
            let why = match reason {
                ChurnReason::Price => "price".to_string(),
                ChurnReason::Service => "service".to_string(),
                ChurnReason::Budget => "budget".to_string(),
                ChurnReason::BusinessChanged => "the client's business changed".to_string(),
                ChurnReason::MissingFeature(f) => format!("missing feature: {f}"),
                ChurnReason::Competitor(c) => format!("competitor: {c}"),
            };
            format!("churned ({why})")
        }
    }
}

/// The card of escalation `id` as it stands at `now`: the card text with the latest evidence
/// and owner, its history, and the buttons that still apply (none once resolved). `None` when
/// there is no such escalation.
pub async fn card_view(
    pool: &PgPool,
    settings: &Settings,
    id: EscalationId,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<CardView>> {
    let mut conn = pool.acquire().await?;
    let Some(row) = store::fetch(&mut conn, Filter::One(id), false).await?.pop() else {
        return Ok(None);
    };
    let events = store::events(&mut conn, id).await?;
    drop(conn);
    let renewal = accounts::get(pool, row.account_id)
        .await?
        .and_then(|a| a.renewal_date);
    let health = health_state(pool, row.account_id, now).await?;
    let resolved = row.status() == Status::Resolved;
    let tz = settings.escalation.sla.time_zone;
    let facts = CardFacts {
        id,
        account: &row.account_name,
        reason: row.reason,
        severity: row.severity,
        evidence: &row.evidence,
        health: &health,
        renewal,
        owner: row.owner_name.as_deref(),
        // Once someone answered, the deadline is moot.
        sla_due: row
            .sla_due_at
            .filter(|_| row.first_response_at.is_none() && !resolved),
        tz,
    };
    let mut text = card::card(&facts, false);
    let lines = history_lines(&events, tz);
    if !lines.is_empty() {
        text.push_str("\n\n");
        let hidden = lines.len().saturating_sub(LISTED_EVENTS);
        if hidden > 0 {
            text.push_str(&format!("({hidden} earlier entries not shown)\n"));
        }
        text.push_str(&lines[hidden..].join("\n"));
    }
    Ok(Some(CardView {
        text,
        buttons: if resolved {
            Vec::new()
        } else {
            card::card_buttons(id)
        },
    }))
}

/// The account's latest score and its scores over the last 30 days, as the card shows them.
async fn health_state(
    pool: &PgPool,
    account: crate::domain::AccountId,
    now: DateTime<Utc>,
) -> anyhow::Result<HealthState> {
    let latest = latest_scores(pool, now, Some(account))
        .await?
        .remove(&account);
    // The score in force when the 30 days began counts as their start, so a fall from an
    // older score reads as a fall, not as "steady".
    let start = now - TimeDelta::days(30);
    let points = history(pool, account, now - TimeDelta::days(365)).await?;
    let mut recent: Vec<(DateTime<Utc>, u8)> = score_at(&points, start)
        .map(|p| (start, p.score))
        .into_iter()
        .collect();
    recent.extend(
        points
            .iter()
            .filter(|p| p.at > start && p.at <= now)
            .map(|p| (p.at, p.score)),
    );
    Ok(HealthState {
        score: latest.as_ref().and_then(|h| h.score),
        category: latest.and_then(|h| h.category).map(|c| match c {
            Category::Green => HealthCategory::Green,
            Category::Yellow => HealthCategory::Yellow,
            Category::Red => HealthCategory::Red,
        }),
        previous_category: None,
        history: recent,
    })
}

/// One line per thing that happened to the escalation after it opened, oldest first.
fn history_lines(events: &[Event], tz: chrono_tz::Tz) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| {
            let by = e.staff.as_deref().unwrap_or("someone");
            let at = when(e.at, tz);
            Some(match e.kind.as_str() {
                "acknowledged" => format!("Taken by {by} at {at}"),
                "contacted" => format!("Client contacted, noted by {by} at {at}"),
                "snoozed" => match snoozed_until(&e.details) {
                    Some(until) => {
                        format!("Snoozed by {by} at {at}, until {}", when(until, tz))
                    }
                    None => format!("Snoozed by {by} at {at}"),
                },
                "resolved" => {
                    let how = match e.details.parse::<Outcome>() {
                        Ok(outcome) => outcome_words(&outcome),
                        Err(_) => e.details.clone(),
                    };
                    format!("Resolved by {by} as {how} at {at}")
                }
                "climbed" => match e.details.as_str() {
                    "manager" => format!("Brought to the CS manager at {at}"),
                    "vp" => format!("Brought to the VP at {at}"),
                    _ => format!("Climbed the ladder at {at}"),
                },
                "realerted" => format!("Got worse at {at}"),
                "sla_breached" => format!("First-response deadline missed at {at}"),
                "cleared" => format!("The signal went away at {at}"),
                "recovered" => format!("Client recovered ({}) at {at}", e.details),
                _ => return None,
            })
        })
        .collect()
}

/// The end of a snooze as `escalation::actions` records it: "until 2026-03-03 10:42 UTC".
fn snoozed_until(details: &str) -> Option<DateTime<Utc>> {
    let text = details.strip_prefix("until ")?.strip_suffix(" UTC")?;
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
        .ok()
        .map(|t| t.and_utc())
}

/// Where a card was posted: the chat and the platform's message id, to edit it after a change
/// made elsewhere (`/resolve`, the CLI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedMessage {
    pub channel: String,
    pub chat: String,
    pub message_id: String,
}

/// Every card of escalation `id` posted to the team chat, oldest first (a re-alert posts
/// another one).
pub async fn posted_cards(pool: &PgPool, id: EscalationId) -> anyhow::Result<Vec<PostedMessage>> {
    let rows = sqlx::query!(
        r#"select sent_channel as "channel!", sent_address as "chat!",
                  provider_message_id as "message_id!"
             from staff_posts
            where escalation_id = $1 and kind in ('escalation', 'realert') and staff_id is null
              and status = 'sent' and sent_channel is not null and sent_address is not null
              and provider_message_id is not null
            order by sent_at, id"#,
        id.0
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| PostedMessage {
            channel: r.channel,
            chat: r.chat,
            message_id: r.message_id,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn card_and_outcome_buttons_read_back_as_what_they_offer() {
        let id = EscalationId(7);
        let rows = card::card_buttons(id);
        let taps: Vec<_> = rows.iter().flatten().map(|b| parse_tap(&b.data)).collect();
        assert_eq!(
            taps,
            vec![
                Some(Tap::Escalation(id, EscTap::Act(Action::Take))),
                Some(Tap::Escalation(id, EscTap::Act(Action::Contacted))),
                Some(Tap::Escalation(id, EscTap::Act(Action::Snooze { days: 1 }))),
                Some(Tap::Escalation(id, EscTap::AskOutcome)),
            ]
        );
        let outcomes: Vec<_> = outcome_buttons(id)
            .iter()
            .flatten()
            .map(|b| parse_tap(&b.data).expect(&b.data))
            .collect();
        assert!(outcomes.contains(&Tap::Escalation(
            id,
            EscTap::Act(Action::Resolve(Outcome::Churned(ChurnReason::Price)))
        )));
        assert!(outcomes.contains(&Tap::Escalation(id, EscTap::Back)));
        assert!(outcomes.iter().any(|t| matches!(
            t,
            Tap::Escalation(
                _,
                EscTap::NeedsWords(OutcomeParseError::MissingDetail {
                    reason: "competitor",
                    ..
                })
            )
        )));
    }

    #[test]
    fn every_button_fits_telegram_callback_data_even_for_the_largest_id() {
        let id = EscalationId(i64::MAX);
        for b in outcome_buttons(id).iter().flatten() {
            assert!(b.data.len() <= 64, "{} is {} bytes", b.data, b.data.len());
        }
    }

    #[test]
    fn foreign_or_broken_data_is_not_a_tap() {
        for data in [
            "",
            "esc",
            "esc:x:take",
            "esc:1:dance",
            "esc:1:resolve:maybe",
            "tko:1:go",
        ] {
            assert_eq!(parse_tap(data), None, "{data}");
        }
        assert_eq!(parse_tap("tko:5:back"), Some(Tap::Handback(ContactId(5))));
    }

    #[test]
    fn the_history_says_who_did_what_and_when_in_the_team_zone() {
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 7, 42, 0).unwrap();
        let event = |kind: &str, details: &str| Event {
            at,
            kind: kind.into(),
            staff: Some("Alice".into()),
            details: details.into(),
        };
        let lines = history_lines(
            &[
                event("opened", "critical"),
                event("acknowledged", ""),
                event("snoozed", "until 2026-03-03 07:42 UTC"),
                event("resolved", "churned:competitor:Acme CRM"),
            ],
            chrono_tz::Europe::Moscow,
        );
        assert_eq!(
            lines,
            vec![
                "Taken by Alice at 10:42 MSK, Mon 2 Mar",
                "Snoozed by Alice at 10:42 MSK, Mon 2 Mar, until 10:42 MSK, Tue 3 Mar",
                "Resolved by Alice as churned (competitor: Acme CRM) at 10:42 MSK, Mon 2 Mar",
            ]
        );
    }

    #[test]
    fn a_long_notice_is_cut_to_what_telegram_shows() {
        let r = PressResult::new("x".repeat(500), Edit::Keep);
        assert_eq!(r.notice.chars().count(), MAX_NOTICE);
    }
}
