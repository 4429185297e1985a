//! What a message is, and what to write for it, decided from facts read beforehand (for a
//! whole batch at once, by `store::read_facts`): no I/O here, so the rules of the module docs
//! of `record` are in one place and the same for a batch of one or of a hundred.

use chrono::{DateTime, Utc};

use super::{COMMENT_WINDOW, InboundContent, InboundMessage, StoredOutcome};
use crate::domain::{TouchId, TouchKind};
use crate::inbound::callback::{CallbackAnswer, parse_callback};
use crate::inbound::outcome::Answer;
use crate::inbound::parser::{Expecting, ParsedReply, parse_reply};

/// What the database held about a message's contact when its batch was read.
#[derive(Debug, Clone, Default)]
pub(super) struct Facts {
    /// The contact is talking with a person now.
    pub(super) takeover: bool,
    /// The latest survey or check-in sent within the reply window, still unanswered.
    pub(super) open: Option<OpenTouch>,
    /// Whether `open` was asked again already (it has an `unclear` reply).
    pub(super) open_reasked: bool,
    /// The contact's latest reply up to the message.
    pub(super) last: Option<LastReply>,
    /// The touch a tapped button names, when it went to this contact.
    pub(super) button: Option<ButtonTouch>,
}

#[derive(Debug, Clone)]
pub(super) struct OpenTouch {
    pub(super) id: i64,
    pub(super) kind: String,
    pub(super) sent_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(super) struct LastReply {
    pub(super) id: i64,
    pub(super) kind: String,
    pub(super) score: Option<i16>,
    pub(super) comment: Option<String>,
    pub(super) received_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(super) struct ButtonTouch {
    pub(super) kind: String,
    /// It has an answer already (anything but `unclear`).
    pub(super) answered: bool,
}

/// A reply row to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NewReply {
    pub(super) touch_id: Option<TouchId>,
    pub(super) kind: &'static str,
    pub(super) score: Option<u8>,
    pub(super) comment: Option<String>,
    /// A check-in answer's choice.
    pub(super) choice: Option<&'static str>,
}

fn unlinked(kind: &'static str) -> NewReply {
    NewReply {
        touch_id: None,
        kind,
        score: None,
        comment: None,
        choice: None,
    }
}

/// What to write for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Decision {
    /// Nothing but its signal: the outcome is known already.
    Settled(StoredOutcome),
    /// The reason for the bare score of reply `reply_id`, kept as its comment.
    Comment {
        reply_id: i64,
        score: u8,
        reason: String,
    },
    /// A reply row; `stop` turns surveys and check-ins off (true) or on (false) first, and
    /// an opt-in's `changed` is what that found.
    Reply {
        reply: NewReply,
        result: Answer,
        stop: Option<bool>,
    },
}

/// The words a message carries: the text, or the tapped button's data.
pub(super) fn body(message: &InboundMessage) -> &str {
    match &message.content {
        InboundContent::Text(text) | InboundContent::Button(text) => text,
    }
}

/// Decides what `message` is, given `facts` about its contact.
pub(super) fn decide(message: &InboundMessage, facts: &Facts) -> Decision {
    match &message.content {
        InboundContent::Button(data) => button(data, facts),
        InboundContent::Text(text) => text_message(message.received_at, text, facts),
    }
}

/// The touch id a button's data names, if it is ours: what `facts.button` is read for.
pub(super) fn button_touch(message: &InboundMessage) -> Option<TouchId> {
    match &message.content {
        InboundContent::Button(data) => parse_callback(data).ok().map(|c| c.touch_id),
        InboundContent::Text(_) => None,
    }
}

