//! Who receives a touch: the first suitable contact by role, each contact, the next contact in
//! the survey rotation, or the account's CSM.

use super::config::RecipientChoice;
use super::{AccountInput, ContactInput, SentTouch};
use crate::domain::{ContactId, ContactRole, TouchKind};
use chrono::NaiveDate;

/// Whether this contact may receive a touch of this kind on this day, and if not, why.
pub fn eligibility(contact: &ContactInput, kind: TouchKind, day: NaiveDate) -> Result<(), String> {
    let category = kind.category();
    if !contact.reachable {
        Err(format!("contact {} is unreachable", contact.id))
    } else if contact.opted_out.contains(&category) {
        Err(format!(
            "contact {} opted out of {} messages",
            contact.id,
            category.as_str()
        ))
    } else if contact.added_on > day {
        Err(format!(
            "contact {} was only added on {}",
            contact.id, contact.added_on
        ))
    } else {
        Ok(())
    }
}

/// Contacts in the order used for fallbacks and rotation: decision makers, champions, users;
/// by id within a role.
pub fn ordered_contacts(account: &AccountInput) -> Vec<&ContactInput> {
    let mut contacts: Vec<&ContactInput> = account.contacts.iter().collect();
    contacts.sort_by_key(|c| (c.role, c.id));
    contacts
}

pub enum Pick {
    Contact(ContactId, Vec<String>),
    Nobody(String, Vec<String>),
}

fn role_name(role: ContactRole) -> &'static str {
    match role {
        ContactRole::DecisionMaker => "decision maker",
        ContactRole::Champion => "champion",
        ContactRole::User => "user",
    }
}

/// Walks the fallback list (champion, then decision maker, then anyone...). The notes explain
/// each contact passed over and any fallback taken.
pub fn pick_by_roles(
    account: &AccountInput,
    choices: &[RecipientChoice],
    kind: TouchKind,
    day: NaiveDate,
) -> Pick {
    let contacts = ordered_contacts(account);
    let mut notes = Vec::new();
    let mut wanted = Vec::new();
    for (step, choice) in choices.iter().enumerate() {
        let (role, label) = match choice {
            RecipientChoice::DecisionMaker => (Some(ContactRole::DecisionMaker), "decision maker"),
            RecipientChoice::Champion => (Some(ContactRole::Champion), "champion"),
            RecipientChoice::User => (Some(ContactRole::User), "user"),
            RecipientChoice::AnyContact => (None, "contact"),
            // Exclusive choices are handled by the planner and rejected in lists by validate.
            _ => continue,
        };
        wanted.push(label);
        for contact in contacts.iter().filter(|c| role.is_none_or(|r| c.role == r)) {
            match eligibility(contact, kind, day) {
                Ok(()) => {
                    if step > 0 {
                        notes.push(format!(
                            "no reachable {}; sent to {} {} instead",
                            wanted[..wanted.len() - 1].join(" or "),
                            role_name(contact.role),
                            contact.id
                        ));
                    }
                    return Pick::Contact(contact.id, notes);
                }
                Err(why) => {
                    if !notes.contains(&why) {
                        notes.push(why);
                    }
                }
            }
        }
    }
    let reason = if wanted.contains(&"contact") {
        "no reachable contact".to_string()
    } else {
        format!("no reachable {}", wanted.join(" or "))
    };
    Pick::Nobody(reason, notes)
}

/// Contacts take turns answering surveys, continuing from whoever answered the last one sent.
pub struct Rotation {
    order: Vec<ContactId>,
    next: usize,
}

impl Rotation {
    pub fn new(account: &AccountInput, history: &[SentTouch], kind: TouchKind) -> Rotation {
        let order: Vec<ContactId> = ordered_contacts(account).iter().map(|c| c.id).collect();
        let mut past: Vec<&SentTouch> = history.iter().filter(|h| h.kind == kind).collect();
        past.sort_by_key(|h| h.sent_at);
        let next = match past.last().and_then(|h| h.contact_id) {
            Some(last) => match order.iter().position(|id| *id == last) {
                Some(at) => at + 1,
                // The last respondent has left the account: keep the turn count instead.
                None => past.len(),
            },
            None => past.len(),
        };
        let next = if order.is_empty() {
            0
        } else {
            next % order.len()
        };
        Rotation { order, next }
    }

    /// The next eligible contact, preferring one without a survey too close to `day`
    /// (`recent_survey`). When everyone had one recently, the first eligible contact is kept
    /// and the planner postpones the survey until the gap has passed.
    pub fn pick(
        &mut self,
        account: &AccountInput,
        kind: TouchKind,
        day: NaiveDate,
        recent_survey: impl Fn(ContactId) -> bool,
    ) -> Pick {
        let n = self.order.len();
        let mut notes = Vec::new();
        let mut first_eligible = None;
        for step in 0..n {
            let at = (self.next + step) % n;
            let id = self.order[at];
            let Some(contact) = account.contacts.iter().find(|c| c.id == id) else {
                continue;
            };
            if let Err(why) = eligibility(contact, kind, day) {
                notes.push(why);
                continue;
            }
            if recent_survey(id) {
                first_eligible.get_or_insert(at);
                continue;
            }
            self.next = at + 1;
            return Pick::Contact(id, notes);
        }
        if let Some(at) = first_eligible {
            self.next = at + 1;
            return Pick::Contact(self.order[at], notes);
        }
        Pick::Nobody(
            "no reachable contact who accepts surveys".to_string(),
            notes,
        )
    }
}
