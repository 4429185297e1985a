//! `touchbot import FILE.csv`: good rows are imported, bad ones reported with their line and
//! reason, against a real PostgreSQL (one fresh database per test).

mod fixtures;

use std::path::PathBuf;

use fixtures::{count, csm, ctx, now};
use sqlx::PgPool;
use touchbot::cli::import_file;
use touchbot::storage::{accounts, contacts};

const HEADER: &str = "name,segment,arr,start,go_live,renewal,csm,time_zone,locale,\
                      contact_name,contact_role,contact_channel,contact_address";

/// Writes `lines` under the header to a file that lives as long as the returned guard.
struct CsvFile(PathBuf);

impl CsvFile {
    fn new(tag: &str, lines: &[&str]) -> CsvFile {
        let path =
            std::env::temp_dir().join(format!("touchbot-import-{tag}-{}.csv", std::process::id()));
        let mut text = String::from(HEADER);
        text.push('\n');
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        CsvFile(path)
    }
}

impl Drop for CsvFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn names(pool: &PgPool) -> Vec<String> {
    accounts::list(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect()
}

fn mixed_rows() -> Vec<&'static str> {
    vec![
        // line 2: good, with a contact and a CSM named by part of her name
        "Northwind,enterprise,180k,2026-03-02,,2027-03-02,aigerim,Asia/Almaty,ru,Dana,champion,whatsapp,+7 701 123-45-67",
        // line 3: a segment that does not exist
        "Globex,gold,10k,2026-03-02,,,,,,,,,",
        // line 4: a date in another format
        "Initech,smb,,03/01/2026,,,,,,,,,",
        // line 5: a CSM nobody knows
        "Umbrella,smb,,2026-03-02,,,zhanna,,,,,,",
        // line 6: a phone number without the country code
        "Hooli,smb,,2026-03-02,,,,,,Gavin,decision_maker,whatsapp,12345",
        // line 7: the first account's name again, in another case
        "NORTHWIND,smb,,2026-03-02,,,,,,,,,",
        // line 8: no name
        ",smb,,2026-03-02,,,,,,,,,",
        // line 9: no start date
        "Stark,smb,,,,,,,,,,,",
        // line 10: the contact's number is Dana's: the account must not stay behind
        "Wayne,smb,,2026-03-02,,,,,,Bruce,user,whatsapp,+77011234567",
        // line 11: good, without a contact
        "Acme,mid_market,50k,2026-03-02,,,,,,,,,",
    ]
}

#[sqlx::test]
async fn good_rows_are_imported_and_each_bad_row_is_reported_with_its_line(pool: PgPool) {
    csm(&pool, "Aigerim Sadykova").await;
    let file = CsvFile::new("mixed", &mixed_rows());
    let report = import_file(&ctx(&pool, now()), &file.0).await.unwrap();

    assert_eq!(report.imported, 2);
    let lines: Vec<u64> = report.refused.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [3, 4, 5, 6, 7, 8, 9, 10]);
    let why = |line: u64| {
        report
            .refused
            .iter()
            .find(|(l, _)| *l == line)
            .map(|(_, w)| w.as_str())
            .unwrap()
    };
    assert_eq!(
        why(3),
        "'gold' is not a segment; use one of: enterprise, mid_market, smb"
    );
    assert_eq!(why(4), "'03/01/2026' is not a date; write it as YYYY-MM-DD");
    assert_eq!(
        why(5),
        "no staff member matches 'zhanna'; 'touchbot staff list' shows the team"
    );
    assert!(why(6).contains("'12345' has no country code"), "{}", why(6));
    assert_eq!(why(7), "an account named 'NORTHWIND' already exists");
    assert_eq!(why(8), "the account name is empty");
    assert_eq!(
        why(9),
        "the start date is empty; write the contract start as YYYY-MM-DD"
    );
    assert_eq!(
        why(10),
        "another contact already uses whatsapp address +77011234567"
    );

    assert_eq!(names(&pool).await, ["Acme", "Northwind"]);
    let northwind = accounts::find(&pool, "northwind").await.unwrap();
    assert_eq!(northwind.arr_cents, 18_000_000);
    assert_eq!(northwind.time_zone, chrono_tz::Asia::Almaty);
    assert_eq!(northwind.locale, "ru");
    assert!(northwind.csm_id.is_some());
    let people = contacts::list(&pool, northwind.id).await.unwrap();
    assert_eq!(people.len(), 1);
    assert_eq!(people[0].address.as_deref(), Some("+77011234567"));
    // Only the imported accounts have contacts and a calendar (Acme's, with nobody to send
    // to, is all skipped).
    assert_eq!(count(&pool, "contacts").await, 1);
    let planned: Vec<(String, i64)> = sqlx::query_as(
        "select a.name, count(*) filter (where t.status = 'planned')
         from touches t join accounts a on a.id = t.account_id group by a.name order by a.name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(planned.len(), 2);
    assert_eq!(planned[0], ("Acme".to_string(), 0));
    assert!(planned[1].1 > 20, "{planned:?}");
}

