//! The last step of an erasure: every text, text[] and jsonb column of every table is searched
//! for the person's name, address and words, and what is found is replaced. The targeted steps
//! before it decide what to delete; this makes sure that quotations elsewhere (escalation
//! evidence, cards, digests, signal details, keys built from a chat id) go too, including in
//! tables added after this was written.

use anyhow::Context as _;
// Table and column names come from the catalog and are quoted by `ident`; values are bound.
use sqlx::{AssertSqlSafe, PgConnection, Row as _};

use super::redact::Needles;

enum Kind {
    Text,
    TextArray,
    Json,
}

struct Column {
    table: String,
    column: String,
    kind: Kind,
}

/// Rows redacted per table.
pub async fn sweep(
    tx: &mut PgConnection,
    needles: &Needles,
    token: &str,
) -> anyhow::Result<Vec<(String, u64)>> {
    let mut per_table: Vec<(String, u64)> = Vec::new();
    if needles.is_empty() {
        return Ok(per_table);
    }
    for col in columns(&mut *tx).await? {
        let n = sweep_column(&mut *tx, &col, needles, token)
            .await
            .with_context(|| format!("redacting {}.{}", col.table, col.column))?;
        if n == 0 {
            continue;
        }
        match per_table.iter_mut().find(|(t, _)| *t == col.table) {
            Some((_, total)) => *total += n,
            None => per_table.push((col.table.clone(), n)),
        }
    }
    Ok(per_table)
}

async fn columns(tx: &mut PgConnection) -> anyhow::Result<Vec<Column>> {
    let rows = sqlx::query(
        r#"select c.table_name::text as t, c.column_name::text as c, c.udt_name::text as u
             from information_schema.columns c
             join information_schema.tables t
               on t.table_schema = c.table_schema and t.table_name = c.table_name
            where c.table_schema = current_schema() and t.table_type = 'BASE TABLE'
              and c.udt_name in ('text', 'varchar', 'jsonb', '_text')
              and c.table_name not like '\_sqlx%'
            order by 1, 2"#,
    )
    .fetch_all(tx)
    .await
    .context("listing the text columns of the schema")?;
    Ok(rows
        .into_iter()
        .map(|r| Column {
            table: r.get("t"),
            column: r.get("c"),
            kind: match r.get::<String, _>("u").as_str() {
                "jsonb" => Kind::Json,
                "_text" => Kind::TextArray,
                _ => Kind::Text,
            },
        })
        .collect())
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn sweep_column(
    tx: &mut PgConnection,
    col: &Column,
    needles: &Needles,
    token: &str,
) -> anyhow::Result<u64> {
    let (t, c) = (ident(&col.table), ident(&col.column));
    // A cheap superset first (any occurrence at all); whole-word matching is decided in Rust.
    let select = format!(
        "select ctid::text as at, {c} as v from {t}
          where exists (select 1 from unnest($1::text[]) n where strpos({c}::text, n) > 0)"
    );
    let update = format!("update {t} set {c} = $1 where ctid = $2::tid");
    let rows = sqlx::query(AssertSqlSafe(select.as_str()))
        .bind(needles.as_slice())
        .fetch_all(&mut *tx)
        .await?;
    let mut changed = 0;
    for row in rows {
        let at: String = row.get("at");
        let query = match col.kind {
            Kind::Text => match needles.redact(&row.get::<String, _>("v"), token) {
                Some(v) => sqlx::query(AssertSqlSafe(update.as_str())).bind(v),
                None => continue,
            },
            Kind::Json => match needles.redact_json(&row.get::<serde_json::Value, _>("v"), token) {
                Some(v) => sqlx::query(AssertSqlSafe(update.as_str())).bind(v),
                None => continue,
            },
            Kind::TextArray => {
                let old: Vec<String> = row.get("v");
                let new: Vec<String> = old
                    .iter()
                    .map(|s| needles.redact(s, token).unwrap_or_else(|| s.clone()))
                    .collect();
                if new == old {
                    continue;
                }
                sqlx::query(AssertSqlSafe(update.as_str())).bind(new)
            }
        };
        query.bind(at).execute(&mut *tx).await?;
        changed += 1;
    }
    Ok(changed)
}
