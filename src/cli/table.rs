//! Plain-text tables and JSON for list and show commands.

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};

pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_style(UTF8_BORDERS_ONLY).set_header(header.to_vec());
    for r in rows {
        t.add_row(r);
    }
    t.to_string()
}

pub fn json<T: serde::Serialize>(value: &T) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(value)?)
}

pub fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

pub fn money(cents: i64) -> String {
    let units = cents / 100;
    let s = units.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
