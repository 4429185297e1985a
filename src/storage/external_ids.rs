//! The CRM's own id of an account (`accounts.external_id`): an integrator's sync upserts by
//! it, so running the same nightly sync twice leaves one account.

use std::collections::HashMap;

use sqlx::PgPool;

use super::StoreError;
use super::accounts::{self, Account, AccountUpdate, NewAccount};
use crate::domain::AccountId;

pub fn check(external_id: &str) -> Result<&str, StoreError> {
    let id = external_id.trim();
    if id.is_empty() || id.chars().count() > 200 {
        return Err(StoreError::field(
            "external_id",
            "an external id is 1 to 200 characters: the account's id in your CRM",
        ));
    }
    Ok(id)
}

/// The account carrying this external id.
pub async fn find(pool: &PgPool, external_id: &str) -> Result<Option<AccountId>, StoreError> {
    let id = sqlx::query_scalar!(
        "select id from accounts where external_id = $1",
        external_id.trim()
    )
    .fetch_optional(pool)
    .await?;
    Ok(id.map(AccountId))
}

/// The external ids of these accounts (those that have one), for a page of a listing.
pub async fn of_each(
    pool: &PgPool,
    ids: &[AccountId],
) -> Result<HashMap<AccountId, String>, StoreError> {
    let ids: Vec<i64> = ids.iter().map(|a| a.0).collect();
    let rows = sqlx::query!(
        r#"select id, external_id as "external_id!" from accounts
            where id = any($1) and external_id is not null"#,
        &ids
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (AccountId(r.id), r.external_id))
        .collect())
}

pub async fn of(pool: &PgPool, id: AccountId) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar!("select external_id from accounts where id = $1", id.0)
            .fetch_optional(pool)
            .await?
            .flatten(),
    )
}

/// Creates the account with this external id, or brings the existing one to `fields`.
/// Returns the account and whether it was created. Two syncs racing on one id are serialised
/// by a lock on the id, so they cannot create it twice.
pub async fn upsert(
    pool: &PgPool,
    external_id: &str,
    fields: &NewAccount,
) -> Result<(Account, bool), StoreError> {
    let external_id = check(external_id)?;
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended('account-external-id:' || $1, 0))",
        external_id
    )
    .execute(&mut *tx)
    .await?;
    let existing = sqlx::query_scalar!(
        "select id from accounts where external_id = $1",
        external_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = existing {
        tx.commit().await?;
        let account = accounts::update(pool, AccountId(id), &replacing(fields)).await?;
        return Ok((account, false));
    }
    let account = accounts::create(&mut *tx, fields).await?;
    sqlx::query!(
        "update accounts set external_id = $2 where id = $1",
        account.id.0,
        external_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((account, true))
}

/// An update setting every field to the given ones (an absent date clears it), as a sync of
/// the whole record means.
fn replacing(f: &NewAccount) -> AccountUpdate {
    AccountUpdate {
        name: Some(f.name.clone()),
        segment: Some(f.segment),
        arr_cents: Some(f.arr_cents),
        contract_start: Some(f.contract_start),
        go_live: Some(f.go_live),
        renewal_date: Some(f.renewal_date),
        csm_id: Some(f.csm_id),
        time_zone: Some(f.time_zone.clone()),
        locale: Some(f.locale.clone()),
        lifecycle: None,
    }
}

/// Sets (or with `None` clears) an account's external id.
pub async fn set(
    pool: &PgPool,
    id: AccountId,
    external_id: Option<&str>,
) -> Result<(), StoreError> {
    let external_id = external_id.map(check).transpose()?;
    sqlx::query!(
        "update accounts set external_id = $2 where id = $1",
        id.0,
        external_id
    )
    .execute(pool)
    .await
    .map_err(|e| {
        super::unique_violation(e, || {
            format!(
                "another account already has the external id '{}'",
                external_id.unwrap_or_default()
            )
        })
    })?;
    Ok(())
}
