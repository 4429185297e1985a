//! touchbot: a customer-success touch calendar that talks to clients in chat.
//!
//! Two paths run through the crate, and the folders follow them:
//! - outbound: `outbound::scheduler` → `outbound::calendar` → `outbound::outbox` →
//!   `outbound::dispatcher` → `channel`
//! - inbound: `channel` → `inbound::parser` → `inbound` (storage of replies) → health →
//!   escalation. `health` and `escalation` are pure cores so far (scoring and red-signal
//!   rules); storing scores and posting escalations to the CS team come next.

pub mod app;
pub mod channel;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod escalation;
pub mod health;
pub mod inbound;
pub mod messages;
pub mod outbound;
pub mod startup;
pub mod status;
pub mod storage;
