//! What came of an inbound message, and what the bot should say back. The mapping from an
//! answer to the message keys is pure, so the conversation rules are tested without a database.

use serde::{Deserialize, Serialize};

use crate::domain::{AccountId, ContactId, TouchId};
use crate::messages::Vars;

use super::parser::CheckinAnswer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NpsCategory {
    /// 9-10
    Promoter,
    /// 7-8
    Passive,
    /// 0-6
    Detractor,
}

impl NpsCategory {
    pub fn of(score: u8) -> NpsCategory {
        match score {
            9.. => NpsCategory::Promoter,
            7..=8 => NpsCategory::Passive,
            _ => NpsCategory::Detractor,
        }
    }

    fn thanks_key(self) -> &'static str {
        match self {
            NpsCategory::Promoter => "nps-thanks-promoter",
            NpsCategory::Passive => "nps-thanks-passive",
            NpsCategory::Detractor => "nps-thanks-detractor",
        }
    }
}

/// What an inbound message turned out to be. Stored (as JSON, without the contact's text) in
/// the message's `reply` signal, so a redelivery returns the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    Nps {
        score: u8,
        has_comment: bool,
    },
    Csat {
        score: u8,
    },
    Checkin {
        choice: CheckinAnswer,
    },
    /// Free text that followed a bare NPS score, stored as that score's comment.
    NpsComment {
        reply_id: i64,
        score: u8,
    },
    OptOut,
    /// `changed` is false when the contact had not opted out: nothing to confirm.
    OptIn {
        changed: bool,
    },
    /// Free text: a check-in answer in the contact's own words, or a message out of the blue.
    FreeText,
    /// A score was expected and none was found; the contact is asked once more.
    Unclear,
    /// Words to a person during a takeover: stored as free text and passed on, unread by the
    /// bot, which stays quiet.
    Relayed,
    /// A button tapped for a touch that already has its answer; the first answer stands.
    AlreadyAnswered,
    /// Button data that is not ours, or names a touch this contact never received.
    StaleButton,
}

impl Answer {
    /// The message keys to send back, in order.
    pub fn send_back(&self) -> Vec<&'static str> {
        match self {
            // "Ask why once": a bare score gets a thank-you that asks for the reason; the
            // thanks proper follows the reason, or is skipped if none comes.
            Answer::Nps {
                has_comment: false, ..
            } => vec!["nps-ask-why"],
            Answer::Nps { score, .. } | Answer::NpsComment { score, .. } => {
                vec![NpsCategory::of(*score).thanks_key()]
            }
            Answer::Csat { .. } => vec!["csat-thanks"],
            Answer::Checkin {
                choice: CheckinAnswer::Good,
            } => vec!["checkin-thanks"],
            Answer::Checkin { .. } => vec!["checkin-help-ack"],
            Answer::OptOut => vec!["optout-confirm"],
            Answer::OptIn { changed: true } => vec!["optin-confirm"],
            Answer::FreeText => vec!["fallback-forwarded"],
            Answer::Unclear => vec!["nps-reask"],
            Answer::OptIn { changed: false }
            | Answer::AlreadyAnswered
            | Answer::StaleButton
            | Answer::Relayed => Vec::new(),
        }
    }

    /// Whether a person should see this now: the contact asked for one, or wrote something
    /// the bot cannot answer. Scores reach the CSM through health and escalation instead.
    pub fn needs_csm(&self) -> bool {
        matches!(
            self,
            Answer::FreeText
                | Answer::Relayed
                | Answer::Checkin {
                    choice: CheckinAnswer::Help | CheckinAnswer::Manager
                }
        )
    }
}

/// The result of [`super::record_reply`].
#[derive(Debug, Clone, PartialEq)]
pub enum InboundOutcome {
    /// No contact has this address on this channel; nothing was stored.
    UnknownSender,
    Handled(Handled),
}

/// A message from a known contact, stored (or recognised as already stored).
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    pub account_id: AccountId,
    pub contact_id: ContactId,
    /// The touch the message answers, or was received while open.
    pub touch_id: Option<TouchId>,
    /// The `replies` row written or updated, if any.
    pub reply_id: Option<i64>,
    pub answer: Answer,
    /// True when this provider message id was handled before: nothing changed this time.
    /// The caller should not send the answer again.
    pub duplicate: bool,
    /// For rendering the answer: the contact's locale (or the account's), first name,
    /// account name and CSM name (None when the account has no CSM).
    pub locale: String,
    pub contact_first_name: String,
    pub account_name: String,
    pub csm_name: Option<String>,
}

