//! Expands the rules into dated occurrences for one account, before anyone is chosen.

use super::config::{Anchor, CalendarConfig};
use crate::domain::Segment;
use chrono::{Duration, NaiveDate};

/// One firing of one rule on its nominal day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// Index into `config.rules`.
    pub rule: usize,
    /// Stable across re-plans: the rule key, `key#n` for the n-th repeat (from 1), or
    /// `key@renewal-date` for renewal-anchored rules.
    pub key: String,
    pub nominal: NaiveDate,
    /// Whether the rule fires once, relative to day 0 (a contact added later may get it on
    /// the day they were added).
    pub once_from_start: bool,
}

/// The occurrences whose nominal day lies in the plan horizon: day 0 through the renewal date,
/// or through `day 0 + horizon_days` without one.
pub fn occurrences(
    config: &CalendarConfig,
    segment: Segment,
    day_zero: NaiveDate,
    renewal: Option<NaiveDate>,
) -> Vec<Occurrence> {
    let end = renewal.unwrap_or(day_zero + Duration::days(i64::from(config.horizon_days)));
    let in_horizon = |d: NaiveDate| d >= day_zero && d <= end;
    let after = |n: u32| day_zero + Duration::days(i64::from(n));
    let mut out = Vec::new();
    for (index, rule) in config.rules.iter().enumerate() {
        if !rule.applies_to(segment) {
            continue;
        }
        // An invalid anchor is reported by `validate`; here it simply yields nothing.
        let Ok(anchor) = rule.anchor() else { continue };
        match anchor {
            Anchor::Day(n) => out.push(Occurrence {
                rule: index,
                key: rule.key.clone(),
                nominal: after(n),
                once_from_start: true,
            }),
            Anchor::Every { from, to, every } if every > 0 => {
                let mut day = from;
                let mut seq = 1;
                while day <= to {
                    out.push(Occurrence {
                        rule: index,
                        key: format!("{}#{seq}", rule.key),
                        nominal: after(day),
                        once_from_start: false,
                    });
                    day += every;
                    seq += 1;
                }
            }
            Anchor::Every { .. } => {}
            Anchor::BeforeRenewal(n) => {
                if let Some(renewal) = renewal {
                    out.push(Occurrence {
                        rule: index,
                        key: format!("{}@{renewal}", rule.key),
                        nominal: renewal - Duration::days(i64::from(n)),
                        once_from_start: false,
                    });
                }
            }
        }
    }
    out.retain(|o| in_horizon(o.nominal));
    out.sort_by(|a, b| a.nominal.cmp(&b.nominal).then_with(|| a.key.cmp(&b.key)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn recurring_rules_number_their_repeats_and_include_the_last_day() {
        let config = CalendarConfig::default();
        let occ = occurrences(&config, Segment::MidMarket, date(2027, 1, 4), None);
        let biweekly: Vec<(&str, i64)> = occ
            .iter()
            .filter(|o| o.key.starts_with("checkin-biweekly#"))
            .map(|o| (o.key.as_str(), (o.nominal - date(2027, 1, 4)).num_days()))
            .collect();
        assert_eq!(
            biweekly,
            [
                ("checkin-biweekly#1", 90),
                ("checkin-biweekly#2", 104),
                ("checkin-biweekly#3", 118),
                ("checkin-biweekly#4", 132),
                ("checkin-biweekly#5", 146),
                ("checkin-biweekly#6", 160),
                ("checkin-biweekly#7", 174),
            ]
        );
        let monthly: Vec<i64> = occ
            .iter()
            .filter(|o| o.key.starts_with("checkin-monthly#"))
            .map(|o| (o.nominal - date(2027, 1, 4)).num_days())
            .collect();
        assert_eq!(monthly, [180, 210, 240, 270]);
    }

    #[test]
    fn renewal_touches_carry_the_renewal_date_in_their_key() {
        let config = CalendarConfig::default();
        let occ = occurrences(
            &config,
            Segment::Smb,
            date(2027, 1, 4),
            Some(date(2028, 1, 4)),
        );
        let renewal: Vec<&str> = occ
            .iter()
            .filter(|o| o.key.starts_with("renewal-"))
            .map(|o| o.key.as_str())
            .collect();
        assert_eq!(
            renewal,
            [
                "renewal-90@2028-01-04",
                "renewal-60@2028-01-04",
                "renewal-30@2028-01-04",
                "renewal-7@2028-01-04"
            ]
        );
    }

    #[test]
    fn nothing_is_planned_past_the_horizon_without_a_renewal_date() {
        let config = CalendarConfig {
            horizon_days: 100,
            ..CalendarConfig::default()
        };
        let occ = occurrences(&config, Segment::Enterprise, date(2027, 1, 4), None);
        assert!(occ.iter().all(|o| o.nominal <= date(2027, 4, 14)));
        assert!(occ.iter().any(|o| o.key == "nps-90"));
        assert!(!occ.iter().any(|o| o.key == "nps-180"));
        assert!(!occ.iter().any(|o| o.key.contains('@')));
    }
}
