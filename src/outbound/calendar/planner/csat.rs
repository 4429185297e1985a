//! The CSAT survey after a closed support ticket: whom to ask, and the days it may use.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use super::{Candidate, Planner, Timing, What, from_pick};
use crate::domain::TouchKind;
use crate::outbound::calendar::config::{QuietMove, RecipientChoice};
use crate::outbound::calendar::recipients::{Rotation, eligibility, pick_by_roles};
use crate::outbound::calendar::window::local_of;
use crate::outbound::calendar::{ClosedTicket, Recipient, SentTouch};

/// The rule name stored with every CSAT touch.
const RULE: &str = "csat";

const KIND: TouchKind = TouchKind::Csat;

/// The touch key of a ticket's survey: one per ticket, however often it is re-planned.
fn key_of(ticket: &str) -> String {
    format!("csat@{ticket}")
}

/// Whom a survey goes to, the notes saying why, and the reason it is skipped, if it is.
type Choice = (Recipient, Vec<String>, Option<String>);

impl<'a> Planner<'a> {
    /// One candidate per recently closed ticket that has no rating and was not surveyed yet.
    pub(super) fn csat_candidates(
        &self,
        history: &[SentTouch],
        sent: &HashSet<&str>,
        rotations: &mut HashMap<TouchKind, Rotation>,
        out: &mut Vec<Candidate<'a>>,
    ) {
        let settings = &self.config.csat;
        if !settings.enabled {
            return;
        }
        let what = What {
            rule: RULE,
            kind: KIND,
            template: &settings.template,
            quiet: QuietMove::Stay,
        };
        let within = Duration::days(i64::from(settings.within_days));
        for ticket in latest_closings(&self.account.closed_tickets) {
            let key = key_of(&ticket.ticket);
            if ticket.csat.is_some()
                || self.now - ticket.closed_at > within
                || sent.contains(key.as_str())
            {
                continue;
            }
            // Past its window the ticket brings no survey any more.
            self.stability.instant(ticket.closed_at + within);
            let not_before =
                ticket.closed_at + Duration::minutes(i64::from(settings.delay_minutes));
            let (recipient, notes, skip) =
                self.csat_recipient(ticket, not_before, history, rotations);
            let tz = self.zone_of(recipient);
            let last = local_of(tz, ticket.closed_at + within).date();
            let timing = Timing {
                not_before: Some(not_before),
                last_day: Some((
                    last,
                    format!(
                        "dropped: it could not go out by {last}, {} days after ticket {} was \
                         closed",
                        settings.within_days, ticket.ticket
                    ),
                )),
            };
            let nominal = local_of(tz, not_before).date();
            out.push(self.candidate(key, what, timing, nominal, recipient, notes, skip));
        }
    }

    /// The contact who raised the ticket; when it names nobody (or someone no longer on the
    /// account), the contact `[calendar.recipients] csat` picks, if the settings allow.
    fn csat_recipient(
        &self,
        ticket: &ClosedTicket,
        not_before: DateTime<Utc>,
        history: &[SentTouch],
        rotations: &mut HashMap<TouchKind, Rotation>,
    ) -> Choice {
        let account = self.account;
        let name = &ticket.ticket;
        let mut notes = Vec::new();
        match ticket.raised_by {
            Some(id) => match account.contacts.iter().find(|c| c.id == id) {
                Some(contact) => {
                    let day = local_of(self.zone_of(Recipient::Contact(id)), not_before).date();
                    notes.push(format!("contact {id} raised ticket {name}"));
                    // Somebody else may know nothing of this ticket, so nobody stands in.
                    let skip = eligibility(contact, KIND, day)
                        .err()
                        .map(|why| format!("{why}; nobody else is asked about their ticket"));
                    return (Recipient::Contact(id), notes, skip);
                }
                None => notes.push(format!(
                    "contact {id}, who raised ticket {name}, is no longer on the account"
                )),
            },
            None => notes.push(format!("ticket {name} does not say who raised it")),
        }
        if !self.config.csat.ask_when_raiser_unknown {
            let reason = "nobody on the account is known to have raised the ticket".to_string();
            return (Recipient::Nobody, notes, Some(reason));
        }
        let day = local_of(account.time_zone, not_before).date();
        let choices = self.config.recipients.for_kind(KIND);
        let pick = if choices == [RecipientChoice::Rotation] {
            let gap = self.config.fatigue.survey_gap_days;
            rotations
                .entry(KIND)
                .or_insert_with(|| Rotation::new(account, history, KIND))
                .pick(account, KIND, day, |id| {
                    self.ledger.survey_within(id, day, gap).is_some()
                })
        } else {
            pick_by_roles(account, choices, KIND, day)
        };
        match from_pick(pick) {
            Ok((recipient, more)) => {
                notes.push("asked the contact [calendar.recipients] csat picks".to_string());
                notes.extend(more);
                (recipient, notes, None)
            }
            Err((reason, more)) => {
                notes.extend(more);
                (Recipient::Nobody, notes, Some(reason))
            }
        }
    }
}

/// Each ticket once, at its latest closing, in the order they were closed.
fn latest_closings(tickets: &[ClosedTicket]) -> Vec<&ClosedTicket> {
    let mut latest: Vec<&ClosedTicket> = tickets.iter().collect();
    latest.sort_by(|a, b| {
        a.ticket
            .cmp(&b.ticket)
            .then_with(|| b.closed_at.cmp(&a.closed_at))
    });
    latest.dedup_by(|later, first| later.ticket == first.ticket);
    latest.sort_by(|a, b| {
        a.closed_at
            .cmp(&b.closed_at)
            .then_with(|| a.ticket.cmp(&b.ticket))
    });
    latest
}
