//! The touches of accounts with none yet, streamed with `COPY ... FROM STDIN` in the binary
//! format: the server reads each value as it arrives, where `INSERT ... FROM UNNEST` first
//! unpacks twelve arrays and materialises their rows (a chunk's 31,500 rows took about 1.4
//! times as long that way as a bare `INSERT ... SELECT`; binary COPY about 1.1 times).
//!
//! The values are those the upsert writes, encoded as PostgreSQL's binary COPY format
//! describes: a header, then per row the field count and each field's length and bytes.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::Columns;

const STATEMENT: &str = "copy touches (account_id, touch_key, rule, kind, category, template,
                                     contact_id, staff_id, due_at, status, status_reason, notes,
                                     created_at, updated_at)
                         from stdin with (format binary)";
const FIELDS: i16 = 14;

/// The `oid` of `text`, named in a binary array's header.
const TEXT_OID: i32 = 25;

/// Copies `cols` into `touches`, created and updated at `now`; returns the rows written.
pub(super) async fn insert(
    tx: &mut PgConnection,
    cols: &Columns,
    now: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let data = encode(cols, now)?;
    let mut copy = tx
        .copy_in_raw(STATEMENT)
        .await
        .context("starting to copy the new plans")?;
    copy.send(data).await.context("sending the new plans")?;
    copy.finish().await.context("copying the new plans")
}

/// The whole COPY stream of `cols`.
fn encode(cols: &Columns, now: DateTime<Utc>) -> anyhow::Result<Vec<u8>> {
    let mut out = Out(Vec::with_capacity(19 + cols.accounts.len() * 256));
    out.0.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.i32(0); // flags: no OIDs
    out.i32(0); // no header extension
    let now = micros(now)?;
    for i in 0..cols.accounts.len() {
        out.0.extend_from_slice(&FIELDS.to_be_bytes());
        out.int8(Some(cols.accounts[i]));
        out.text(Some(&cols.keys[i]))?;
        out.text(Some(&cols.rules[i]))?;
        out.text(Some(&cols.kinds[i]))?;
        out.text(Some(&cols.categories[i]))?;
        out.text(Some(&cols.templates[i]))?;
        out.int8(cols.contact_ids[i]);
        out.int8(cols.staff_ids[i]);
        out.timestamptz(micros(cols.due[i])?);
        out.text(Some(cols.statuses[i]))?;
        out.text(cols.reasons[i].as_deref())?;
        out.notes(&cols.notes[i])?;
        out.timestamptz(now);
        out.timestamptz(now);
    }
    out.0.extend_from_slice(&(-1i16).to_be_bytes());
    Ok(out.0)
}

/// 2000-01-01 00:00 UTC in Unix microseconds: binary `timestamptz` counts from there.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

fn micros(t: DateTime<Utc>) -> anyhow::Result<i64> {
    t.timestamp_micros()
        .checked_sub(PG_EPOCH_MICROS)
        .with_context(|| format!("{t} is out of PostgreSQL's range"))
}

struct Out(Vec<u8>);

impl Out {
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    fn len(&mut self, n: usize) -> anyhow::Result<()> {
        self.i32(i32::try_from(n).context("a value too long to copy")?);
        Ok(())
    }

    fn null(&mut self) {
        self.i32(-1);
    }

    fn int8(&mut self, v: Option<i64>) {
        match v {
            Some(v) => {
                self.i32(8);
                self.0.extend_from_slice(&v.to_be_bytes());
            }
            None => self.null(),
        }
    }

    fn timestamptz(&mut self, micros: i64) {
        self.int8(Some(micros));
    }

    fn text(&mut self, v: Option<&str>) -> anyhow::Result<()> {
        match v {
            Some(s) => {
                self.len(s.len())?;
                self.0.extend_from_slice(s.as_bytes());
            }
            None => self.null(),
        }
        Ok(())
    }

    /// The notes joined by newlines (`Columns::notes`) as a `text[]`, split as the upsert's
    /// `string_to_array` splits them: no notes is an empty array.
    fn notes(&mut self, joined: &str) -> anyhow::Result<()> {
        let items: Vec<&str> = if joined.is_empty() {
            Vec::new()
        } else {
            joined.split('\n').collect()
        };
        // An empty array has no dimensions; a list has one, numbered from 1.
        let header = if items.is_empty() { 12 } else { 20 };
        let body: usize = items.iter().map(|s| 4 + s.len()).sum();
        self.len(header + body)?;
        self.i32(i32::from(!items.is_empty()));
        self.i32(0); // no null elements
        self.i32(TEXT_OID);
        if !items.is_empty() {
            self.len(items.len())?;
            self.i32(1);
        }
        for s in items {
            self.text(Some(s))?;
        }
        Ok(())
    }
}
