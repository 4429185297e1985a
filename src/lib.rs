//! touchbot: a customer-success touch calendar that talks to clients in chat.
//!
//! Two paths run through the crate, and the folders follow them:
//! - outbound: `outbound::scheduler` → `outbound::calendar` → `outbound::outbox` →
//!   `outbound::dispatcher` → `channel`
//! - inbound: `channel` → `inbound::parser` → `inbound::record` (storage of replies) and
//!   `inbound::signals` (facts from outside) → `health` (scores and their history) →
//!   `escalation` (red-signal rules, a pure core not yet wired to storage).
//! - the staff side of the chat, whatever the channel: `chat` (commands, escalation card
//!   buttons, binding the team chat, human takeover of a client conversation).

pub mod api;
pub mod app;
pub mod channel;
pub mod chat;
pub mod cli;
pub mod config;
pub mod db;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod escalation;
pub mod health;
pub mod inbound;
pub mod liveness;
pub mod messages;
pub mod metrics;
pub mod outbound;
pub mod staff_posts;
pub mod startup;
pub mod status;
pub mod storage;
pub mod telegram;
pub mod telemetry;
pub mod webhooks;
pub mod whatsapp;
