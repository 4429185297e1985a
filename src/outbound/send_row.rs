//! A touch as the send-time checks and its template see it, loaded for a whole claimed batch
//! in one statement.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgExecutor;

use crate::domain::{AccountId, ContactId, StaffId, TouchId};

/// Everything the send-time checks and a template need about one touch, as stored.
#[derive(Debug, Clone)]
pub struct SendRow {
    pub id: TouchId,
    pub account_id: AccountId,
    pub touch_key: String,
    pub kind: String,
    pub category: String,
    pub template: String,
    pub due_at: DateTime<Utc>,
    pub account_name: String,
    pub account_lifecycle: String,
    pub account_locale: String,
    pub account_time_zone: String,
    pub renewal_date: Option<NaiveDate>,
    pub csm_name: Option<String>,
    pub csm_locale: Option<String>,
    pub contact_id: Option<ContactId>,
    pub contact_name: Option<String>,
    pub contact_channel: Option<String>,
    pub contact_address: Option<String>,
    pub contact_locale: Option<String>,
    pub contact_removed: bool,
    pub contact_unreachable: bool,
    pub contact_opted_out: bool,
    /// When the contact last wrote, on any channel (WhatsApp's window).
    pub contact_last_inbound_at: Option<DateTime<Utc>>,
    /// WhatsApp refused this touch's free text: it may only go as its template.
    pub template_only: bool,
    pub staff_id: Option<StaffId>,
    pub staff_name: Option<String>,
    pub staff_telegram_user_id: Option<i64>,
    pub staff_locale: Option<String>,
}

/// Loads the touches `ids` in one statement; a touch deleted since its claim is missing.
pub async fn load_for_send(
    db: impl PgExecutor<'_>,
    ids: &[i64],
) -> Result<Vec<(TouchId, SendRow)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        select t.id as "id!", t.account_id as "account_id!", t.touch_key as "touch_key!",
               t.kind as "kind!", t.category as "category!", t.template as "template!",
               t.due_at as "due_at!", a.name as "account_name!",
               a.lifecycle as "account_lifecycle!", a.locale as "account_locale!",
               a.time_zone as "account_time_zone!", a.renewal_date as "renewal_date?",
               csm.name as "csm_name?", csm.locale as "csm_locale?",
               t.contact_id as "contact_id?", c.last_inbound_at as "contact_last_inbound_at?",
               t.template_only as "template_only!", c.name as "contact_name?", c.channel as "contact_channel?",
               c.address as "contact_address?", c.locale as "contact_locale?",
               (c.removed_at is not null) as "contact_removed!",
               (c.unreachable_at is not null) as "contact_unreachable!",
               exists (select 1 from contact_consents cc
                        where cc.contact_id = t.contact_id and cc.category = t.category
                          and cc.opted_out) as "contact_opted_out!",
               t.staff_id as "staff_id?", s.name as "staff_name?", s.telegram_user_id as "staff_telegram_user_id?",
               s.locale as "staff_locale?"
          from touches t
          join accounts a on a.id = t.account_id
          left join staff csm on csm.id = a.csm_id
          left join contacts c on c.id = t.contact_id
          left join staff s on s.id = t.staff_id
         where t.id = any($1)
        "#,
        ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                TouchId(r.id),
                SendRow {
                    id: TouchId(r.id),
                    account_id: AccountId(r.account_id),
                    touch_key: r.touch_key,
                    kind: r.kind,
                    category: r.category,
                    template: r.template,
                    due_at: r.due_at,
                    account_name: r.account_name,
                    account_lifecycle: r.account_lifecycle,
                    account_locale: r.account_locale,
                    account_time_zone: r.account_time_zone,
                    renewal_date: r.renewal_date,
                    csm_name: r.csm_name,
                    csm_locale: r.csm_locale,
                    contact_id: r.contact_id.map(ContactId),
                    contact_name: r.contact_name,
                    contact_channel: r.contact_channel,
                    contact_address: r.contact_address,
                    contact_locale: r.contact_locale,
                    contact_removed: r.contact_removed,
                    contact_unreachable: r.contact_unreachable,
                    contact_opted_out: r.contact_opted_out,
                    contact_last_inbound_at: r.contact_last_inbound_at,
                    template_only: r.template_only,
                    staff_id: r.staff_id.map(StaffId),
                    staff_name: r.staff_name,
                    staff_telegram_user_id: r.staff_telegram_user_id,
                    staff_locale: r.staff_locale,
                },
            )
        })
        .collect())
}
