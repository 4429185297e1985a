//! Client accounts: create, find by id or name, list, update.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::{PgExecutor, PgPool};

use super::{StoreError, parse_locale, parse_time_zone, stored, unique_violation};
use crate::domain::{AccountId, AccountLifecycle, Segment, StaffId};
use crate::health::Category;

#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub segment: Segment,
    pub arr_cents: i64,
    pub contract_start: NaiveDate,
    pub go_live: Option<NaiveDate>,
    pub renewal_date: Option<NaiveDate>,
    pub csm_id: Option<StaffId>,
    pub time_zone: Tz,
    pub locale: String,
    pub lifecycle: AccountLifecycle,
}

impl Account {
    /// Day 0 of the calendar: go-live when known, otherwise the contract start.
    pub fn day_zero(&self) -> NaiveDate {
        self.go_live.unwrap_or(self.contract_start)
    }
}

/// The fields of a new account, as typed by a user (validated by `create`).
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub name: String,
    pub segment: Segment,
    pub arr_cents: i64,
    pub contract_start: NaiveDate,
    pub go_live: Option<NaiveDate>,
    pub renewal_date: Option<NaiveDate>,
    pub csm_id: Option<StaffId>,
    pub time_zone: String,
    pub locale: String,
}

/// A partial update: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AccountUpdate {
    pub name: Option<String>,
    pub segment: Option<Segment>,
    pub arr_cents: Option<i64>,
    pub contract_start: Option<NaiveDate>,
    pub go_live: Option<Option<NaiveDate>>,
    pub renewal_date: Option<Option<NaiveDate>>,
    pub csm_id: Option<Option<StaffId>>,
    pub time_zone: Option<String>,
    pub locale: Option<String>,
    pub lifecycle: Option<AccountLifecycle>,
}

struct Row {
    id: i64,
    name: String,
    segment: String,
    arr_cents: i64,
    contract_start: NaiveDate,
    go_live: Option<NaiveDate>,
    renewal_date: Option<NaiveDate>,
    csm_id: Option<i64>,
    time_zone: String,
    locale: String,
    lifecycle: String,
}

impl TryFrom<Row> for Account {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(Account {
            id: AccountId(r.id),
            name: r.name,
            segment: stored(&r.segment)?,
            arr_cents: r.arr_cents,
            contract_start: r.contract_start,
            go_live: r.go_live,
            renewal_date: r.renewal_date,
            csm_id: r.csm_id.map(StaffId),
            time_zone: r
                .time_zone
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("time zone '{}'", r.time_zone)))?,
            locale: r.locale,
            lifecycle: stored(&r.lifecycle)?,
        })
    }
}

fn check_name(name: &str) -> Result<String, StoreError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StoreError::field("name", "the account name is empty"));
    }
    if name.chars().count() > 200 {
        return Err(StoreError::field(
            "name",
            "the account name is longer than 200 characters",
        ));
    }
    if name.parse::<i64>().is_ok() {
        return Err(StoreError::field(
            "name",
            format!("'{name}' looks like an id; give the account a name with at least one letter"),
        ));
    }
    Ok(name.to_string())
}

fn check_dates(
    start: NaiveDate,
    go_live: Option<NaiveDate>,
    renewal: Option<NaiveDate>,
) -> Result<(), StoreError> {
    if let Some(g) = go_live
        && g < start
    {
        return Err(StoreError::field(
            "go_live",
            format!("the go-live date {g} is before the contract start {start}"),
        ));
    }
    if let Some(r) = renewal
        && r <= start
    {
        return Err(StoreError::field(
            "renewal_date",
            format!("the renewal date {r} must be after the contract start {start}"),
        ));
    }
    Ok(())
}

fn check_arr(arr_cents: i64) -> Result<(), StoreError> {
    if arr_cents < 0 {
        return Err(StoreError::field("arr", "ARR cannot be negative"));
    }
    Ok(())
}

/// Takes any executor so that an import can create the account inside its row's transaction.
pub async fn create(db: impl PgExecutor<'_>, new: &NewAccount) -> Result<Account, StoreError> {
    let name = check_name(&new.name)?;
    let tz = parse_time_zone(&new.time_zone)?;
    let locale = parse_locale(&new.locale)?;
    check_dates(new.contract_start, new.go_live, new.renewal_date)?;
    check_arr(new.arr_cents)?;
    let row = sqlx::query_as!(
        Row,
        r#"insert into accounts (name, segment, arr_cents, contract_start, go_live, renewal_date,
                                 csm_id, time_zone, locale)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           returning id, name, segment, arr_cents, contract_start, go_live, renewal_date,
                     csm_id, time_zone, locale, lifecycle"#,
        name,
        new.segment.as_str(),
        new.arr_cents,
        new.contract_start,
        new.go_live,
        new.renewal_date,
        new.csm_id.map(|s| s.0),
        tz.name(),
        locale,
    )
    .fetch_one(db)
    .await
    .map_err(|e| unique_violation(e, || format!("an account named '{name}' already exists")))?;
    row.try_into()
}

pub async fn get(pool: &PgPool, id: AccountId) -> Result<Option<Account>, StoreError> {
    let row = sqlx::query_as!(
        Row,
        r#"select id, name, segment, arr_cents, contract_start, go_live, renewal_date, csm_id,
                  time_zone, locale, lifecycle
           from accounts where id = $1"#,
        id.0
    )
    .fetch_optional(pool)
    .await?;
    row.map(Account::try_from).transpose()
}

