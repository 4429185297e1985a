//! Operating touchbot: which commands may change the schema, and managing staff access, run
//! through the built program against a fresh database each.

mod fixtures;

use std::process::Command;

use sqlx::PgPool;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn url_of(pool: &PgPool) -> String {
    let db = pool
        .connect_options()
        .get_database()
        .expect("the test database has a name")
        .to_string();
    format!("postgres://postgres@127.0.0.1:5432/{db}")
}

fn touchbot(pool: &PgPool, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_touchbot"))
        .args(args)
        .env("DATABASE_URL", url_of(pool))
        .env_remove("TOUCHBOT_CONFIG")
        .env_remove("TOUCHBOT_LOG")
        .output()
        .expect("the touchbot binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(pool: &PgPool, args: &[&str]) -> String {
    let run = touchbot(pool, args);
    assert_eq!(run.code, 0, "touchbot {args:?} failed:\n{run:?}");
    run.stdout
}

fn refused(pool: &PgPool, args: &[&str]) -> String {
    let run = touchbot(pool, args);
    assert_eq!(run.code, 2, "touchbot {args:?}:\n{run:?}");
    run.stderr
}

async fn has_table(pool: &PgPool, name: &str) -> bool {
    sqlx::query_scalar!(r#"select to_regclass($1) is not null as "exists!""#, name)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_command_on_an_unmigrated_database_says_to_run_migrate_and_changes_nothing(pool: PgPool) {
    let err = refused(&pool, &["status"]);
    assert!(err.contains("run `touchbot migrate`"), "{err}");
    assert!(
        !has_table(&pool, "accounts").await,
        "status migrated the database"
    );

    let err = refused(&pool, &["serve"]);
    assert!(err.contains("run `touchbot migrate`"), "{err}");

    ok(&pool, &["migrate"]);
    ok(&pool, &["status"]);
}

#[sqlx::test]
async fn a_database_newer_than_the_binary_is_refused_as_such(pool: PgPool) {
    sqlx::query!(
        "insert into _sqlx_migrations (version, description, success, checksum, execution_time)
         values (99990101, 'from a newer touchbot', true, '\\x00', 1)"
    )
    .execute(&pool)
    .await
    .unwrap();
    let err = refused(&pool, &["account", "list"]);
    assert!(err.contains("older than the database"), "{err}");
    let err = refused(&pool, &["serve"]);
    assert!(err.contains("older than the database"), "{err}");
}
