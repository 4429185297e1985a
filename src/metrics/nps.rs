//! Net Promoter Score: % promoters (9-10) minus % detractors (0-6); passives (7-8) count in
//! the total only.
//!
//! Each contact counts once, with their latest answer in the window: a contact surveyed twice
//! in 90 days (a survey and a re-survey after a ticket) would otherwise weigh double, and their
//! latest answer is what they think now. Contacts, not accounts, are counted, as the playbooks
//! do: an account with three people answering gives three answers.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::facts::NpsReply;
use crate::domain::ContactId;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Nps {
    pub answers: i64,
    pub promoters: i64,
    pub passives: i64,
    pub detractors: i64,
}

impl Nps {
    /// Rounded to a whole number from -100 to 100; `None` without answers.
    pub fn score(&self) -> Option<i64> {
        (self.answers > 0).then(|| {
            ((self.promoters - self.detractors) as f64 * 100.0 / self.answers as f64).round() as i64
        })
    }

    /// Adds answers counted elsewhere: an account's to its portfolio's. A contact answers
    /// for one account only, so no contact is counted twice.
    pub fn add_counts(&mut self, other: &Nps) {
        self.answers += other.answers;
        self.promoters += other.promoters;
        self.passives += other.passives;
        self.detractors += other.detractors;
    }

    pub fn add(&mut self, score: u8) {
        self.answers += 1;
        match score {
            9.. => self.promoters += 1,
            7..=8 => self.passives += 1,
            _ => self.detractors += 1,
        }
    }
}

/// The NPS of the answers received in `(from, to]`, each contact's latest answer only. Of two
/// answers at the same instant, the later one in `answers` wins.
pub fn nps_of<'a>(
    answers: impl IntoIterator<Item = &'a NpsReply>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Nps {
    let mut latest: HashMap<ContactId, &NpsReply> = HashMap::new();
    for a in answers {
        if a.at <= from || a.at > to {
            continue;
        }
        latest
            .entry(a.contact)
            .and_modify(|seen| {
                if a.at >= seen.at {
                    *seen = a;
                }
            })
            .or_insert(a);
    }
    let mut nps = Nps::default();
    for a in latest.values() {
        nps.add(a.score);
    }
    nps
}
