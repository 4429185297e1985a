//! `touchbot import accounts.csv`: bulk load from a CRM export. A bad row is reported with its
//! line and reason and never stops the others.

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

use super::{parse_arr, parse_date};
use crate::app::Ctx;
use crate::domain::{ChannelKind, ContactRole, Segment};
use crate::storage::{StoreError, accounts, contacts, staff};

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

/// The columns a file must have; the others may be left out.
const REQUIRED: &[&str] = &["name", "segment", "start"];

pub async fn import_file(ctx: &Ctx, path: &std::path::Path) -> anyhow::Result<ImportReport> {
    // A path or header the user got wrong is their mistake to fix (exit code 2), not a fault.
    let text = std::fs::read(path)
        .map_err(|e| StoreError::Invalid(format!("cannot open {}: {e}", path.display())))?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_slice());
    let headers = reader
        .headers()
        .map_err(|e| StoreError::Invalid(format!("cannot read the header row: {e}")))?
        .clone();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| !headers.iter().any(|h| h == *c))
        .collect();
    if !missing.is_empty() {
        return Err(StoreError::Invalid(format!(
            "{} has no column {}; the header row needs at least: {}",
            path.display(),
            missing.join(", "),
            REQUIRED.join(", ")
        ))
        .into());
    }
    let records: Vec<_> = reader.records().collect();
    let bar = ProgressBar::new(records.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows {msg}")
            .expect("the progress template is valid"),
    );
    let mut report = ImportReport::default();
    for (i, record) in records.into_iter().enumerate() {
        // The reader skips blank lines, so the line comes from the record, not its index
        // (the header is line 1).
        let fallback = i as u64 + 2;
        let (line, outcome) = match record {
            Ok(mut record) => {
                let line = record.position().map_or(fallback, |p| line_of(&text, p));
                // A short row is read as if its missing values were empty, so it is refused
                // for the value it lacks rather than for its shape.
                while record.len() < headers.len() {
                    record.push_field("");
                }
                let outcome = match record.deserialize::<CsvRow>(Some(&headers)) {
                    Ok(row) => import_row(ctx, row).await,
                    Err(e) => Err(format!("cannot read the row: {e}")),
                };
                (line, outcome)
            }
            Err(e) => (
                e.position().map_or(fallback, |p| p.line()),
                Err(format!("cannot read the row: {e}")),
            ),
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

/// The line a record starts on. Its position is where the reader began looking for it,
/// which is before any blank lines it skipped.
fn line_of(text: &[u8], pos: &csv::Position) -> u64 {
    let skipped = text
        .get(pos.byte() as usize..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| matches!(b, b'\n' | b'\r'))
        .filter(|b| **b == b'\n')
        .count();
    pos.line() + skipped as u64
}

async fn import_row(ctx: &Ctx, row: CsvRow) -> Result<(), String> {
    // Everything is parsed before anything is written, so a refused row leaves no trace.
    if row.segment.trim().is_empty() {
        return Err(format!(
            "the segment is empty; use one of: {}",
            Segment::ALL
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let segment: Segment = row
        .segment
        .parse()
        .map_err(|e: crate::domain::ParseError| e.0)?;
    let arr_cents = match blank(&row.arr) {
        Some(a) => parse_arr(a)?,
        None => 0,
    };
    if row.start.trim().is_empty() {
        return Err("the start date is empty; write the contract start as YYYY-MM-DD".into());
    }
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
    // One transaction per row: a refused contact takes its account with it, and nobody ever
    // sees the account alone.
    let mut tx = ctx
        .pool
        .begin()
        .await
        .map_err(|e| format!("could not start the row's transaction: {e}"))?;
    let account = accounts::create(
        &mut *tx,
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
        contacts::insert(
            &mut *tx,
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
        .await
        .map_err(|e| e.to_string())?;
    }
    tx.commit()
        .await
        .map_err(|e| format!("could not save the row: {e}"))?;
    ctx.replan(account.id)
        .await
        .map_err(|e| format!("the account was saved but its calendar could not be planned: {e}"))?;
    Ok(())
}
