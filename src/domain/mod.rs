//! The vocabulary shared by every path: parsed once at the edge, then trusted.

mod accounts;
mod enums;
mod ids;

pub use accounts::{Accounts, AccountsParams, id_bounds};

pub use enums::{
    AccountLifecycle, ChannelKind, ContactRole, DeliveryStatus, MessageCategory, Segment,
    StaffRole, TouchKind,
};
pub use ids::{AccountId, ContactId, EscalationId, PostId, StaffId, TouchId, WebhookDeliveryId};

/// A value the user typed did not parse; the message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);