/// The accounts among `ids` that exist, in id order (the nightly re-plan reads them a chunk
/// at a time).
pub async fn get_many(pool: &PgPool, ids: &[i64]) -> Result<Vec<Account>, StoreError> {
    let (lo, hi) = crate::domain::id_bounds(ids);
    let rows = sqlx::query_as!(
        Row,
        r#"select id, name, segment, arr_cents, contract_start, go_live, renewal_date, csm_id,
                  time_zone, locale, lifecycle
           from accounts where id = any($1) and id between $2 and $3 order by id"#,
        ids,
        lo,
        hi
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(Account::try_from).collect()
}

pub async fn list(pool: &PgPool) -> Result<Vec<Account>, StoreError> {
    let rows = sqlx::query_as!(
        Row,
        r#"select id, name, segment, arr_cents, contract_start, go_live, renewal_date, csm_id,
                  time_zone, locale, lifecycle
           from accounts order by lower(name)"#
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(Account::try_from).collect()
}

/// What an account list keeps; `None` is no restriction.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    pub lifecycle: Option<AccountLifecycle>,
    pub csm: Option<StaffId>,
    /// Renewing before this date (an account without a renewal date is left out).
    pub renewal_before: Option<NaiveDate>,
    /// The category of the account's latest health score (one never scored has none).
    pub category: Option<Category>,
}

/// Up to `limit` matching accounts with ids above `after`, in id order: a keyset page, so
/// the thousandth page costs what the first does. Health is judged by the latest score at
/// `now`, as `status` shows it.
pub async fn page(
    pool: &PgPool,
    filter: &AccountFilter,
    after: AccountId,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Account>, StoreError> {
    let rows = sqlx::query_as!(
        Row,
        r#"select a.id, a.name, a.segment, a.arr_cents, a.contract_start, a.go_live,
                  a.renewal_date, a.csm_id, a.time_zone, a.locale, a.lifecycle
           from accounts a
           where a.id > $1
             and ($2::text is null or a.lifecycle = $2)
             and ($3::int8 is null or a.csm_id = $3)
             and ($4::date is null or a.renewal_date < $4)
             and ($5::text is null
                  or (select h.category from health_scores h
                       where h.account_id = a.id and h.computed_at <= $6
                       order by h.computed_at desc, h.id desc limit 1) = $5)
           order by a.id
           limit $7"#,
        after.0,
        filter.lifecycle.map(AccountLifecycle::as_str),
        filter.csm.map(|s| s.0),
        filter.renewal_before,
        filter.category.map(Category::as_str),
        now,
        limit
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(Account::try_from).collect()
}

/// Finds an account by id, by its exact name (any case), or by a unique part of its name.
pub async fn find(pool: &PgPool, key: &str) -> Result<Account, StoreError> {
    let key = key.trim();
    if let Ok(id) = key.parse::<i64>()
        && let Some(a) = get(pool, AccountId(id)).await?
    {
        return Ok(a);
    }
    let rows = sqlx::query_as!(
        Row,
        r#"select id, name, segment, arr_cents, contract_start, go_live, renewal_date, csm_id,
                  time_zone, locale, lifecycle
           from accounts
           where lower(name) = lower($1)
              or strpos(lower(name), lower($1)) > 0
           order by (lower(name) = lower($1)) desc, lower(name)
           limit 20"#,
        key
    )
    .fetch_all(pool)
    .await?;
    let mut accounts = rows
        .into_iter()
        .map(Account::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    match accounts.len() {
        0 => Err(StoreError::NotFound {
            what: "account",
            name: key.to_string(),
            hint: "'touchbot account list' shows them all",
        }),
        1 => Ok(accounts.remove(0)),
        // Lower-cased as PostgreSQL does, so a Cyrillic name typed in another case still wins.
        _ if accounts[0].name.to_lowercase() == key.to_lowercase() => Ok(accounts.remove(0)),
        _ => Err(StoreError::Ambiguous {
            what: "account",
            name: key.to_string(),
            candidates: accounts
                .iter()
                .map(|a| format!("{} (id {})", a.name, a.id))
                .collect(),
        }),
    }
}

pub async fn update(
    pool: &PgPool,
    id: AccountId,
    change: &AccountUpdate,
) -> Result<Account, StoreError> {
    let current = get(pool, id).await?.ok_or(StoreError::NotFound {
        what: "account",
        name: id.to_string(),
        hint: "'touchbot account list' shows them all",
    })?;
    let name = match &change.name {
        Some(n) => check_name(n)?,
        None => current.name.clone(),
    };
    let tz = match &change.time_zone {
        Some(t) => parse_time_zone(t)?,
        None => current.time_zone,
    };
    let locale = match &change.locale {
        Some(l) => parse_locale(l)?,
        None => current.locale.clone(),
    };
    let start = change.contract_start.unwrap_or(current.contract_start);
    let go_live = change.go_live.unwrap_or(current.go_live);
    let renewal = change.renewal_date.unwrap_or(current.renewal_date);
    check_dates(start, go_live, renewal)?;
    let arr = change.arr_cents.unwrap_or(current.arr_cents);
    check_arr(arr)?;
    let row = sqlx::query_as!(
        Row,
        r#"update accounts set name = $2, segment = $3, arr_cents = $4, contract_start = $5,
                  go_live = $6, renewal_date = $7, csm_id = $8, time_zone = $9, locale = $10,
                  lifecycle = $11, updated_at = now()
           where id = $1
           returning id, name, segment, arr_cents, contract_start, go_live, renewal_date,
                     csm_id, time_zone, locale, lifecycle"#,
        id.0,
        name,
        change.segment.unwrap_or(current.segment).as_str(),
        arr,
        start,
        go_live,
        renewal,
        change.csm_id.unwrap_or(current.csm_id).map(|s| s.0),
        tz.name(),
        locale,
        change.lifecycle.unwrap_or(current.lifecycle).as_str(),
    )
    .fetch_one(pool)
    .await
    .map_err(|e| unique_violation(e, || format!("an account named '{name}' already exists")))?;
    row.try_into()
}
