//! The WhatsApp Business Cloud API adapter (Graph API). Outbound only for now:
//! [`WhatsAppChannel`] is one more `Channel` for the dispatchers. The inbound webhook, the
//! 24-hour window with its templates, and delivery statuses come later.

pub mod channel;
pub mod phone;
pub mod settings;

pub use channel::WhatsAppChannel;
pub use settings::WhatsAppSettings;
