//! Puts it together: occurrences → recipients → local days → fatigue → instants.

mod csat;
mod search;

use super::config::{CalendarConfig, QuietMove, RecipientChoice, RuleConfig};
use super::fatigue::{Ledger, Person};
use super::recipients::{Pick, Rotation, eligibility, ordered_contacts, pick_by_roles};
use super::rules::occurrences;
use super::stability::Stability;
use super::window::{local_of, resolve_local};
use super::{AccountInput, Decision, PlannedTouch, Recipient, SentTouch};
use crate::domain::TouchKind;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use std::collections::{HashMap, HashSet};

/// Plans every touch of one account from day 0 through the horizon, sorted by `due_at`.
/// Touches in `history` are left out but shape the rest. See the module docs for the rules.
pub fn plan(
    account: &AccountInput,
    history: &[SentTouch],
    config: &CalendarConfig,
    now: DateTime<Utc>,
) -> Vec<PlannedTouch> {
    plan_until(account, history, config, now).0
}

/// [`plan`], and the earliest instant at which planning the same inputs again could give
/// another answer (see `stability`): the plan holds for every instant from `now` until then.
pub fn plan_until(
    account: &AccountInput,
    history: &[SentTouch],
    config: &CalendarConfig,
    now: DateTime<Utc>,
) -> (Vec<PlannedTouch>, DateTime<Utc>) {
    let mut planner = Planner {
        account,
        config,
        now,
        ledger: Ledger::default(),
        stability: Stability::default(),
    };
    planner.book_history(history);
    let mut candidates = planner.candidates(history);
    candidates.sort_by(|a, b| {
        let rank = |c: &Candidate| config.priority_rank(c.what.kind);
        rank(a)
            .cmp(&rank(b))
            .then(a.scheduled.cmp(&b.scheduled))
            .then(a.nominal.cmp(&b.nominal))
            .then_with(|| a.key.cmp(&b.key))
    });
    let mut planned: Vec<PlannedTouch> = candidates.into_iter().map(|c| planner.place(c)).collect();
    planned.sort_by(|a, b| {
        a.due_at
            .cmp(&b.due_at)
            .then_with(|| a.touch_key.cmp(&b.touch_key))
    });
    (planned, planner.stability.until())
}

struct Planner<'a> {
    account: &'a AccountInput,
    config: &'a CalendarConfig,
    now: DateTime<Utc>,
    ledger: Ledger,
    /// Every comparison with `now`, for how long the plan holds.
    stability: Stability,
}

/// What a touch is, whichever rule or event asked for it.
#[derive(Clone, Copy)]
struct What<'a> {
    /// The rule's key, as stored with the touch.
    rule: &'a str,
    kind: TouchKind,
    template: &'a str,
    quiet: QuietMove,
}

impl<'a> What<'a> {
    fn of(rule: &'a RuleConfig) -> What<'a> {
        What {
            rule: &rule.key,
            kind: rule.kind,
            template: &rule.template,
            quiet: rule.in_quiet_months,
        }
    }
}

/// Limits in time a touch carries beyond the calendar's own (a CSAT follows its ticket).
#[derive(Clone, Default)]
struct Timing {
    /// Not sent before this instant.
    not_before: Option<DateTime<Utc>>,
    /// The last local day it may go out, and why; past it the touch is dropped, and it is
    /// never skipped as overdue before then.
    last_day: Option<(NaiveDate, String)>,
}

/// A touch with its recipient chosen and its day settled on the calendar, before `now` and
/// the other touches are taken into account.
struct Candidate<'a> {
    key: String,
    what: What<'a>,
    timing: Timing,
    nominal: NaiveDate,
    recipient: Recipient,
    tz: Tz,
    /// The rule's quiet-month behaviour, or `Stay` when moving earlier was no longer possible.
    quiet: QuietMove,
    scheduled: NaiveDate,
    notes: Vec<String>,
    skip: Option<String>,
}

impl<'a> Planner<'a> {
    fn person(&self, recipient: Recipient) -> Option<Person> {
        match recipient {
            Recipient::Contact(id) => Some(Person::Contact(id)),
            Recipient::Staff(id) => Some(Person::Staff(id)),
            Recipient::Nobody => None,
        }
    }

