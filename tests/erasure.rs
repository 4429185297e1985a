//! Erasing a contact (the right to be forgotten), through the real binary and database: after
//! it, no table holds the person's name, address, words or WhatsApp profile name, while their
//! anonymous answers still count.

mod support;

use sqlx::{PgPool, Row as _};
use support::cli::touchbot_ok;
use support::erasure::{NAME, TRACES, WORDS, a_person_known_everywhere, where_found};

fn erase(pool: &PgPool, id: i64) -> std::process::Output {
    let db = pool.connect_options().get_database().unwrap().to_string();
    std::process::Command::new(env!("CARGO_BIN_EXE_touchbot"))
        .args(["contact", "erase", &id.to_string()])
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:5432/{db}"),
        )
        .env_remove("TOUCHBOT_CONFIG")
        .output()
        .unwrap()
}

#[sqlx::test]
async fn after_erasure_no_table_holds_the_persons_name_address_or_words(pool: PgPool) {
    let id = a_person_known_everywhere(&pool).await;
    for trace in TRACES {
        assert!(
            !where_found(&pool, trace).await.is_empty(),
            "the fixture puts '{trace}' somewhere"
        );
    }

    let printed = touchbot_ok(&pool, &["contact", "erase", &id.to_string(), "--yes"]);

    assert!(
        printed.contains(&format!("Erased contact {id}")),
        "{printed}"
    );
    for table in [
        "replies",
        "whatsapp_events",
        "strangers",
        "escalations",
        "consent_changes",
    ] {
        assert!(
            printed.contains(table),
            "the report names {table}:\n{printed}"
        );
    }
    for trace in TRACES {
        let left = where_found(&pool, trace).await;
        assert!(left.is_empty(), "'{trace}' is still in {left:?}");
    }
}

#[sqlx::test]
async fn the_erased_contact_stays_as_a_tombstone_whose_answers_still_count(pool: PgPool) {
    let id = a_person_known_everywhere(&pool).await;
    touchbot_ok(&pool, &["contact", "erase", &id.to_string(), "--yes"]);

    let row = sqlx::query("select name, address, erased_at is not null as erased, removed_at is not null as removed from contacts where id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        row.get::<String, _>("name"),
        format!("erased contact #{id}")
    );
    assert_eq!(row.get::<Option<String>, _>("address"), None);
    assert!(row.get::<bool, _>("erased") && row.get::<bool, _>("removed"));
    let (kind, score, body): (String, Option<i16>, String) =
        sqlx::query_as("select kind, score, body from replies where contact_id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((kind.as_str(), score, body.as_str()), ("nps", Some(3), ""));
    let waiting: i64 = sqlx::query_scalar(
        "select count(*) from touches where contact_id = $1 and status in ('planned', 'claimed')",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(waiting, 0, "nothing is left to send to an erased contact");
    let health: i64 = sqlx::query_scalar("select count(*) from health_scores")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(health, 1, "health history stays");
}

#[sqlx::test]
async fn the_other_contacts_of_the_account_keep_everything(pool: PgPool) {
    let id = a_person_known_everywhere(&pool).await;
    touchbot_ok(&pool, &["contact", "erase", &id.to_string(), "--yes"]);

    assert!(!where_found(&pool, "Annabel Other").await.is_empty());
    assert!(
        !where_found(&pool, "delighted with the reports")
            .await
            .is_empty()
    );
    assert!(!where_found(&pool, "79990003344").await.is_empty());
}

#[sqlx::test]
async fn without_yes_nothing_is_erased_and_the_command_says_how_to_go_ahead(pool: PgPool) {
    let id = a_person_known_everywhere(&pool).await;

    let out = erase(&pool, id);

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--yes") && stderr.contains(NAME),
        "{stderr}"
    );
    assert!(!where_found(&pool, WORDS).await.is_empty());
}

#[sqlx::test]
async fn erasing_twice_changes_nothing_the_second_time_and_an_unknown_id_is_refused(pool: PgPool) {
    let id = a_person_known_everywhere(&pool).await;
    touchbot_ok(&pool, &["contact", "erase", &id.to_string(), "--yes"]);

    let again = touchbot_ok(&pool, &["contact", "erase", &id.to_string(), "--yes"]);
    assert!(again.contains("already erased"), "{again}");

    let report = touchbot::storage::erasure::erase_contact(&pool, touchbot::domain::ContactId(id))
        .await
        .unwrap();
    assert!(report.already_erased && report.changes.is_empty());
    let unknown = erase(&pool, 999_999);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("contact list"));
}
