//! Parsers for values typed on the command line or read from CSV.

use chrono::NaiveDate;

pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("'{}' is not a date; write it as YYYY-MM-DD", s.trim()))
}

/// Reads an annual revenue figure in whole currency units: `120000`, `120k`, `1.5m`,
/// `$120,000`. Returns cents.
pub fn parse_arr(s: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "'{}' is not an amount; write the annual revenue as a number such as 120000 or 120k",
            s.trim()
        )
    };
    let t: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ',' | '_' | ' ' | '$' | '€' | '₸'))
        .collect::<String>()
        .to_ascii_lowercase();
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1_000.0),
        Some('m') => (&t[..t.len() - 1], 1_000_000.0),
        _ => (t.as_str(), 1.0),
    };
    let value: f64 = num.parse().map_err(|_| bad())?;
    if !value.is_finite() || value < 0.0 {
        return Err(bad());
    }
    let cents = (value * mult * 100.0).round();
    if cents > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(cents as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revenue_accepts_the_ways_people_write_it() {
        assert_eq!(parse_arr("120000"), Ok(12_000_000));
        assert_eq!(parse_arr("120k"), Ok(12_000_000));
        assert_eq!(parse_arr("$1,500,000"), Ok(150_000_000));
        assert_eq!(parse_arr("1.5M"), Ok(150_000_000));
    }

    #[test]
    fn revenue_refuses_words_and_negative_numbers() {
        assert!(parse_arr("lots").unwrap_err().contains("120k"));
        assert!(parse_arr("-5").is_err());
    }

    #[test]
    fn a_date_in_another_format_says_which_format_to_use() {
        assert!(parse_date("03/01/2027").unwrap_err().contains("YYYY-MM-DD"));
        assert_eq!(
            parse_date("2027-03-01"),
            Ok(NaiveDate::from_ymd_opt(2027, 3, 1).unwrap())
        );
    }
}