    fn zone_of(&self, recipient: Recipient) -> Tz {
        match recipient {
            Recipient::Contact(id) => self
                .account
                .contacts
                .iter()
                .find(|c| c.id == id)
                .and_then(|c| c.time_zone)
                .unwrap_or(self.account.time_zone),
            _ => self.account.time_zone,
        }
    }

    fn today(&self, tz: Tz) -> NaiveDate {
        local_of(tz, self.now).date()
    }

    fn book_history(&mut self, history: &[SentTouch]) {
        for sent in history {
            if let Some(id) = sent.contact_id {
                let tz = self.zone_of(Recipient::Contact(id));
                let day = local_of(tz, sent.sent_at).date();
                self.ledger
                    .book(Person::Contact(id), day, &sent.touch_key, sent.kind);
            }
        }
    }

    fn candidates(&self, history: &[SentTouch]) -> Vec<Candidate<'a>> {
        let account = self.account;
        let config = self.config;
        let sent: HashSet<&str> = history.iter().map(|h| h.touch_key.as_str()).collect();
        let end = account
            .renewal_date
            .unwrap_or(account.day_zero + Duration::days(i64::from(config.horizon_days)));
        let mut rotations: HashMap<TouchKind, Rotation> = HashMap::new();
        let mut out = Vec::new();
        for occ in occurrences(
            config,
            account.segment,
            account.day_zero,
            account.renewal_date,
        ) {
            let rule = &config.rules[occ.rule];
            let choices = config.recipients_for(rule);
            if choices == [RecipientChoice::EachContact] {
                for contact in ordered_contacts(account) {
                    let key = format!("{}:c{}", occ.key, contact.id);
                    if sent.contains(key.as_str()) {
                        continue;
                    }
                    // A contact added later gets a once-only touch (welcome) on the day they
                    // were added, but no repeats from before they joined.
                    let day = if occ.once_from_start {
                        occ.nominal.max(contact.added_on)
                    } else if contact.added_on > occ.nominal {
                        continue;
                    } else {
                        occ.nominal
                    };
                    if day > end {
                        continue;
                    }
                    let skip = eligibility(contact, rule.kind, day).err();
                    out.push(self.candidate(
                        key,
                        What::of(rule),
                        Timing::default(),
                        day,
                        Recipient::Contact(contact.id),
                        Vec::new(),
                        skip,
                    ));
                }
                continue;
            }
            if sent.contains(occ.key.as_str()) {
                continue;
            }
            let pick = match choices {
                [RecipientChoice::Csm] => match account.csm {
                    Some(staff) => Ok((Recipient::Staff(staff), Vec::new())),
                    None => Err(("no CSM assigned".to_string(), Vec::new())),
                },
                [RecipientChoice::Rotation] => {
                    let rotation = rotations
                        .entry(rule.kind)
                        .or_insert_with(|| Rotation::new(account, history, rule.kind));
                    let gap = config.fatigue.survey_gap_days;
                    let pick = rotation.pick(account, rule.kind, occ.nominal, |id| {
                        self.ledger.survey_within(id, occ.nominal, gap).is_some()
                    });
                    from_pick(pick)
                }
                _ => from_pick(pick_by_roles(account, choices, rule.kind, occ.nominal)),
            };
            let (recipient, notes, skip) = match pick {
                Ok((recipient, notes)) => (recipient, notes, None),
                Err((reason, notes)) => (Recipient::Nobody, notes, Some(reason)),
            };
            out.push(self.candidate(
                occ.key,
                What::of(rule),
                Timing::default(),
                occ.nominal,
                recipient,
                notes,
                skip,
            ));
        }
        self.csat_candidates(history, &sent, &mut rotations, &mut out);
        out
    }

    /// Settles the day on the calendar alone: quiet months, weekends, holidays.
    #[allow(clippy::too_many_arguments)]
    fn candidate(
        &self,
        key: String,
        what: What<'a>,
        timing: Timing,
        nominal: NaiveDate,
        recipient: Recipient,
        mut notes: Vec<String>,
        skip: Option<String>,
    ) -> Candidate<'a> {
        let tz = self.zone_of(recipient);
        let mut quiet = what.quiet;
        let mut start = nominal;
        if let Some(moved) = self.config.leave_quiet_months(nominal, quiet) {
            let months = self.config.quiet_months_text();
            if quiet == QuietMove::Earlier && moved >= self.today(tz) {
                self.stability.day_after(tz, moved);
            }
            if quiet == QuietMove::Earlier && moved < self.today(tz) {
                notes.push(format!(
                    "{nominal} falls in the quiet months ({months}), but the days before them \
                     had passed when planned; kept in the quiet months"
                ));
                quiet = QuietMove::Stay;
            } else {
                let direction = if quiet == QuietMove::Earlier {
                    "earlier"
                } else {
                    "later"
                };
                notes.push(format!(
                    "{nominal} falls in the quiet months ({months}); moved {direction} to {moved}"
                ));
                start = moved;
            }
        }
        let mut cand = Candidate {
            key,
            what,
            timing,
            nominal,
            recipient,
            tz,
            quiet,
            scheduled: start,
            notes,
            skip,
        };
        match self.search(&cand, start, false) {
            Ok((day, moved)) => {
                cand.scheduled = day;
                cand.notes.extend(moved);
            }
            Err((_, reason)) => {
                cand.skip.get_or_insert(reason);
            }
        }
        cand
    }

    fn place(&mut self, mut cand: Candidate<'a>) -> PlannedTouch {
        if let Some(reason) = cand.skip.take() {
            return self.finish(cand.scheduled, cand, Decision::Skip(reason));
        }
        let today = self.today(cand.tz);
        let late_by = (today - cand.scheduled).num_days();
        // A touch with a last day of its own is given up by that, not by the grace period.
        if cand.timing.last_day.is_none() && late_by > i64::from(self.config.grace_days) {
            let reason = format!("overdue by {} when planned", days(late_by));
            return self.finish(cand.scheduled, cand, Decision::Skip(reason));
        }
        // How late it is shows in its notes, and past the grace period it is given up.
        self.stability.day_after(cand.tz, cand.scheduled.max(today));
        let start = if late_by > 0 {
            cand.notes.push(format!(
                "was due on {}, {} before it was planned; moved to the next free slot",
                cand.scheduled,
                days(late_by)
            ));
            today
        } else {
            cand.scheduled
        };
        match self.search(&cand, start, true) {
            Ok((day, moved)) => {
                cand.notes.extend(moved);
                if let Some(person) = self.person(cand.recipient) {
                    self.ledger.book(person, day, &cand.key, cand.what.kind);
                }
                self.finish(day, cand, Decision::Send)
            }
            Err((day, reason)) => self.finish(day, cand, Decision::Skip(reason)),
        }
    }

    fn finish(&self, day: NaiveDate, cand: Candidate, decision: Decision) -> PlannedTouch {
        let mut notes = cand.notes;
        let local: NaiveDateTime = day.and_time(self.config.send_window.start.0);
        let (mut due_at, gap_note) = resolve_local(cand.tz, local);
        if decision == Decision::Send {
            // Placed today after the window opened: send now rather than in the past.
            due_at = due_at.max(self.now);
            notes.extend(gap_note);
            // Once due it is sent, or planned again from a later `now`.
            self.stability.instant(due_at);
        }
        // A survey about a ticket is never due (or shown) before the ticket closed.
        if let Some(at) = cand.timing.not_before {
            due_at = due_at.max(at);
        }
        PlannedTouch {
            touch_key: cand.key,
            rule: cand.what.rule.to_string(),
            kind: cand.what.kind,
            template: cand.what.template.to_string(),
            recipient: cand.recipient,
            nominal_date: cand.nominal,
            due_local: local_of(cand.tz, due_at),
            time_zone: cand.tz,
            due_at,
            decision,
            notes,
        }
    }
}

fn days(n: i64) -> String {
    if n == 1 {
        "1 day".to_string()
    } else {
        format!("{n} days")
    }
}

type PickResult = Result<(Recipient, Vec<String>), (String, Vec<String>)>;

fn from_pick(pick: Pick) -> PickResult {
    match pick {
        Pick::Contact(id, notes) => Ok((Recipient::Contact(id), notes)),
        Pick::Nobody(reason, notes) => Err((reason, notes)),
    }
}