#[sqlx::test]
async fn importing_the_same_file_again_adds_nothing_and_refuses_the_duplicates(pool: PgPool) {
    csm(&pool, "Aigerim Sadykova").await;
    let file = CsvFile::new("again", &mixed_rows());
    let ctx = ctx(&pool, now());
    import_file(&ctx, &file.0).await.unwrap();
    let touches = count(&pool, "touches").await;

    let again = import_file(&ctx, &file.0).await.unwrap();
    assert_eq!(again.imported, 0);
    assert_eq!(again.refused.len(), 10);
    assert!(
        again
            .refused
            .contains(&(2, "an account named 'Northwind' already exists".to_string()))
    );
    assert!(
        again
            .refused
            .contains(&(11, "an account named 'Acme' already exists".to_string()))
    );
    assert_eq!(names(&pool).await, ["Acme", "Northwind"]);
    assert_eq!(count(&pool, "contacts").await, 1);
    assert_eq!(count(&pool, "touches").await, touches);
}

#[sqlx::test]
async fn a_blank_line_in_the_file_does_not_shift_the_reported_line_numbers(pool: PgPool) {
    let file = CsvFile::new(
        "blank",
        &[
            "Acme,smb,,2026-03-02,,,,,,,,,",
            "",
            "",
            "Globex,gold,,2026-03-02,,,,,,,,,",
            "Initech,smb,,2026-13-01,,,,,,,,,",
        ],
    );
    let report = import_file(&ctx(&pool, now()), &file.0).await.unwrap();
    assert_eq!(report.imported, 1);
    let lines: Vec<u64> = report.refused.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [5, 6]);
}

#[sqlx::test]
async fn a_row_with_missing_columns_is_reported_not_fatal(pool: PgPool) {
    let file = CsvFile::new("short", &["Acme,smb", "Globex,smb,,2026-03-02,,,,,,,,,"]);
    let report = import_file(&ctx(&pool, now()), &file.0).await.unwrap();
    assert_eq!(report.imported, 1);
    assert_eq!(report.refused.len(), 1);
    assert_eq!(
        report.refused[0],
        (
            2,
            "the start date is empty; write the contract start as YYYY-MM-DD".to_string()
        )
    );
    assert_eq!(names(&pool).await, ["Globex"]);
}

#[sqlx::test]
async fn a_file_without_a_required_column_is_refused_as_a_whole(pool: PgPool) {
    let path = std::env::temp_dir().join(format!(
        "touchbot-import-nostart-{}.csv",
        std::process::id()
    ));
    std::fs::write(&path, "name,segment\nAcme,smb\n").unwrap();
    let e = import_file(&ctx(&pool, now()), &path).await.unwrap_err();
    let _ = std::fs::remove_file(&path);
    let store = e.downcast_ref::<touchbot::storage::StoreError>().unwrap();
    assert!(store.is_user_error());
    assert!(
        e.to_string()
            .ends_with("has no column start; the header row needs at least: name, segment, start"),
        "{e}"
    );
    assert_eq!(count(&pool, "accounts").await, 0);
}

/// The undo of a refused row used to be a delete whose failure was ignored; a database that
/// refuses that delete (here a trigger, in life a lost connection) left the account behind.
#[sqlx::test]
async fn a_refused_contact_leaves_no_account_even_when_deleting_would_fail(pool: PgPool) {
    sqlx::query!(
        "create function refuse_delete() returns trigger language plpgsql as
         $$ begin raise exception 'accounts are never deleted here'; end $$"
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query!(
        "create trigger no_account_deletes before delete on accounts
         for each row execute function refuse_delete()"
    )
    .execute(&pool)
    .await
    .unwrap();
    let file = CsvFile::new(
        "undo",
        &[
            "Northwind,smb,,2026-03-02,,,,,,Dana,champion,whatsapp,+77011234567",
            "Wayne,smb,,2026-03-02,,,,,,Bruce,user,whatsapp,+77011234567",
        ],
    );
    let report = import_file(&ctx(&pool, now()), &file.0).await.unwrap();

    assert_eq!(report.imported, 1);
    assert_eq!(report.refused.len(), 1, "{:?}", report.refused);
    assert_eq!(names(&pool).await, ["Northwind"]);
}
