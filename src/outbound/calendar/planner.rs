//! Puts it together: occurrences → recipients → local days → fatigue → instants.

mod csat;

use super::config::{CalendarConfig, QuietMove, RecipientChoice, RuleConfig};
use super::fatigue::{Ledger, Person};
use super::recipients::{Pick, Rotation, eligibility, ordered_contacts, pick_by_roles};
use super::rules::occurrences;
use super::stability::Stability;
use super::window::{local_of, resolve_local};
use super::{AccountInput, Decision, PlannedTouch, Recipient, SentTouch};
use crate::domain::TouchKind;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use std::collections::{HashMap, HashSet};

/// How far a touch may be pushed while looking for a free day before it is given up.
const SEARCH_DAYS: i64 = 400;

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

/// The outcome of looking at one day for one touch.
enum Verdict {
    Free,
    /// Not this day; try another. The tag groups similar reasons in the note.
    Move(&'static str, String),
    /// The day is in the quiet months and the rule avoids them.
    Quiet(String),
    /// Stop looking: the touch is skipped.
    Stop(String),
    /// Past the touch's last day: it is dropped, for the reasons it moved so far.
    TooLate(String),
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

    /// Looks for the first acceptable day from `start`: forward, or for a rule that moves
    /// earlier out of the quiet months, backward once going forward would run into them (and
    /// forward through them as a last resort). With `live`, `now` and the touches already
    /// placed count too. Returns the day and a note if it moved, or the day and the reason it
    /// was skipped.
    fn search(
        &self,
        cand: &Candidate,
        start: NaiveDate,
        live: bool,
    ) -> Result<(NaiveDate, Option<String>), (NaiveDate, String)> {
        let mut reasons = Reasons::default();
        let forward = (0..SEARCH_DAYS).map(|i| start + Duration::days(i));
        let mut scan = self.scan(cand, forward.clone(), cand.quiet, live, &mut reasons);
        if matches!(scan, Scan::HitQuiet) {
            // Going back must not reach a day that has passed (or, on the calendar-only
            // pass, wander more than two months back).
            let floor = if live {
                // Each day that passes takes a day off the way back (and off its reasons).
                self.stability.day_after(cand.tz, self.today(cand.tz));
                self.today(cand.tz)
            } else {
                start - Duration::days(62)
            };
            let back = (1..SEARCH_DAYS)
                .map(|i| start - Duration::days(i))
                .take_while(|d| *d >= floor);
            scan = self.scan(cand, back, QuietMove::Earlier, live, &mut reasons);
            if !matches!(scan, Scan::Found(_)) {
                reasons.tagged(
                    "no-spring",
                    "no sending day was left before the quiet months".into(),
                );
                scan = self.scan(cand, forward, QuietMove::Stay, live, &mut reasons);
            }
        }
        match scan {
            Scan::TooLate(why) if reasons.0.is_empty() => Err((start, why)),
            Scan::TooLate(why) => Err((start, format!("{why}: {}", reasons.0.join("; ")))),
            Scan::Found(Ok(day)) if day == start => Ok((day, None)),
            Scan::Found(Ok(day)) => Ok((
                day,
                Some(format!(
                    "moved from {start} to {day}: {}",
                    reasons.0.join("; ")
                )),
            )),
            Scan::Found(Err(skip)) => Err(skip),
            Scan::HitQuiet | Scan::Exhausted => {
                Err((start, "no sending day found within a year".to_string()))
            }
        }
    }

    fn scan(
        &self,
        cand: &Candidate,
        days: impl Iterator<Item = NaiveDate>,
        quiet: QuietMove,
        live: bool,
        reasons: &mut Reasons,
    ) -> Scan {
        for day in days {
            match self.check(cand, day, quiet, live) {
                Verdict::Free => return Scan::Found(Ok(day)),
                Verdict::Stop(reason) => return Scan::Found(Err((day, reason))),
                Verdict::TooLate(why) => return Scan::TooLate(why),
                Verdict::Move(tag, text) => reasons.tagged(tag, text),
                Verdict::Quiet(text) => {
                    reasons.tagged("quiet", text);
                    if quiet == QuietMove::Earlier {
                        return Scan::HitQuiet;
                    }
                }
            }
        }
        Scan::Exhausted
    }

    fn check(&self, cand: &Candidate, day: NaiveDate, quiet: QuietMove, live: bool) -> Verdict {
        use super::window::DayBlock;
        if let Some((last, why)) = &cand.timing.last_day
            && day > *last
        {
            return Verdict::TooLate(why.clone());
        }
        match self.config.day_block(day, quiet) {
            Some(DayBlock::Quiet) => return Verdict::Quiet(DayBlock::Quiet.describe(day)),
            Some(DayBlock::Holiday) => {
                return Verdict::Move("holiday", DayBlock::Holiday.describe(day));
            }
            Some(block) => return Verdict::Move("weekday", block.describe(day)),
            None => {}
        }
        if let Some(at) = cand.timing.not_before {
            let local = local_of(cand.tz, at);
            if day == local.date() && local.time() >= self.config.send_window.end.0 {
                return Verdict::Move(
                    "closed",
                    format!("the send window on {day} closes before it is due"),
                );
            }
        }
        if !live {
            return Verdict::Free;
        }
        let now_local = local_of(cand.tz, self.now);
        if day >= now_local.date() {
            // Today's window closes, then the day passes.
            let closes = day.and_time(self.config.send_window.end.0);
            if now_local < closes {
                self.stability.local(cand.tz, closes);
            } else {
                self.stability.day_after(cand.tz, day);
            }
        }
        if day < now_local.date() {
            return Verdict::Move("past", format!("{day} had passed"));
        }
        if day == now_local.date() && now_local.time() >= self.config.send_window.end.0 {
            return Verdict::Move("closed", format!("the send window on {day} had closed"));
        }
        let Some(person) = self.person(cand.recipient) else {
            return Verdict::Free;
        };
        let kind = cand.what.kind;
        let booked = self.ledger.on_day(person, day);
        if let Some(host) = booked
            .iter()
            .find(|b| self.config.merges_into(kind, b.kind))
        {
            return Verdict::Stop(format!("merged into {}", host.key));
        }
        let Person::Contact(contact) = person else {
            // The CSM's own to-do list is neither spaced nor capped.
            return Verdict::Free;
        };
        if let Some(other) = booked.first() {
            return Verdict::Move(
                "busy",
                format!("the contact already has {} on {day}", other.key),
            );
        }
        let fatigue = &self.config.fatigue;
        let in_week = self.ledger.in_week(contact, day);
        if in_week >= fatigue.max_per_week {
            let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
            let text = format!(
                "the contact already has {in_week} touches in the week of {monday} \
                 (at most {} a week)",
                fatigue.max_per_week
            );
            return if fatigue.skip_when_week_full.contains(&kind) {
                Verdict::Stop(text)
            } else {
                Verdict::Move("week", text)
            };
        }
        if kind.is_survey()
            && let Some(other) = self
                .ledger
                .survey_within(contact, day, fatigue.survey_gap_days)
        {
            return Verdict::Move(
                "survey",
                format!(
                    "the contact has a survey on {other}, and surveys are kept {} days apart",
                    fatigue.survey_gap_days
                ),
            );
        }
        Verdict::Free
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

enum Scan {
    Found(Result<NaiveDate, (NaiveDate, String)>),
    TooLate(String),
    HitQuiet,
    Exhausted,
}

/// Why a touch moved, one line per kind of reason (a weekend is one reason, not two days).
#[derive(Default)]
struct Reasons(Vec<String>, Vec<&'static str>);

impl Reasons {
    fn tagged(&mut self, tag: &'static str, text: String) {
        if !self.1.contains(&tag) {
            self.1.push(tag);
            self.0.push(text);
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
