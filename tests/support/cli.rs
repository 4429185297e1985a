//! The touchbot binary run as an operator would, against a test's database.

use sqlx::PgPool;

/// Runs `touchbot ARGS` against the test's database; returns what it printed, after checking
/// that it succeeded.
pub fn touchbot_ok(pool: &PgPool, args: &[&str]) -> String {
    let db = pool.connect_options().get_database().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_touchbot"))
        .args(args)
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:5432/{db}"),
        )
        .env_remove("TOUCHBOT_CONFIG")
        .env_remove("TOUCHBOT_LOG")
        .output()
        .expect("the touchbot binary runs");
    assert!(out.status.success(), "touchbot {args:?} failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}
