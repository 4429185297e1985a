//! Checks that parsing cannot make: values that are well-formed but make no sense together.

use super::config::{HealthConfig, Weights};

struct Issues(Vec<(String, String)>);

impl Issues {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push((path.into(), message.into()));
    }

    /// Named weights must each be a number ≥ 0 and not all 0.
    fn weights(&mut self, table: &str, weights: &[(&str, f64)]) {
        let mut usable = true;
        for (name, weight) in weights {
            if !weight.is_finite() || *weight < 0.0 {
                usable = false;
                self.add(
                    format!("{table}.{name}"),
                    format!("is {weight}; a weight must be a number of 0 or more"),
                );
            }
        }
        if usable && weights.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
            let names: Vec<&str> = weights.iter().map(|(n, _)| *n).collect();
            self.add(
                table,
                format!(
                    "every weight is 0, so nothing would be scored; give at least one of {} a \
                     weight above 0",
                    names.join(", ")
                ),
            );
        }
    }

    fn at_most_100(&mut self, path: &str, value: u8) {
        if value > 100 {
            self.add(
                path,
                format!("is {value}; scores and penalties go up to 100"),
            );
        }
    }

    /// A share such as 0.8 (80%): above 0 and at most 1.
    fn share(&mut self, path: &str, value: f64) {
        if !(value > 0.0 && value <= 1.0) {
            self.add(
                path,
                format!("is {value}; write a share between 0 and 1, e.g. 0.8 for 80%"),
            );
        }
    }
}

