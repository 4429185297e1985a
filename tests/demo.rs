//! The first-run experience: `touchbot demo` tells a year's story through the real code.

use std::process::Command;

use sqlx::{Connection, PgConnection};

fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn drop_database(name: &str) {
    if let Ok(mut conn) = PgConnection::connect(&server_url()).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "drop database if exists {name} with (force)"
        )))
        .execute(&mut conn)
        .await;
    }
}

#[tokio::test]
async fn the_demo_runs_a_season_of_touches_and_ends_with_the_portfolio() {
    let name = format!("touchbot_demo_test_{}", std::process::id());
    let out = Command::new(env!("CARGO_BIN_EXE_touchbot"))
        .args(["demo", "--days", "200", "--database-name", &name])
        .env("DATABASE_URL", server_url())
        .output()
        .expect("the binary runs");
    drop_database(&name).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Real touches went out in each recipient's local time...
    assert!(
        stdout.contains("Northwind Logistics: → Askar Nurlanov: welcome  [10:00 Asia/Almaty]"),
        "{stdout}"
    );
    // ...answers came back through the inbound path and were understood...
    assert!(
        stdout.contains("(NPS 4, detractor)")
            || stdout.contains("(NPS 3, detractor)")
            || stdout.contains("(NPS 5, detractor)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("opted out of surveys and check-ins"),
        "{stdout}"
    );
    // ...a blocked contact was marked unreachable, the staged crash was recovered...
    assert!(
        stdout.contains("can no longer be reached (blocked)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("confirmed as delivered by the channel and marked sent"),
        "{stdout}"
    );
    // ...WhatsApp's window held: a contact silent for a day got the approved template, one who
    // had just written got free text...
    assert!(
        stdout.contains(
            "→ Askar Nurlanov: welcome  [10:00 Asia/Almaty] as template touchbot_welcome"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("→ Askar Nurlanov: NPS survey  [10:00 Asia/Almaty]\n"),
        "the NPS after his question goes as free text: {stdout}"
    );
    let forms = stdout
        .lines()
        .find(|l| l.contains("to WhatsApp contacts:"))
        .expect("the summary counts the WhatsApp forms");
    assert!(!forms.contains(" 0 as templates"), "{forms}");
    assert!(!forms.contains(" 0 as free text"), "{forms}");
    // ...and nothing was sent twice.
    assert!(stdout.contains("sent twice: 0;"), "{stdout}");
    assert!(stdout.contains("Portfolio on "), "{stdout}");
}

#[tokio::test]
async fn the_demo_refuses_a_database_name_it_cannot_use_safely() {
    let out = Command::new(env!("CARGO_BIN_EXE_touchbot"))
        .args(["demo", "--database-name", "demo; drop table x"])
        .env("DATABASE_URL", server_url())
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("may only hold a-z, 0-9 and _"));
}
