//! `touchbot import accounts.csv`: bulk load from a CRM export. A bad row is reported with its
//! line and reason and never stops the others.

use std::path::PathBuf;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

use super::{parse_arr, parse_date};
use crate::app::Ctx;
use crate::domain::{ChannelKind, ContactRole, Segment};
use crate::storage::{accounts, contacts, staff};

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// CSV with a header row. Columns: name, segment, arr, start, go_live, renewal, csm,
    /// time_zone, locale, contact_name, contact_role, contact_channel, contact_address
    /// (only name, segment and start are required).
    pub file: PathBuf,
}

#[derive(Debug, Deserialize)]
struct CsvRow {
    name: String,
    segment: String,
    #[serde(default)]
    arr: Option<String>,
    start: String,
    #[serde(default)]
    go_live: Option<String>,
    #[serde(default)]
    renewal: Option<String>,
    #[serde(default)]
    csm: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    contact_name: Option<String>,
    #[serde(default)]
    contact_role: Option<String>,
    #[serde(default)]
    contact_channel: Option<String>,
    #[serde(default)]
    contact_address: Option<String>,
}

/// What happened to the file, row by row.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: usize,
    /// (line in the file, why the row was refused)
    pub refused: Vec<(u64, String)>,
}

fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

pub async fn run(ctx: &Ctx, args: ImportArgs) -> anyhow::Result<()> {
    let report = import_file(ctx, &args.file).await?;
    println!("Imported {} accounts.", report.imported);
    if !report.refused.is_empty() {
        println!("Refused {} rows:", report.refused.len());
        for (line, why) in &report.refused {
            println!("  line {line}: {why}");
        }
    }
    Ok(())
}

pub async fn import_file(ctx: &Ctx, path: &std::path::Path) -> anyhow::Result<ImportReport> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let rows: Vec<_> = reader.deserialize::<CsvRow>().collect();
    let bar = ProgressBar::new(rows.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows {msg}")
            .expect("the progress template is valid"),
    );
    let mut report = ImportReport::default();
    for (i, row) in rows.into_iter().enumerate() {
        // Line 1 is the header.
        let line = i as u64 + 2;
        let outcome = match row {
            Ok(row) => import_row(ctx, row).await,
            Err(e) => Err(format!("cannot read the row: {e}")),
        };
        match outcome {
            Ok(()) => report.imported += 1,
            Err(why) => report.refused.push((line, why)),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(report)
}

async fn import_row(ctx: &Ctx, row: CsvRow) -> Result<(), String> {
    // Everything is parsed before anything is written, so a refused row leaves no trace.
    let segment: Segment = row
        .segment
        .parse()
        .map_err(|e: crate::domain::ParseError| e.0)?;
    let arr_cents = match blank(&row.arr) {
        Some(a) => parse_arr(a)?,
        None => 0,
    };
    let contract_start = parse_date(&row.start)?;
    let go_live = blank(&row.go_live).map(parse_date).transpose()?;
    let renewal_date = blank(&row.renewal).map(parse_date).transpose()?;
    let csm_id = match blank(&row.csm) {
        Some(k) => Some(
            staff::find(&ctx.pool, k)
                .await
                .map_err(|e| e.to_string())?
                .id,
        ),
        None => None,
    };
    let contact = match blank(&row.contact_name) {
        Some(name) => {
            let role: ContactRole = blank(&row.contact_role)
                .unwrap_or("decision_maker")
                .parse()
                .map_err(|e: crate::domain::ParseError| e.0)?;
            let channel: ChannelKind = blank(&row.contact_channel)
                .unwrap_or("telegram")
                .parse()
                .map_err(|e: crate::domain::ParseError| e.0)?;
            let address = blank(&row.contact_address)
                .map(|a| contacts::parse_address(channel, a))
                .transpose()
                .map_err(|e| e.to_string())?;
            Some((name.to_string(), role, channel, address))
        }
        None => None,
    };
    let account = accounts::create(
        &ctx.pool,
        &accounts::NewAccount {
            name: row.name,
            segment,
            arr_cents,
            contract_start,
            go_live,
            renewal_date,
            csm_id,
            time_zone: blank(&row.time_zone).unwrap_or("UTC").to_string(),
            locale: blank(&row.locale).unwrap_or("en").to_string(),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    if let Some((name, role, channel, address)) = contact {
        let added = contacts::add(
            &ctx.pool,
            &contacts::NewContact {
                account_id: account.id,
                name,
                role,
                channel,
                address,
                time_zone: None,
                locale: None,
            },
            ctx.now,
        )
        .await;
        if let Err(e) = added {
            // Keep the row all-or-nothing: undo the account it created.
            let _ = sqlx::query!("delete from accounts where id = $1", account.id.0)
                .execute(&ctx.pool)
                .await;
            return Err(e.to_string());
        }
    }
    ctx.replan(account.id)
        .await
        .map_err(|e| format!("the account was saved but its calendar could not be planned: {e}"))?;
    Ok(())
}
