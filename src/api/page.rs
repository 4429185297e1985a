//! Keyset pages: a list is read a page at a time from just past the last row shown, so a page
//! costs the same deep in a long list as at its start, and rows added meanwhile neither
//! repeat nor push others off. The cursor is opaque to the client (hex of a tagged id).

use super::ApiError;

/// Page sizes, and the size when none is asked for.
pub const LIMITS: std::ops::RangeInclusive<u32> = 1..=200;
const DEFAULT_LIMIT: u32 = 50;

/// The page size asked for; outside `LIMITS`, the `limit` field's problem.
pub fn limit(asked: Option<u32>, what: &str) -> Result<u32, ApiError> {
    let limit = asked.unwrap_or(DEFAULT_LIMIT);
    if LIMITS.contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::field(
            "limit",
            format!("a page holds {} to {} {what}", LIMITS.start(), LIMITS.end()),
        ))
    }
}

/// The cursor of the page after the one ending at row `last`. `tag` names the list's order,
/// so a cursor from one list is not taken by another.
pub fn cursor(tag: &str, last: i64) -> String {
    hex::encode(format!("{tag}:{last}"))
}

/// The row id a cursor of `tag`'s list continues from.
pub fn read_cursor(tag: &str, cursor: &str) -> Result<i64, ApiError> {
    hex::decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.strip_prefix(tag)
                .and_then(|s| s.strip_prefix(':'))
                .and_then(|n| n.parse().ok())
        })
        .ok_or_else(|| {
            ApiError::field(
                "cursor",
                "not a cursor this list gave; start again without it",
            )
        })
}

/// Splits `limit + 1` rows read into the page and the cursor of the next one, if any.
pub fn split<T>(
    mut rows: Vec<T>,
    limit: u32,
    tag: &str,
    id: impl Fn(&T) -> i64,
) -> (Vec<T>, Option<String>) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = match rows.last() {
        Some(last) if more => Some(cursor(tag, id(last))),
        _ => None,
    };
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_only_in_its_own_list() {
        let c = cursor("after", 42);
        assert_eq!(read_cursor("after", &c).unwrap(), 42);
        assert!(read_cursor("before", &c).is_err());
        assert!(read_cursor("after", "nonsense").is_err());
    }

    #[test]
    fn a_page_has_a_next_cursor_only_when_more_rows_follow() {
        let (rows, next) = split(vec![1, 2, 3], 2, "after", |n| *n);
        assert_eq!(
            (rows, next.map(|c| read_cursor("after", &c).unwrap())),
            (vec![1, 2], Some(2))
        );
        let (rows, next) = split(vec![1, 2], 2, "after", |n| *n);
        assert_eq!((rows, next), (vec![1, 2], None));
    }
}
