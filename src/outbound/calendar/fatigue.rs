//! What each person already has on each day and in each week, so new touches can be merged,
//! spaced, capped or postponed instead of arriving in a burst.

use crate::domain::{ContactId, StaffId, TouchKind};
use chrono::{Datelike, IsoWeek, NaiveDate};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Person {
    Contact(ContactId),
    Staff(StaffId),
}

#[derive(Debug, Clone)]
pub struct Booked {
    pub key: String,
    pub kind: TouchKind,
}

#[derive(Default)]
pub struct Ledger {
    days: HashMap<(Person, NaiveDate), Vec<Booked>>,
    weeks: HashMap<(ContactId, IsoWeek), u32>,
    surveys: HashMap<ContactId, Vec<NaiveDate>>,
}

impl Ledger {
    /// Records a touch sent or planned for `person` on the local `day`.
    pub fn book(&mut self, person: Person, day: NaiveDate, key: &str, kind: TouchKind) {
        self.days.entry((person, day)).or_default().push(Booked {
            key: key.to_string(),
            kind,
        });
        if let Person::Contact(id) = person {
            *self.weeks.entry((id, day.iso_week())).or_default() += 1;
            if kind.is_survey() {
                self.surveys.entry(id).or_default().push(day);
            }
        }
    }

    pub fn on_day(&self, person: Person, day: NaiveDate) -> &[Booked] {
        self.days
            .get(&(person, day))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn in_week(&self, contact: ContactId, day: NaiveDate) -> u32 {
        self.weeks
            .get(&(contact, day.iso_week()))
            .copied()
            .unwrap_or(0)
    }

    /// A survey for this contact less than `gap_days` away from `day`, if any.
    pub fn survey_within(
        &self,
        contact: ContactId,
        day: NaiveDate,
        gap_days: u32,
    ) -> Option<NaiveDate> {
        self.surveys
            .get(&contact)?
            .iter()
            .copied()
            .find(|s| (*s - day).num_days().unsigned_abs() < u64::from(gap_days))
    }
}
