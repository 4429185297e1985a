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

/// Aigerim (CSM, Telegram 111) owns Northwind; Bolat (CSM) owns nothing; Vera is the VP.
fn team(pool: &PgPool) {
    for args in [
        &[
            "--name",
            "Aigerim Sadykova",
            "--role",
            "csm",
            "--telegram-id",
            "111",
        ][..],
        &[
            "--name",
            "Bolat Nurlan",
            "--role",
            "csm",
            "--telegram-id",
            "222",
        ],
        &["--name", "Vera Ivanova", "--role", "vp"],
    ] {
        ok(pool, &[&["staff", "add"][..], args].concat());
    }
    ok(
        pool,
        &[
            "account",
            "add",
            "--name",
            "Northwind",
            "--segment",
            "smb",
            "--start",
            "2026-03-02",
            "--csm",
            "aigerim",
        ],
    );
}

#[sqlx::test]
async fn a_removed_csm_is_a_stranger_to_the_bot_at_once(pool: PgPool) {
    team(&pool);
    let settings = touchbot::config::Settings::default();
    let asks = |from: i64| {
        touchbot::chat::staff_command(&pool, &settings, from, "/status", fixtures::now())
    };
    assert_ne!(asks(222).await, [touchbot::chat::REFUSAL]);

    let out = ok(&pool, &["staff", "remove", "bolat"]);
    assert!(out.contains("Removed Bolat Nurlan"), "{out}");

    assert_eq!(asks(222).await, [touchbot::chat::REFUSAL]);
    let tap = touchbot::chat::press(&pool, &settings, "esc:1:take", 222, fixtures::now()).await;
    assert_eq!(tap.notice, touchbot::chat::identity::BUTTON_REFUSAL);
    let list = ok(&pool, &["staff", "list"]);
    assert!(!list.contains("Bolat"), "{list}");
    let status = ok(&pool, &["status"]);
    assert!(!status.contains("Bolat"), "{status}");
    let err = refused(&pool, &["staff", "update", "bolat", "--role", "vp"]);
    assert!(err.contains("no staff member matches 'bolat'"), "{err}");
    // The name and the Telegram id are free again for someone new.
    ok(
        &pool,
        &[
            "staff",
            "add",
            "--name",
            "Bolat Nurlan",
            "--role",
            "csm",
            "--telegram-id",
            "222",
        ],
    );
}

#[sqlx::test]
async fn a_csm_who_still_owns_accounts_is_removed_only_after_they_are_reassigned(pool: PgPool) {
    team(&pool);
    let err = refused(&pool, &["staff", "remove", "aigerim"]);
    assert!(err.contains("still owns 1 account(s): Northwind"), "{err}");
    assert!(err.contains("touchbot account update"), "{err}");
    assert!(ok(&pool, &["staff", "list"]).contains("Aigerim"));

    ok(&pool, &["account", "update", "northwind", "--csm", "bolat"]);
    ok(&pool, &["staff", "remove", "aigerim"]);
    assert!(!ok(&pool, &["staff", "list"]).contains("Aigerim"));
}

#[sqlx::test]
async fn staff_update_changes_role_telegram_id_and_manager_at_once(pool: PgPool) {
    team(&pool);
    let settings = touchbot::config::Settings::default();
    let out = ok(
        &pool,
        &[
            "staff",
            "update",
            "bolat",
            "--role",
            "cs_manager",
            "--telegram-id",
            "333",
            "--manager",
            "vera",
            "--name",
            "Bolat N.",
        ],
    );
    assert!(out.contains("Updated Bolat N. (cs_manager)"), "{out}");
    let status = |from: i64| {
        touchbot::chat::staff_command(&pool, &settings, from, "/status", fixtures::now())
    };
    assert_eq!(status(222).await, [touchbot::chat::REFUSAL]);
    assert_ne!(status(333).await, [touchbot::chat::REFUSAL]);
    let list = ok(&pool, &["staff", "list"]);
    assert!(list.contains("Bolat N."), "{list}");
    assert!(list.contains("Vera Ivanova"), "{list}");

    ok(
        &pool,
        &[
            "staff",
            "update",
            "bolat",
            "--telegram-id",
            "none",
            "--manager",
            "none",
        ],
    );
    assert_eq!(status(333).await, [touchbot::chat::REFUSAL]);
    let err = refused(&pool, &["staff", "update", "bolat", "--telegram-id", "abc"]);
    assert!(err.contains("not a Telegram user id"), "{err}");
}

#[sqlx::test]
async fn only_the_accounts_csm_a_cs_manager_or_a_vp_may_resolve_as_churned(pool: PgPool) {
    team(&pool);
    let out = ok(
        &pool,
        &[
            "signal",
            "add",
            "--account",
            "north",
            "--kind",
            "sponsor_left",
        ],
    );
    assert!(out.contains("opened"), "{out}");
    let resolve = |by: &str, outcome: &str| {
        touchbot(
            &pool,
            &[
                "escalation",
                "resolve",
                "1",
                "--by",
                by,
                "--outcome",
                outcome,
            ],
        )
    };

    let other_csm = resolve("bolat", "churned:price");
    assert_eq!(other_csm.code, 2, "{other_csm:?}");
    assert!(
        other_csm
            .stderr
            .contains("only the account's CSM, a CS manager or a VP"),
        "{other_csm:?}"
    );
    let list = ok(&pool, &["account", "list"]);
    assert!(!list.contains("churned"), "{list}");

    let vp = resolve("vera", "churned:price");
    assert_eq!(vp.code, 0, "{vp:?}");
    assert!(vp.stdout.contains("now marked churned"), "{vp:?}");
}

#[sqlx::test]
async fn every_connection_touchbot_opens_plans_each_statement_for_its_values_without_jit(
    pool: PgPool,
) {
    let touchbot = touchbot::db::connect(&url_of(&pool), 2).await.unwrap();
    let (first, second) = (touchbot.acquire().await, touchbot.acquire().await);
    for mut conn in [first.unwrap(), second.unwrap()] {
        let (plans, jit): (String, String) =
            sqlx::query_as("select current_setting('plan_cache_mode'), current_setting('jit')")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        assert_eq!(plans, "force_custom_plan");
        assert_eq!(jit, "off");
    }
    let (plans,): (String,) = sqlx::query_as("select current_setting('plan_cache_mode')")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(plans, "auto", "the server's own default is left alone");
}
