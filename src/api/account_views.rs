//! The JSON shapes of accounts, in and out, and their translation to the storage types.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;

use super::ApiError;
use crate::health::ComponentScore;
use crate::health::store::LatestHealth;
use crate::status::AccountStatus;
use crate::storage::accounts::{Account, AccountUpdate, NewAccount};
use crate::storage::{StoreError, staff};

/// A new account, or (by external id) the whole record as the CRM has it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    pub name: String,
    /// enterprise, mid_market or smb.
    pub segment: String,
    /// Annual recurring revenue in currency units (not cents).
    #[serde(default)]
    pub arr: f64,
    pub contract_start: NaiveDate,
    /// Day 0 of the touch calendar when given.
    pub go_live: Option<NaiveDate>,
    pub renewal_date: Option<NaiveDate>,
    /// The owning CSM: a staff id or name.
    pub csm: Option<String>,
    /// IANA time zone, such as Asia/Almaty; UTC when left out.
    pub time_zone: Option<String>,
    /// en or ru; en when left out.
    pub locale: Option<String>,
}

/// Reads a present field as `Some(value)` (`Some(None)` for null), so an absent field can be
/// told from one set to null.
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A partial change: fields left out stay as they are; null clears a date, the CSM or the
/// external id.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    pub name: Option<String>,
    pub segment: Option<String>,
    pub arr: Option<f64>,
    pub contract_start: Option<NaiveDate>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<NaiveDate>)]
    pub go_live: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<NaiveDate>)]
    pub renewal_date: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub csm: Option<Option<String>>,
    pub time_zone: Option<String>,
    pub locale: Option<String>,
    /// active, paused or churned.
    pub lifecycle: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
}

fn cents(arr: f64) -> Result<i64, ApiError> {
    if !arr.is_finite() || !(0.0..=1e15).contains(&arr) {
        return Err(ApiError::field(
            "arr",
            "ARR is a number of currency units, 0 or more",
        ));
    }
    Ok((arr * 100.0).round() as i64)
}

/// A domain value (a segment, a status) read from the field it was given in.
pub(super) fn parsed<T: std::str::FromStr<Err = crate::domain::ParseError>>(
    field: &str,
    value: &str,
) -> Result<T, ApiError> {
    value
        .parse()
        .map_err(|e: crate::domain::ParseError| ApiError::field(field, e.0))
}

/// Finds the CSM named in a body; an unknown one is the `csm` field's problem.
pub async fn csm_id(pool: &PgPool, key: &str) -> Result<crate::domain::StaffId, ApiError> {
    match staff::find(pool, key).await {
        Ok(s) => Ok(s.id),
        Err(e @ (StoreError::NotFound { .. } | StoreError::Ambiguous { .. })) => {
            Err(ApiError::field("csm", e.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

impl AccountInput {
    pub async fn to_new(&self, pool: &PgPool) -> Result<NewAccount, ApiError> {
        let csm_id = match &self.csm {
            Some(k) => Some(csm_id(pool, k).await?),
            None => None,
        };
        Ok(NewAccount {
            name: self.name.clone(),
            segment: parsed("segment", &self.segment)?,
            arr_cents: cents(self.arr)?,
            contract_start: self.contract_start,
            go_live: self.go_live,
            renewal_date: self.renewal_date,
            csm_id,
            time_zone: self.time_zone.clone().unwrap_or_else(|| "UTC".into()),
            locale: self.locale.clone().unwrap_or_else(|| "en".into()),
        })
    }
}

impl AccountPatch {
    pub async fn to_update(&self, pool: &PgPool) -> Result<AccountUpdate, ApiError> {
        let csm_id = match &self.csm {
            Some(Some(k)) => Some(Some(csm_id(pool, k).await?)),
            Some(None) => Some(None),
            None => None,
        };
        Ok(AccountUpdate {
            name: self.name.clone(),
            segment: self
                .segment
                .as_deref()
                .map(|s| parsed("segment", s))
                .transpose()?,
            arr_cents: self.arr.map(cents).transpose()?,
            contract_start: self.contract_start,
            go_live: self.go_live,
            renewal_date: self.renewal_date,
            csm_id,
            time_zone: self.time_zone.clone(),
            locale: self.locale.clone(),
            lifecycle: self
                .lifecycle
                .as_deref()
                .map(|s| parsed("lifecycle", s))
                .transpose()?,
        })
    }
}

/// The latest health score, as `touchbot status ACCOUNT` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    pub score: Option<u8>,
    /// green, yellow or red.
    pub category: Option<String>,
    pub computed_at: DateTime<Utc>,
    /// Points gained (negative: lost) in the last 30 days.
    pub change_30d: Option<i32>,
    pub summary: String,
    /// The components that had no data.
    pub missing: Vec<String>,
    /// Each component with its score, weight and explanation.
    pub components: Vec<ComponentScore>,
}

impl From<LatestHealth> for HealthView {
    fn from(h: LatestHealth) -> Self {
        HealthView {
            score: h.score,
            category: h.category.map(|c| c.as_str().to_string()),
            computed_at: h.computed_at,
            change_30d: h.change_30d,
            summary: h.summary,
            missing: h.missing,
            components: h.components,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: i64,
    /// The account's id in your CRM, when set.
    pub external_id: Option<String>,
    pub name: String,
    pub segment: String,
    /// Annual recurring revenue in currency units.
    pub arr: f64,
    pub contract_start: NaiveDate,
    pub go_live: Option<NaiveDate>,
    pub renewal_date: Option<NaiveDate>,
    pub csm_id: Option<i64>,
    pub time_zone: String,
    pub locale: String,
    /// active, paused or churned.
    pub lifecycle: String,
    /// None until the account has been scored once.
    pub health: Option<HealthView>,
}

impl AccountView {
    pub fn new(a: Account, external_id: Option<String>, health: Option<LatestHealth>) -> Self {
        AccountView {
            id: a.id.0,
            external_id,
            name: a.name,
            segment: a.segment.to_string(),
            arr: a.arr_cents as f64 / 100.0,
            contract_start: a.contract_start,
            go_live: a.go_live,
            renewal_date: a.renewal_date,
            csm_id: a.csm_id.map(|s| s.0),
            time_zone: a.time_zone.name().to_string(),
            locale: a.locale,
            lifecycle: a.lifecycle.to_string(),
            health: health.map(HealthView::from),
        }
    }
}

/// One account with what `touchbot status ACCOUNT` shows about it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountDetail {
    pub account: AccountView,
    /// Touches sent, answered, skipped and failed, the next touch, the last NPS and the
    /// contacts' reachability, as `touchbot status ACCOUNT` shows them.
    pub status: Option<AccountStatus>,
}

/// A page of accounts; pass `next_cursor` back as `cursor` for the next one.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountPage {
    pub accounts: Vec<AccountView>,
    /// Absent on the last page.
    pub next_cursor: Option<String>,
}
