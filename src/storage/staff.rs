//! The CS team: CSMs, their managers, VPs and admins.

use serde::Serialize;
use sqlx::PgPool;

use super::{StoreError, parse_locale, stored, unique_violation};
use crate::domain::{StaffId, StaffRole};

#[derive(Debug, Clone, Serialize)]
pub struct Staff {
    pub id: StaffId,
    pub name: String,
    pub role: StaffRole,
    pub telegram_user_id: Option<i64>,
    pub locale: String,
    pub manager_id: Option<StaffId>,
}

#[derive(Debug, Clone)]
pub struct NewStaff {
    pub name: String,
    pub role: StaffRole,
    pub telegram_user_id: Option<i64>,
    pub locale: String,
    pub manager_id: Option<StaffId>,
}

struct Row {
    id: i64,
    name: String,
    role: String,
    telegram_user_id: Option<i64>,
    locale: String,
    manager_id: Option<i64>,
}

impl TryFrom<Row> for Staff {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(Staff {
            id: StaffId(r.id),
            name: r.name,
            role: stored(&r.role)?,
            telegram_user_id: r.telegram_user_id,
            locale: r.locale,
            manager_id: r.manager_id.map(StaffId),
        })
    }
}

pub async fn add(pool: &PgPool, new: &NewStaff) -> Result<Staff, StoreError> {
    let name = new.name.trim();
    if name.is_empty() {
        return Err(StoreError::Invalid(
            "the staff member's name is empty".into(),
        ));
    }
    let locale = parse_locale(&new.locale)?;
    let row = sqlx::query_as!(
        Row,
        r#"insert into staff (name, role, telegram_user_id, locale, manager_id)
           values ($1, $2, $3, $4, $5)
           returning id, name, role, telegram_user_id, locale, manager_id"#,
        name,
        new.role.as_str(),
        new.telegram_user_id,
        locale,
        new.manager_id.map(|m| m.0),
    )
    .fetch_one(pool)
    .await
    .map_err(|e| {
        unique_violation(e, || {
            format!("a staff member named '{name}' or with that Telegram id already exists")
        })
    })?;
    row.try_into()
}

pub async fn list(pool: &PgPool) -> Result<Vec<Staff>, StoreError> {
    let rows = sqlx::query_as!(
        Row,
        "select id, name, role, telegram_user_id, locale, manager_id from staff
          where removed_at is null order by lower(name)"
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(Staff::try_from).collect()
}

/// The staff member with this Telegram user id, if any: who is asking, in chat.
pub async fn by_telegram_id(
    pool: &PgPool,
    telegram_user_id: i64,
) -> Result<Option<Staff>, StoreError> {
    let row = sqlx::query_as!(
        Row,
        "select id, name, role, telegram_user_id, locale, manager_id from staff
          where telegram_user_id = $1 and removed_at is null",
        telegram_user_id
    )
    .fetch_optional(pool)
    .await?;
    row.map(Staff::try_from).transpose()
}

/// Finds a staff member by id, by full name (any case), or by a unique part of the name.
pub async fn find(pool: &PgPool, key: &str) -> Result<Staff, StoreError> {
    let key = key.trim();
    let id = key.parse::<i64>().ok();
    let rows = sqlx::query_as!(
        Row,
        r#"select id, name, role, telegram_user_id, locale, manager_id from staff
           where (id = $1 or strpos(lower(name), lower($2)) > 0) and removed_at is null
           order by (id = $1) desc, (lower(name) = lower($2)) desc, lower(name)
           limit 20"#,
        id,
        key
    )
    .fetch_all(pool)
    .await?;
    let mut found: Vec<Staff> = rows
        .into_iter()
        .map(Staff::try_from)
        .collect::<Result<_, _>>()?;
    let exact = found
        .first()
        .is_some_and(|s| Some(s.id.0) == id || s.name.to_lowercase() == key.to_lowercase());
    match found.len() {
        0 => Err(StoreError::NotFound {
            what: "staff member",
            name: key.to_string(),
            hint: "'touchbot staff list' shows the team",
        }),
        1 => Ok(found.remove(0)),
        _ if exact => Ok(found.remove(0)),
        _ => Err(StoreError::Ambiguous {
            what: "staff member",
            name: key.to_string(),
            candidates: found
                .iter()
                .map(|s| format!("{} (id {})", s.name, s.id))
                .collect(),
        }),
    }
}

/// What `staff update` changes; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct StaffUpdate {
    pub name: Option<String>,
    pub role: Option<StaffRole>,
    pub telegram_user_id: Option<Option<i64>>,
    pub locale: Option<String>,
    pub manager_id: Option<Option<StaffId>>,
}

/// Changes a staff member. Every command and button reads the person afresh, so a new role or
/// Telegram id counts from the next message.
pub async fn update(pool: &PgPool, id: StaffId, change: &StaffUpdate) -> Result<Staff, StoreError> {
    let name = change.name.as_deref().map(str::trim);
    if name == Some("") {
        return Err(StoreError::Invalid(
            "the staff member's name is empty".into(),
        ));
    }
    if change.manager_id == Some(Some(id)) {
        return Err(StoreError::Invalid(
            "a staff member cannot report to themselves".into(),
        ));
    }
    let locale = change.locale.as_deref().map(parse_locale).transpose()?;
    let row = sqlx::query_as!(
        Row,
        r#"update staff set
               name = coalesce($2, name),
               role = coalesce($3, role),
               telegram_user_id = case when $4 then $5 else telegram_user_id end,
               locale = coalesce($6, locale),
               manager_id = case when $7 then $8 else manager_id end
            where id = $1 and removed_at is null
            returning id, name, role, telegram_user_id, locale, manager_id"#,
        id.0,
        name,
        change.role.map(|r| r.as_str()),
        change.telegram_user_id.is_some(),
        change.telegram_user_id.flatten(),
        locale,
        change.manager_id.is_some(),
        change.manager_id.flatten().map(|m| m.0),
    )
    .fetch_optional(pool)
    .await
    .map_err(|e| {
        unique_violation(e, || {
            "another staff member already has that name or Telegram id".to_string()
        })
    })?;
    row.ok_or(StoreError::Corrupt(format!("staff member {id} vanished")))?
        .try_into()
}

/// Removes a staff member: from now on they are a stranger to the bot. Their name stays on
/// the history they made. Refused while they still own accounts, which would otherwise be left
/// without a CSM to alert; the people reporting to them fall back to every CS manager.
pub async fn remove(pool: &PgPool, id: StaffId) -> Result<Staff, StoreError> {
    let mut tx = pool.begin().await?;
    let owned = sqlx::query_scalar!(
        "select name from accounts where csm_id = $1 and lifecycle <> 'churned'
          order by lower(name) for update",
        id.0
    )
    .fetch_all(&mut *tx)
    .await?;
    let row = sqlx::query_as!(
        Row,
        "select id, name, role, telegram_user_id, locale, manager_id from staff
          where id = $1 and removed_at is null for update",
        id.0
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(StoreError::Corrupt(format!("staff member {id} vanished")))?;
    if !owned.is_empty() {
        return Err(StoreError::Invalid(format!(
            "{} still owns {} account(s): {}; give them to another CSM first \
             (`touchbot account update ACCOUNT --csm NAME`), then remove {}",
            row.name,
            owned.len(),
            owned.join(", "),
            row.name
        )));
    }
    sqlx::query!(
        "update staff set manager_id = null where manager_id = $1",
        id.0
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "update staff set removed_at = now(), telegram_user_id = null where id = $1",
        id.0
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    row.try_into()
}
