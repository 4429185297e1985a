//! The search for a touch's day: the first day from its nominal one that the calendar, the
//! send window and the contact's fatigue limits all allow, and why it moved.

use chrono::{Datelike, Duration, NaiveDate};

use super::{Candidate, Planner};
use crate::outbound::calendar::config::QuietMove;
use crate::outbound::calendar::fatigue::Person;
use crate::outbound::calendar::window::local_of;

/// How far a touch may be pushed while looking for a free day before it is given up.
const SEARCH_DAYS: i64 = 400;

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

impl Planner<'_> {
    /// Looks for the first acceptable day from `start`: forward, or for a rule that moves
    /// earlier out of the quiet months, backward once going forward would run into them (and
    /// forward through them as a last resort). With `live`, `now` and the touches already
    /// placed count too. Returns the day and a note if it moved, or the day and the reason it
    /// was skipped.
    pub(super) fn search(
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
        use crate::outbound::calendar::window::DayBlock;
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