fn component_weights(w: &Weights) -> [(&'static str, f64); 6] {
    [
        ("usage", w.usage),
        ("engagement", w.engagement),
        ("support", w.support),
        ("outcomes", w.outcomes),
        ("relationship", w.relationship),
        ("payments", w.payments),
    ]
}

impl HealthConfig {
    /// Every problem at once, as (key path, what to change), so a user can fix the file in one
    /// pass. Empty when the settings are usable.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut issues = Issues(Vec::new());
        self.check_bands(&mut issues);
        issues.weights("health.weights", &component_weights(&self.weights));
        issues.weights(
            "health.onboarding.weights",
            &component_weights(&self.onboarding.weights),
        );
        self.check_usage(&mut issues);
        self.check_engagement(&mut issues);
        self.check_support(&mut issues);
        self.check_relationship(&mut issues);
        self.check_rules(&mut issues);
        issues.0
    }

    fn check_bands(&self, issues: &mut Issues) {
        let bands = &self.bands;
        if bands.green_from > 100 {
            issues.add(
                "health.bands.green_from",
                format!(
                    "is {}; scores go up to 100, so nothing could be green",
                    bands.green_from
                ),
            );
        }
        if bands.yellow_from >= bands.green_from {
            issues.add(
                "health.bands.yellow_from",
                format!(
                    "is {} but green starts at {}; set yellow_from below green_from, \
                     e.g. yellow_from = 50, green_from = 80",
                    bands.yellow_from, bands.green_from
                ),
            );
        }
    }

    fn check_usage(&self, issues: &mut Issues) {
        let u = &self.usage;
        issues.weights(
            "health.usage",
            &[
                ("seats_weight", u.seats_weight),
                ("logins_weight", u.logins_weight),
                ("adoption_weight", u.adoption_weight),
            ],
        );
        if !(u.full_seat_share.is_finite() && u.full_seat_share > 0.0) {
            issues.add(
                "health.usage.full_seat_share",
                format!(
                    "is {}; write the share of licences in use that scores 100, e.g. 0.8",
                    u.full_seat_share
                ),
            );
        }
        if !(1..=30).contains(&u.full_login_days) {
            issues.add(
                "health.usage.full_login_days",
                format!(
                    "is {}; it counts days out of the last 30, so use 1 to 30",
                    u.full_login_days
                ),
            );
        }
        issues.share("health.usage.full_adoption", u.full_adoption);
        if !(u.drop_share.is_finite() && (0.0..1.0).contains(&u.drop_share)) {
            issues.add(
                "health.usage.drop_share",
                format!(
                    "is {}; write the fall in active users that costs points, from 0 to just \
                     under 1, e.g. 0.3 for 30%",
                    u.drop_share
                ),
            );
        }
        issues.at_most_100("health.usage.drop_penalty", u.drop_penalty);
    }

    fn check_engagement(&self, issues: &mut Issues) {
        let e = &self.engagement;
        issues.weights(
            "health.engagement",
            &[
                ("touches_weight", e.touches_weight),
                ("checkins_weight", e.checkins_weight),
            ],
        );
        issues.share("health.engagement.full_answer_rate", e.full_answer_rate);
        if e.checkins_considered == 0 && e.checkins_weight > 0.0 {
            issues.add(
                "health.engagement.checkins_considered",
                "is 0, so check-ins could never count; use at least 1, or set checkins_weight \
                 to 0",
            );
        }
        issues.at_most_100(
            "health.engagement.unreachable_penalty",
            e.unreachable_penalty,
        );
        issues.at_most_100("health.engagement.opted_out_penalty", e.opted_out_penalty);
        issues.at_most_100(
            "health.engagement.max_contact_penalty",
            e.max_contact_penalty,
        );
        issues.at_most_100("health.engagement.nps_answer_bonus", e.nps_answer_bonus);
        let window = crate::inbound::REPLY_WINDOW.num_days();
        if !(1..=window).contains(&i64::from(e.read_unanswered_days)) {
            issues.add(
                "health.engagement.read_unanswered_days",
                format!(
                    "is {}; use 1 to {window}: a touch counts as unanswered {window} days after \
                     it was sent in any case, so a longer wait would never matter",
                    e.read_unanswered_days
                ),
            );
        }
    }

    fn check_support(&self, issues: &mut Issues) {
        let s = &self.support;
        issues.weights(
            "health.support",
            &[
                ("volume_weight", s.volume_weight),
                ("critical_weight", s.critical_weight),
                ("csat_weight", s.csat_weight),
            ],
        );
        if s.yellow_from > s.red_above {
            issues.add(
                "health.support.yellow_from",
                format!(
                    "is {} but red starts above {}; set yellow_from at most red_above, \
                     e.g. yellow_from = 5, red_above = 10",
                    s.yellow_from, s.red_above
                ),
            );
        }
        for (name, value) in [
            ("green_volume_score", s.green_volume_score),
            ("yellow_volume_score", s.yellow_volume_score),
            ("red_volume_score", s.red_volume_score),
            ("critical_open_score", s.critical_open_score),
            ("critical_overdue_score", s.critical_overdue_score),
            ("rising_penalty", s.rising_penalty),
        ] {
            issues.at_most_100(&format!("health.support.{name}"), value);
        }
    }

    fn check_relationship(&self, issues: &mut Issues) {
        let r = &self.relationship;
        issues.weights(
            "health.relationship",
            &[
                ("contacts_weight", r.contacts_weight),
                ("sponsor_weight", r.sponsor_weight),
                ("champion_weight", r.champion_weight),
                ("nps_weight", r.nps_weight),
            ],
        );
        if r.contact_scores.is_empty() {
            issues.add(
                "health.relationship.contact_scores",
                "is empty; give a score for 0 contacts, 1, 2 and so on, e.g. [0, 30, 80, 100]",
            );
        }
        for (i, score) in r.contact_scores.iter().enumerate() {
            issues.at_most_100(&format!("health.relationship.contact_scores[{i}]"), *score);
        }
        issues.at_most_100("health.relationship.promoter_score", r.promoter_score);
        issues.at_most_100("health.relationship.passive_score", r.passive_score);
        issues.at_most_100("health.relationship.detractor_score", r.detractor_score);
    }

    fn check_rules(&self, issues: &mut Issues) {
        let r = &self.rules;
        if r.login_days_low_from > r.login_days_high_above {
            issues.add(
                "health.rules.login_days_low_from",
                format!(
                    "is {} but the high mark is {}; set login_days_low_from at most \
                     login_days_high_above, e.g. 5 and 15",
                    r.login_days_low_from, r.login_days_high_above
                ),
            );
        }
        if !(r.active_share_above.is_finite() && (0.0..=1.0).contains(&r.active_share_above)) {
            issues.add(
                "health.rules.active_share_above",
                format!(
                    "is {}; write a share between 0 and 1, e.g. 0.5 for half the licences",
                    r.active_share_above
                ),
            );
        }
    }
}