fn button(data: &str, facts: &Facts) -> Decision {
    let stale = Decision::Settled(StoredOutcome {
        result: Answer::StaleButton,
        touch_id: None,
        reply_id: None,
    });
    let (Ok(callback), Some(touch)) = (parse_callback(data), &facts.button) else {
        return stale;
    };
    let parsed = match (touch.kind.parse::<TouchKind>().ok(), callback.answer) {
        (Some(TouchKind::Nps), CallbackAnswer::Nps(score)) => ParsedReply::Nps {
            score,
            comment: None,
        },
        (Some(TouchKind::Csat), CallbackAnswer::Csat(score)) => ParsedReply::Csat {
            score,
            comment: None,
        },
        (Some(TouchKind::Checkin), CallbackAnswer::Checkin(answer)) => ParsedReply::Checkin(answer),
        _ => return stale,
    };
    if touch.answered {
        return Decision::Settled(StoredOutcome {
            result: Answer::AlreadyAnswered,
            touch_id: Some(callback.touch_id),
            reply_id: None,
        });
    }
    parsed_reply(Some(callback.touch_id), parsed, false)
}

fn text_message(now: DateTime<Utc>, text: &str, facts: &Facts) -> Decision {
    if facts.takeover {
        return match parse_reply(text, Expecting::Nothing) {
            parsed @ (ParsedReply::OptOut | ParsedReply::OptIn) => {
                parsed_reply(None, parsed, false)
            }
            _ => Decision::Reply {
                reply: unlinked("free_text"),
                result: Answer::Relayed,
                stop: None,
            },
        };
    }
    let open = facts.open.as_ref();
    // A bare NPS score is waiting for its reason.
    let awaiting_reason = facts.last.as_ref().filter(|r| {
        r.kind == "nps"
            && r.comment.is_none()
            && r.received_at > now - COMMENT_WINDOW
            // A survey sent after the score asks its own question.
            && open.is_none_or(|t| t.sent_at < r.received_at)
    });
    if let Some(scored) = awaiting_reason {
        let score = scored.score.and_then(|s| u8::try_from(s).ok());
        if let (Some(score), ParsedReply::FreeText(reason)) =
            (score, parse_reply(text, Expecting::Nothing))
        {
            return Decision::Comment {
                reply_id: scored.id,
                score,
                reason,
            };
        }
    }
    let (touch_id, expecting) = match open {
        Some(t) => {
            let expecting = match t.kind.as_str() {
                "nps" => Expecting::Nps,
                "csat" => Expecting::Csat,
                _ => Expecting::Checkin,
            };
            (Some(TouchId(t.id)), expecting)
        }
        None => (None, Expecting::Nothing),
    };
    parsed_reply(touch_id, parse_reply(text, expecting), facts.open_reasked)
}

