//! The WhatsApp Business Cloud API adapter (Graph API). Outbound only for now:
//! [`WhatsAppChannel`] is one more `Channel` for the dispatchers. The 24-hour window itself is
//! the dispatcher's (`outbound::window`); `templates` prints what to register with Meta for
//! outside it.

pub mod channel;
pub mod phone;
pub mod settings;
pub mod templates;

pub use channel::WhatsAppChannel;
pub use settings::WhatsAppSettings;
