//! Connecting to PostgreSQL and bringing its schema up to date.

use std::str::FromStr as _;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The migrations in `./migrations`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Every connection plans each statement for the values it is given, without JIT.
///
/// The queries that name accounts take either a list or a range (`$ids is null or
/// account_id = any($ids)`, see `domain::Accounts`). PostgreSQL switches a statement that a
/// connection keeps prepared to a generic plan after five runs when it looks no dearer, and a
/// generic plan cannot use an index for such a condition: the reassessment of one reply
/// batch was seen walking the 90-day window of every account's asked touches (30,000 index
/// entries read for 300 kept at 10,000 accounts, 35-170 ms; ten times that at 100,000). JIT
/// compiled such plans for longer than they ran (BENCHMARKS.md).
const PLANNING: [(&str, &str); 2] = [("plan_cache_mode", "force_custom_plan"), ("jit", "off")];

/// `options` with the planning every connection of touchbot's gets (see [`PLANNING`]).
pub fn planned(options: PgConnectOptions) -> PgConnectOptions {
    options.options(PLANNING)
}

pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url)
        .context("DATABASE_URL is not a PostgreSQL URL (postgres://user@host:port/database)")?;
    let options = planned(options);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_with(options)
        .await
        .context("could not connect to PostgreSQL (check DATABASE_URL)")
}

/// Whether a chunk pool's commits wait for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commits {
    Durable,
    /// `synchronous_commit = off`: an OS crash can lose the last commits, in order, never a
    /// part of one. Only for work the next run redoes.
    Unwaited,
}

/// The connections of a job that works through the portfolio a chunk of accounts at a time.
/// Each query is planned for its chunk (`force_custom_plan`): a generic plan cannot tell a
/// chunk from the whole portfolio, and one that reads whole tables was seen chosen after
/// five runs. No JIT: the chunk queries look costly to the planner, and compiling them took
/// longer than running them. The callers say what they measured.
pub async fn chunk_pool(
    pool: &PgPool,
    connections: u32,
    commits: Commits,
    job: &str,
) -> anyhow::Result<PgPool> {
    let mut settings = PLANNING.to_vec();
    if commits == Commits::Unwaited {
        settings.push(("synchronous_commit", "off"));
    }
    let options = (*pool.connect_options()).clone().options(settings);
    PgPoolOptions::new()
        .max_connections(connections)
        .connect_with(options)
        .await
        .with_context(|| format!("connecting for the {job}"))
}

pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .context("could not apply the database migrations")
}

/// Why a command other than `migrate` will not run against this database.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "the database schema is behind this version of touchbot ({missing} migration(s) not applied, the first being {first}); run `touchbot migrate` first"
    )]
    Behind { missing: usize, first: String },
    #[error(
        "the database has migration {version} that this touchbot does not know: the binary is older than the database; run a newer touchbot (nothing was changed)"
    )]
    Ahead { version: i64 },
    #[error(
        "migration {version} failed part-way in this database; fix the cause and run `touchbot migrate`"
    )]
    Dirty { version: i64 },
}

/// Refuses a schema this binary was not built for, without changing it: a newer CLI must
/// never migrate production under an older `serve`, and an older one must not write into
/// tables it does not understand. Only `touchbot migrate` (and the demo) apply migrations.
pub async fn check_schema(pool: &PgPool) -> anyhow::Result<()> {
    let has_table =
        sqlx::query_scalar!(r#"select to_regclass('_sqlx_migrations') is not null as "exists!""#)
            .fetch_one(pool)
            .await
            .context("could not read the database's schema version")?;
    let applied = if has_table {
        sqlx::query!("select version, success from _sqlx_migrations order by version")
            .fetch_all(pool)
            .await
            .context("could not read the applied migrations")?
            .into_iter()
            .map(|r| (r.version, r.success))
            .collect()
    } else {
        Vec::new()
    };
    compare(&applied)?;
    Ok(())
}

fn compare(applied: &[(i64, bool)]) -> Result<(), SchemaError> {
    let known: Vec<(i64, &str)> = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| (m.version, m.description.as_ref()))
        .collect();
    if let Some((version, _)) = applied.iter().find(|(_, ok)| !ok) {
        return Err(SchemaError::Dirty { version: *version });
    }
    if let Some((version, _)) = applied
        .iter()
        .find(|(v, _)| !known.iter().any(|(k, _)| k == v))
    {
        return Err(SchemaError::Ahead { version: *version });
    }
    let missing: Vec<String> = known
        .iter()
        .filter(|(k, _)| !applied.iter().any(|(v, _)| v == k))
        .map(|(k, d)| format!("{k:04} {d}"))
        .collect();
    match missing.first() {
        Some(first) => Err(SchemaError::Behind {
            missing: missing.len(),
            first: first.clone(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_applied() -> Vec<(i64, bool)> {
        MIGRATOR.iter().map(|m| (m.version, true)).collect()
    }

    #[test]
    fn a_database_with_every_migration_is_accepted() {
        assert!(compare(&all_applied()).is_ok());
    }

    #[test]
    fn a_database_missing_the_last_migration_is_behind() {
        let mut applied = all_applied();
        applied.pop();
        assert!(matches!(
            compare(&applied),
            Err(SchemaError::Behind { missing: 1, .. })
        ));
    }

    #[test]
    fn a_database_with_an_unknown_migration_is_ahead() {
        let mut applied = all_applied();
        applied.push((99_990_101, true));
        assert!(matches!(
            compare(&applied),
            Err(SchemaError::Ahead {
                version: 99_990_101
            })
        ));
    }
}