impl Handled {
    pub fn send_back(&self) -> Vec<&'static str> {
        self.answer.send_back()
    }

    pub fn needs_csm(&self) -> bool {
        self.answer.needs_csm()
    }

    /// The variables for the answer templates. `csm` is left out when the account has no
    /// CSM, so rendering a template that names one fails loudly instead of greeting nobody.
    pub fn vars(&self) -> Vars {
        let vars = Vars::new()
            .contact(self.contact_first_name.clone())
            .account(self.account_name.clone());
        let vars = match &self.csm_name {
            Some(csm) => vars.csm(csm.clone()),
            None => vars,
        };
        match self.answer {
            Answer::Nps { score, .. }
            | Answer::NpsComment { score, .. }
            | Answer::Csat { score } => vars.score(score),
            _ => vars,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nps_scores_fall_into_the_usual_three_groups() {
        assert_eq!(NpsCategory::of(10), NpsCategory::Promoter);
        assert_eq!(NpsCategory::of(9), NpsCategory::Promoter);
        assert_eq!(NpsCategory::of(8), NpsCategory::Passive);
        assert_eq!(NpsCategory::of(7), NpsCategory::Passive);
        assert_eq!(NpsCategory::of(6), NpsCategory::Detractor);
        assert_eq!(NpsCategory::of(0), NpsCategory::Detractor);
    }

    #[test]
    fn a_bare_score_asks_why_and_a_score_with_a_reason_says_thanks() {
        let bare = Answer::Nps {
            score: 3,
            has_comment: false,
        };
        assert_eq!(bare.send_back(), vec!["nps-ask-why"]);
        let with_reason = Answer::Nps {
            score: 3,
            has_comment: true,
        };
        assert_eq!(with_reason.send_back(), vec!["nps-thanks-detractor"]);
        let reason_later = Answer::NpsComment {
            reply_id: 1,
            score: 10,
        };
        assert_eq!(reason_later.send_back(), vec!["nps-thanks-promoter"]);
    }

    #[test]
    fn help_and_unknown_text_go_to_a_person_but_scores_do_not() {
        assert!(
            Answer::Checkin {
                choice: CheckinAnswer::Manager
            }
            .needs_csm()
        );
        assert!(Answer::FreeText.needs_csm());
        assert!(
            !Answer::Nps {
                score: 0,
                has_comment: true
            }
            .needs_csm()
        );
        assert_eq!(Answer::FreeText.send_back(), vec!["fallback-forwarded"]);
    }

    #[test]
    fn a_start_from_someone_who_never_left_needs_no_confirmation() {
        assert!(Answer::OptIn { changed: false }.send_back().is_empty());
        assert_eq!(
            Answer::OptIn { changed: true }.send_back(),
            vec!["optin-confirm"]
        );
    }

    #[test]
    fn every_key_sent_back_exists_in_the_templates() {
        let messages = crate::messages::Messages::load().unwrap();
        let answers = [
            Answer::Nps {
                score: 9,
                has_comment: true,
            },
            Answer::Nps {
                score: 7,
                has_comment: true,
            },
            Answer::Nps {
                score: 1,
                has_comment: false,
            },
            Answer::Csat { score: 4 },
            Answer::Checkin {
                choice: CheckinAnswer::Good,
            },
            Answer::Checkin {
                choice: CheckinAnswer::Help,
            },
            Answer::OptOut,
            Answer::OptIn { changed: true },
            Answer::FreeText,
            Answer::Unclear,
        ];
        for answer in answers {
            messages.check_templates(&answer.send_back()).unwrap();
        }
    }

    #[test]
    fn the_stored_form_round_trips() {
        let answer = Answer::Checkin {
            choice: CheckinAnswer::Help,
        };
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"answer": "checkin", "choice": "help"})
        );
        assert_eq!(serde_json::from_value::<Answer>(json).unwrap(), answer);
    }
}
