//! The WhatsApp Business Cloud API adapter (Graph API). Outbound, [`WhatsAppChannel`] is one
//! more `Channel` for the dispatchers. Inbound, [`webhook`] stores what Meta posts and
//! [`worker`] handles it: messages go to the conversation core (`arrivals`), statuses to the
//! touches they are about (`statuses`).

mod arrivals;
pub mod channel;
pub mod events;
pub mod phone;
pub mod queue;
pub mod settings;
pub mod statuses;
pub mod webhook;
pub mod worker;

pub use channel::WhatsAppChannel;
pub use settings::WhatsAppSettings;
