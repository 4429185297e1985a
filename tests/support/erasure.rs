//! A person known everywhere a real installation would have them (tests/fixtures/erasure.sql),
//! and the table-by-table search that proves an erasure left no trace of them.

use sqlx::{PgPool, Row as _};

pub const NAME: &str = "Zebulon Quartermaine";
pub const WORDS: &str = "the invoices are a mess-xq";
pub const PROFILE: &str = "Zeb Q";
/// What must be found nowhere after the erasure (the phone also as WhatsApp writes it).
pub const TRACES: &[&str] = &["Zebulon", "79990001122", "invoices are a mess", PROFILE];

/// An account with the person everywhere a real installation would have them, and a second
/// contact whose data must survive. Returns the person's contact id.
pub async fn a_person_known_everywhere(pool: &PgPool) -> i64 {
    sqlx::raw_sql(include_str!("../fixtures/erasure.sql"))
        .execute(pool)
        .await
        .expect("the erasure fixture loads");
    sqlx::query_scalar("select id from contacts where name = $1")
        .bind(NAME)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Every (table, column) of text, text[] or jsonb type holding `needle`.
pub async fn where_found(pool: &PgPool, needle: &str) -> Vec<String> {
    let columns = sqlx::query(
        "select c.table_name::text as t, c.column_name::text as c
           from information_schema.columns c
           join information_schema.tables t using (table_schema, table_name)
          where c.table_schema = current_schema() and t.table_type = 'BASE TABLE'
            and c.udt_name in ('text', 'varchar', 'jsonb', '_text', 'json')",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(columns.len() > 40, "the schema's text columns are listed");
    let mut found = Vec::new();
    for col in columns {
        let (t, c): (String, String) = (col.get("t"), col.get("c"));
        let sql = format!(
            "select count(*) from \"{t}\" where strpos(lower(\"{c}\"::text), lower($1)) > 0"
        );
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(needle)
            .fetch_one(pool)
            .await
            .unwrap();
        if n > 0 {
            found.push(format!("{t}.{c} ({n} rows)"));
        }
    }
    found
}
