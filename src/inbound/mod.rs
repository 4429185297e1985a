//! Everything a contact sends back: read it (`parser`, `callback`), decide what it answers and
//! store it (`record`), and tell the caller what to say in return (`outcome`). Channel adapters call
//! `conversation::converse`, which hands the message to `receive` (which also re-scores the
//! account's health) and says what to answer.

pub mod answers;
pub mod callback;
pub mod contact;
pub mod conversation;
pub mod dead_letters;
pub mod followups;
pub mod joining;
mod outcome;
pub mod parser;
mod receive;
pub mod record;
pub mod replies;
mod rows;
pub mod signal_store;
pub mod signals;
pub mod strangers;

pub use callback::{Callback, CallbackAnswer, CallbackError, parse_callback};
pub use contact::{ContactRef, contact_by_address, contacts_by_address};
pub use conversation::{
    Arrival, Conversation, Done, FollowUps, Reply, converse, converse_all, converse_with,
    deliver_answers,
};
pub use outcome::{Answer, Handled, InboundOutcome, NpsCategory};
pub use parser::{CheckinAnswer, Expecting, ParsedReply, Scale, parse_reply};
pub use receive::{Judge, Reassessed, reassess, receive, reply_key};
pub use record::{
    COMMENT_WINDOW, InboundContent, InboundError, InboundMessage, REPLY_WINDOW, record_batch,
    record_reply,
};