/// The reply row (and consent change) for a parsed message that answers `touch_id`, if any;
/// `reasked`: that survey was asked again already.
fn parsed_reply(touch_id: Option<TouchId>, parsed: ParsedReply, reasked: bool) -> Decision {
    let linked = |kind| NewReply {
        touch_id,
        ..unlinked(kind)
    };
    let (reply, result, stop) = match parsed {
        ParsedReply::Nps { score, comment } => {
            let has_comment = comment.is_some();
            let reply = NewReply {
                score: Some(score),
                comment,
                ..linked("nps")
            };
            (reply, Answer::Nps { score, has_comment }, None)
        }
        ParsedReply::Csat { score, comment } => {
            let reply = NewReply {
                score: Some(score),
                comment,
                ..linked("csat")
            };
            (reply, Answer::Csat { score }, None)
        }
        ParsedReply::Checkin(choice) => {
            let reply = NewReply {
                choice: Some(choice.as_str()),
                ..linked("checkin")
            };
            (reply, Answer::Checkin { choice }, None)
        }
        ParsedReply::OptOut => (unlinked("optout"), Answer::OptOut, Some(true)),
        ParsedReply::OptIn => (
            unlinked("optin"),
            Answer::OptIn { changed: false },
            Some(false),
        ),
        ParsedReply::Unclear => match touch_id {
            Some(_) if !reasked => (linked("unclear"), Answer::Unclear, None),
            _ => (unlinked("free_text"), Answer::FreeText, None),
        },
        // Free text answers a check-in it was sent to; otherwise it stands alone.
        ParsedReply::FreeText(_) => (linked("free_text"), Answer::FreeText, None),
    };
    Decision::Reply {
        reply,
        result,
        stop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ChannelKind;

    fn at() -> DateTime<Utc> {
        "2026-03-10T09:00:00Z".parse().unwrap()
    }

    fn said(content: InboundContent) -> InboundMessage {
        InboundMessage {
            channel: ChannelKind::Whatsapp,
            address: "+77010000001".into(),
            provider_message_id: "wamid.1".into(),
            content,
            received_at: at(),
        }
    }

    fn open_nps() -> Option<OpenTouch> {
        Some(OpenTouch {
            id: 7,
            kind: "nps".into(),
            sent_at: at() - chrono::TimeDelta::hours(2),
        })
    }

    fn reply_of(decision: Decision) -> (NewReply, Answer) {
        match decision {
            Decision::Reply { reply, result, .. } => (reply, result),
            other => panic!("expected a reply row, got {other:?}"),
        }
    }

    #[test]
    fn a_score_to_an_open_survey_answers_it() {
        let facts = Facts {
            open: open_nps(),
            ..Facts::default()
        };
        let (reply, answer) = reply_of(decide(&said(InboundContent::text("9")), &facts));
        assert_eq!(
            (reply.kind, reply.score, reply.touch_id),
            ("nps", Some(9), Some(TouchId(7)))
        );
        assert_eq!(
            answer,
            Answer::Nps {
                score: 9,
                has_comment: false
            }
        );
    }

    #[test]
    fn words_after_a_bare_score_of_the_same_day_are_its_reason() {
        let facts = Facts {
            last: Some(LastReply {
                id: 3,
                kind: "nps".into(),
                score: Some(4),
                comment: None,
                received_at: at() - chrono::TimeDelta::minutes(5),
            }),
            ..Facts::default()
        };
        let decision = decide(&said(InboundContent::text("tickets wait for days")), &facts);
        assert_eq!(
            decision,
            Decision::Comment {
                reply_id: 3,
                score: 4,
                reason: "tickets wait for days".into()
            }
        );
    }

    #[test]
    fn during_a_takeover_a_score_is_passed_on_unread() {
        let facts = Facts {
            takeover: true,
            open: open_nps(),
            ..Facts::default()
        };
        let (reply, answer) = reply_of(decide(&said(InboundContent::text("3")), &facts));
        assert_eq!((reply.kind, reply.touch_id), ("free_text", None));
        assert_eq!(answer, Answer::Relayed);
    }

    #[test]
    fn a_survey_asked_again_once_takes_further_words_as_free_text() {
        let first = Facts {
            open: open_nps(),
            ..Facts::default()
        };
        let again = Facts {
            open_reasked: true,
            ..first.clone()
        };
        let words = said(InboundContent::text("hmm, not sure what to say"));
        assert_eq!(reply_of(decide(&words, &first)).1, Answer::Unclear);
        assert_eq!(reply_of(decide(&words, &again)).1, Answer::FreeText);
    }

    #[test]
    fn a_tap_for_a_touch_answered_already_changes_nothing() {
        let facts = Facts {
            button: Some(ButtonTouch {
                kind: "nps".into(),
                answered: true,
            }),
            ..Facts::default()
        };
        let tap = said(InboundContent::Button("nps:7:10".into()));
        assert_eq!(button_touch(&tap), Some(TouchId(7)));
        assert_eq!(
            decide(&tap, &facts),
            Decision::Settled(StoredOutcome {
                result: Answer::AlreadyAnswered,
                touch_id: Some(TouchId(7)),
                reply_id: None
            })
        );
    }

    #[test]
    fn stop_turns_surveys_off_and_start_turns_them_back_on() {
        let stop = decide(&said(InboundContent::text("stop")), &Facts::default());
        let start = decide(&said(InboundContent::text("start")), &Facts::default());
        assert!(matches!(
            stop,
            Decision::Reply {
                stop: Some(true),
                ..
            }
        ));
        assert!(matches!(
            start,
            Decision::Reply {
                stop: Some(false),
                ..
            }
        ));
    }
}
