//! The WhatsApp Business Cloud API adapter (Graph API). Outbound, [`WhatsAppChannel`] is one
//! more `Channel` for the dispatchers; the 24-hour window itself is the dispatcher's
//! (`outbound::window`), and `templates` prints what to register with Meta for outside it.
//! Inbound, [`webhook`] stores what Meta posts and [`worker`] handles it: messages go to the
//! conversation core (`arrivals`), statuses to the touches they are about (`statuses`).

mod arrivals;
pub mod channel;
pub mod events;
mod intake;
pub mod phone;
pub mod queue;
pub mod settings;
pub mod statuses;
pub mod templates;
pub mod webhook;
pub mod worker;

pub use channel::WhatsAppChannel;
pub use settings::WhatsAppSettings;
