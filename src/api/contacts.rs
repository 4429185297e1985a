//! `/api/v1/…/contacts`: add and remove a client's contacts, with the rules of `touchbot
//! contact add/remove` (E.164 numbers for WhatsApp; the account is re-planned). A Telegram
//! contact added without a chat id gets a join link in the response.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::accounts::replan;
use super::error::{ApiJson, ErrorBody};
use super::{ApiError, ApiState};
use crate::domain::{AccountId, ChannelKind, ContactId};
use crate::storage::contact_update::{self, ContactUpdate};
use crate::storage::contacts::{self, Contact, NewContact};
use crate::storage::{accounts, invites};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    pub name: String,
    /// decision_maker, champion or user.
    pub role: String,
    /// telegram (the default), whatsapp or simulated.
    pub channel: Option<String>,
    /// A phone number in E.164 (+77011234567) for WhatsApp; for Telegram usually left out:
    /// the contact joins through the link in the response.
    pub address: Option<String>,
    /// The contact's own IANA time zone, when it differs from the account's.
    pub time_zone: Option<String>,
    /// en or ru, when it differs from the account's.
    pub locale: Option<String>,
}

/// A partial change; null clears the time zone or language (the account's apply again).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    pub name: Option<String>,
    /// decision_maker, champion or user.
    pub role: Option<String>,
    /// A new address, checked for the contact's channel (E.164 for WhatsApp).
    pub address: Option<String>,
    #[serde(default, deserialize_with = "super::account_views::present")]
    #[schema(value_type = Option<String>)]
    pub time_zone: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::account_views::present")]
    #[schema(value_type = Option<String>)]
    pub locale: Option<Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JoinLinkView {
    pub url: String,
    /// The link works once, until then.
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub role: String,
    pub channel: String,
    pub address: Option<String>,
    pub time_zone: Option<String>,
    pub locale: Option<String>,
    /// For a Telegram contact without a chat: the link to send them.
    pub join_link: Option<JoinLinkView>,
    /// Why there is no join link, when one was expected (the bot's username is not set).
    pub join_link_missing: Option<String>,
}

impl ContactView {
    fn new(c: &Contact) -> Self {
        ContactView {
            id: c.id.0,
            account_id: c.account_id.0,
            name: c.name.clone(),
            role: c.role.to_string(),
            channel: c.channel.to_string(),
            address: c.address.clone(),
            time_zone: c.time_zone.map(|t| t.name().to_string()),
            locale: c.locale.clone(),
            join_link: None,
            join_link_missing: None,
        }
    }
}

fn parsed<T: std::str::FromStr<Err = crate::domain::ParseError>>(
    field: &'static str,
    value: &str,
) -> Result<T, ApiError> {
    value
        .parse()
        .map_err(|e: crate::domain::ParseError| ApiError::field(field, e.0))
}

/// Add a contact to an account.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/contacts", tag = "contacts",
    params(("id" = i64, Path, description = "the account's id")), request_body = ContactInput,
    security(("bearer" = [])),
    responses((status = 201, body = ContactView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "another contact has this address"),
        (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(account = id))]
pub async fn add(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<ContactInput>,
) -> Result<(StatusCode, Json<ContactView>), ApiError> {
    let account = accounts::get(&state.pool, AccountId(id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no account has the id {id}")))?;
    let channel = match &input.channel {
        Some(c) => parsed::<ChannelKind>("channel", c)?,
        None => ChannelKind::Telegram,
    };
    let new = NewContact {
        account_id: account.id,
        name: input.name,
        role: parsed("role", &input.role)?,
        channel,
        address: input.address,
        time_zone: input.time_zone,
        locale: input.locale,
    };
    let now = Utc::now();
    let c = contacts::add(&state.pool, &new, now).await?;
    replan(&state, account.id).await?;
    let mut view = ContactView::new(&c);
    if c.channel == ChannelKind::Telegram && c.address.is_none() {
        if state.settings.telegram.bot_username.is_some() {
            let link = invites::join_link(&state.pool, &state.settings.telegram, &c, now).await?;
            view.join_link = Some(JoinLinkView {
                url: link.url,
                expires_at: link.expires_at,
            });
        } else {
            view.join_link_missing = Some(invites::no_username(&c));
        }
    }
    Ok((StatusCode::CREATED, Json(view)))
}

/// Change a contact; the account's touches are re-planned.
#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts",
    params(("id" = i64, Path, description = "the contact's id")), request_body = ContactPatch,
    security(("bearer" = [])),
    responses((status = 200, body = ContactView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "another contact has this address"),
        (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(contact = id))]
pub async fn update(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    ApiJson(patch): ApiJson<ContactPatch>,
) -> Result<Json<ContactView>, ApiError> {
    let change = ContactUpdate {
        name: patch.name,
        role: patch
            .role
            .as_deref()
            .map(|r| parsed("role", r))
            .transpose()?,
        address: patch.address,
        time_zone: patch.time_zone,
        locale: patch.locale,
    };
    let c = contact_update::update(&state.pool, ContactId(id), &change).await?;
    replan(&state, c.account_id).await?;
    Ok(Json(ContactView::new(&c)))
}

/// Remove a contact: nothing more is sent to them; their history stays.
#[utoipa::path(delete, path = "/api/v1/contacts/{id}", tag = "contacts",
    params(("id" = i64, Path, description = "the contact's id")), security(("bearer" = [])),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(contact = id))]
pub async fn remove(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let c = contacts::get(&state.pool, ContactId(id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no current contact has the id {id}")))?;
    contacts::remove(&state.pool, c.account_id, c.id, Utc::now()).await?;
    replan(&state, c.account_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
