//! Query strings read with the API's errors, one way for every read: a parameter that is
//! unknown, given twice or does not parse is a 422 naming it. Instants, page sizes and
//! cursors are read here for every list.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::ApiError;
use super::error::shape_error;
use crate::domain::ParseError;

/// The query string as `T`, whose fields are all `Option<String>`: each is parsed by hand so
/// that its own name is in the error. An empty value counts as not given.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let raw = parts.uri.query().unwrap_or_default();
        let mut map = Map::new();
        for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
            if value.is_empty() {
                continue;
            }
            if map.contains_key(name.as_ref()) {
                return Err(ApiError::field(name, "given twice; give it once"));
            }
            map.insert(name.into_owned(), Value::String(value.into_owned()));
        }
        serde_path_to_error::deserialize(Value::Object(map))
            .map(ApiQuery)
            .map_err(|e| shape_error("", e))
    }
}

/// A domain value (a status, a level) named by `field`.
pub fn parsed<T: std::str::FromStr<Err = ParseError>>(
    field: &str,
    value: Option<&str>,
) -> Result<Option<T>, ApiError> {
    value
        .map(|v| super::account_views::parsed(field, v))
        .transpose()
}

/// An id named by `field`.
pub fn id(field: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    value
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| ApiError::field(field, format!("'{v}' is not an id; give a number")))
        })
        .transpose()
}

/// An instant: RFC 3339 (`2026-03-01T09:30:00Z`, `…+05:00`) or a date, meaning its start in
/// UTC. A `+` left unencoded in a URL arrives as a space, and is read as the `+` it was.
pub fn instant(field: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(v) = value.map(str::trim) else {
        return Ok(None);
    };
    let as_time = |s: &str| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc));
    if let Ok(t) = as_time(v).or_else(|_| as_time(&v.replace(' ', "+"))) {
        return Ok(Some(t));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok(Some(d.and_time(chrono::NaiveTime::MIN).and_utc()));
    }
    Err(ApiError::field(
        field,
        format!(
            "'{v}' is not a date or a time; give a date (2026-03-01, its start in UTC) or a time \
             in RFC 3339 (2026-03-01T09:30:00Z)"
        ),
    ))
}

/// Checks that a period's start comes before its end, naming the start.
pub fn ordered(
    start_field: &str,
    start: DateTime<Utc>,
    end_field: &str,
    end: DateTime<Utc>,
) -> Result<(), ApiError> {
    if start < end {
        return Ok(());
    }
    Err(ApiError::field(
        start_field,
        format!("must come before {end_field}"),
    ))
}

/// The largest page; a page holds 50 when no `limit` is given.
pub const MAX_LIMIT: i64 = 200;
const DEFAULT_LIMIT: i64 = 50;

/// The `limit` parameter: 1 to 200, 50 when left out.
pub fn limit(value: Option<&str>) -> Result<i64, ApiError> {
    let Some(v) = value else {
        return Ok(DEFAULT_LIMIT);
    };
    match v.trim().parse::<i64>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::field(
            "limit",
            format!("a page holds 1 to {MAX_LIMIT} items; '{v}' is not one of those"),
        )),
    }
}

/// An opaque cursor: where a page ended, tagged with the list it belongs to, so a cursor
/// from one list is refused by another.
pub fn cursor(tag: &str, position: &str) -> String {
    hex::encode(format!("{tag}{position}"))
}

/// The position in a `cursor` parameter, read by `position`; a cursor this list did not give
/// is a 422.
pub fn read_cursor<T>(
    tag: &str,
    value: Option<&str>,
    position: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    let Some(v) = value else {
        return Ok(None);
    };
    hex::decode(v.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix(tag).and_then(&position))
        .map(Some)
        .ok_or_else(|| {
            ApiError::field(
                "cursor",
                "not a cursor this list gave; start again without it",
            )
        })
}

/// The page of `rows` (read with one more than `limit`, to learn whether more follow) and the
/// cursor to the next page, absent on the last one.
pub fn page<T>(
    mut rows: Vec<T>,
    limit: i64,
    position: impl Fn(&T) -> String,
    tag: &str,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows.last().map(|last| cursor(tag, &position(last)));
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(tag: &str, c: &str) -> Result<Option<i64>, ApiError> {
        read_cursor(tag, Some(c), |p| p.parse().ok())
    }

    #[test]
    fn a_cursor_reads_back_only_in_its_own_list() {
        let c = cursor("after:", "42");
        assert_eq!(read("after:", &c).unwrap(), Some(42));
        assert!(read("before:", &c).is_err());
        assert!(read("after:", "nonsense").is_err());
    }

    #[test]
    fn a_page_has_a_next_cursor_only_when_more_rows_follow() {
        let (rows, next) = page(vec![1, 2, 3], 2, |n| n.to_string(), "after:");
        let next = next.map(|c| read("after:", &c).unwrap());
        assert_eq!((rows, next), (vec![1, 2], Some(Some(2))));
        let (rows, next) = page(vec![1, 2], 2, |n| n.to_string(), "after:");
        assert_eq!((rows, next), (vec![1, 2], None));
    }
}
