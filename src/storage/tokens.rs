//! Bearer tokens of the integration API. A token is shown once when created; only its SHA-256
//! is stored, so a leaked database does not leak working tokens, and a presented token is
//! found by looking its hash up (no comparison of secrets in our code).

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::{StoreError, unique_violation};

/// Every token starts with this, so one pasted into the wrong place is recognised (and secret
/// scanners can match it).
pub const PREFIX: &str = "tb_";

/// A token as listed: never the token itself.
#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token just created: the secret is here once, to be shown to the operator.
pub struct IssuedToken {
    pub token: ApiToken,
    pub secret: SecretString,
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn check_name(name: &str) -> Result<String, StoreError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(StoreError::Invalid(
            "a token name is 1 to 100 characters, such as 'crm' or 'product-usage'".into(),
        ));
    }
    if name.parse::<i64>().is_ok() {
        return Err(StoreError::Invalid(format!(
            "'{name}' looks like an id; give the token a name with at least one letter"
        )));
    }
    Ok(name.to_string())
}

/// Creates a token named `name` (unique among the tokens not revoked).
pub async fn create(
    pool: &PgPool,
    name: &str,
    now: DateTime<Utc>,
) -> Result<IssuedToken, StoreError> {
    let name = check_name(name)?;
    let secret = format!("{PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()));
    let token = sqlx::query_as!(
        ApiToken,
        "insert into api_tokens (name, hash, created_at) values ($1, $2, $3)
         returning id, name, created_at, last_used_at, revoked_at",
        name,
        hash(&secret),
        now
    )
    .fetch_one(pool)
    .await
    .map_err(|e| {
        unique_violation(e, || {
            format!("a token named '{name}' already works; revoke it first or pick another name")
        })
    })?;
    Ok(IssuedToken {
        token,
        secret: SecretString::from(secret),
    })
}

/// Every token, the working ones first, then by creation.
pub async fn list(pool: &PgPool) -> Result<Vec<ApiToken>, StoreError> {
    Ok(sqlx::query_as!(
        ApiToken,
        "select id, name, created_at, last_used_at, revoked_at from api_tokens
         order by revoked_at is not null, created_at, id"
    )
    .fetch_all(pool)
    .await?)
}

/// Revokes the working token with this name, or the token with this id. Revoking a revoked
/// token changes nothing and says so.
pub async fn revoke(pool: &PgPool, key: &str, now: DateTime<Utc>) -> Result<ApiToken, StoreError> {
    let key = key.trim();
    let id = key.parse::<i64>().ok();
    let found = sqlx::query_as!(
        ApiToken,
        "select id, name, created_at, last_used_at, revoked_at from api_tokens
         where id = $1 or (name = $2 and revoked_at is null)
         order by (id = $1) desc limit 1",
        id,
        key
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| StoreError::NotFound {
        what: "working token",
        name: key.to_string(),
        hint: "'touchbot token list' shows them",
    })?;
    if found.revoked_at.is_some() {
        return Err(StoreError::Invalid(format!(
            "token {} ('{}') is already revoked",
            found.id, found.name
        )));
    }
    Ok(sqlx::query_as!(
        ApiToken,
        "update api_tokens set revoked_at = $2 where id = $1
         returning id, name, created_at, last_used_at, revoked_at",
        found.id,
        now
    )
    .fetch_one(pool)
    .await?)
}

/// The working token a request presented, noting its use; `None` for an unknown or revoked one.
/// The use is written at most once a minute per token: a busy integration would otherwise
/// write the same row on every request, and `token list` needs no finer time.
pub async fn authenticate(
    pool: &PgPool,
    presented: &SecretString,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    let presented = presented.expose_secret();
    if !presented.starts_with(PREFIX) {
        return Ok(None);
    }
    Ok(sqlx::query_scalar!(
        r#"with found as (
               select id, last_used_at from api_tokens where hash = $1 and revoked_at is null
           ), noted as (
               update api_tokens t set last_used_at = $2
                 from found f
                where t.id = f.id
                  and (f.last_used_at is null or f.last_used_at < $2::timestamptz - interval '1 minute')
           )
           select id as "id!" from found"#,
        hash(presented),
        now
    )
    .fetch_optional(pool)
    .await?)
}
