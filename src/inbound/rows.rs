//! The consents `record` changes for a "stop" or a "start", one contact at a time (they are
//! rare, and each says whether it changed anything).

use sqlx::PgConnection;

use super::record::InboundMessage;
use crate::domain::{ContactId, MessageCategory};
use crate::storage::consents;

/// The categories "stop" turns off; renewal and service notices are contractual and stay.
const STOPPABLE: [MessageCategory; 2] = [MessageCategory::Survey, MessageCategory::Checkin];

/// Turns surveys and check-ins off (or back on) for the contact, with the change kept in the
/// consent history under the channel the words came on. True when anything changed.
pub(super) async fn set_stopped(
    conn: &mut PgConnection,
    contact_id: ContactId,
    opted_out: bool,
    message: &InboundMessage,
) -> Result<bool, sqlx::Error> {
    let source = format!("reply:{}", message.channel.as_str());
    let mut changed = false;
    for category in STOPPABLE {
        changed |= consents::set(
            conn,
            contact_id,
            category,
            opted_out,
            message.received_at,
            &source,
        )
        .await?;
    }
    Ok(changed)
}
