//! Closed sets of values, with the spelling stored in the database and accepted on the CLI.

use super::ParseError;
use serde::{Deserialize, Serialize};

/// Declares an enum whose variants map one-to-one to stored strings, with `FromStr`
/// accepting those strings (and a few spelling variants) and explaining the choices on error.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $text:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                let norm = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
                $(if norm == $text $(|| norm == $alias)* { return Ok($name::$variant); })+
                let choices: Vec<&str> = vec![$($text),+];
                let article = if $what.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
                Err(ParseError(format!(
                    "'{}' is not {article} {}; use one of: {}",
                    s.trim(), $what, choices.join(", ")
                )))
            }
        }
    };
}

string_enum!(
    /// The commercial segment decides the cadence (DOMAIN.md: high-touch vs automated).
    Segment, "segment" {
        Enterprise => "enterprise" | "ent",
        MidMarket => "mid_market" | "midmarket" | "mid",
        Smb => "smb",
    }
);

string_enum!(
    ContactRole, "contact role" {
        DecisionMaker => "decision_maker" | "dm",
        Champion => "champion",
        User => "user",
    }
);

string_enum!(
    StaffRole, "staff role" {
        Csm => "csm",
        CsManager => "cs_manager" | "manager" | "head_of_cs",
        Vp => "vp" | "vp_cs",
        Admin => "admin",
    }
);

string_enum!(
    ChannelKind, "channel" {
        Telegram => "telegram" | "tg",
        Whatsapp => "whatsapp" | "wa",
        Simulated => "simulated" | "sim",
    }
);

string_enum!(
    /// Consent is kept per category: a contact may stop surveys yet still get renewal notices.
    MessageCategory, "message category" {
        Survey => "survey",
        Checkin => "checkin" | "check_in",
        Renewal => "renewal",
        Service => "service",
    }
);

string_enum!(
    TouchKind, "touch kind" {
        Welcome => "welcome",
        Checkin => "checkin" | "check_in",
        Nps => "nps",
        Csat => "csat",
        Qbr => "qbr",
        Renewal => "renewal",
        RenewalTask => "renewal_task",
        Task => "task",
    }
);

string_enum!(
    AccountLifecycle, "account state" {
        Active => "active",
        Paused => "paused",
        Churned => "churned",
    }
);

string_enum!(
    /// Where one webhook delivery stands: waiting or retrying, held by a sender, done, given
    /// up after the last try, or cancelled with its subscription.
    DeliveryStatus, "delivery status" {
        Planned => "planned",
        Claimed => "claimed",
        Delivered => "delivered",
        Failed => "failed",
        Cancelled => "cancelled",
    }
);

impl TouchKind {
    /// The consent category a touch of this kind falls under.
    pub fn category(self) -> MessageCategory {
        match self {
            TouchKind::Nps | TouchKind::Csat => MessageCategory::Survey,
            TouchKind::Checkin | TouchKind::Qbr => MessageCategory::Checkin,
            TouchKind::Renewal => MessageCategory::Renewal,
            TouchKind::Welcome | TouchKind::RenewalTask | TouchKind::Task => {
                MessageCategory::Service
            }
        }
    }

    /// Internal touches go to the CSM, not to the client.
    pub fn is_internal(self) -> bool {
        matches!(self, TouchKind::RenewalTask | TouchKind::Task)
    }

    pub fn is_survey(self) -> bool {
        self.category() == MessageCategory::Survey
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_accepts_common_spellings() {
        assert_eq!("Mid-Market".parse::<Segment>().unwrap(), Segment::MidMarket);
        assert_eq!("ENT".parse::<Segment>().unwrap(), Segment::Enterprise);
    }

    #[test]
    fn an_unknown_value_lists_the_choices() {
        let err = "gold".parse::<Segment>().unwrap_err();
        assert_eq!(
            err.0,
            "'gold' is not a segment; use one of: enterprise, mid_market, smb"
        );
    }

    #[test]
    fn every_value_round_trips_through_its_stored_spelling() {
        for k in TouchKind::ALL {
            assert_eq!(k.as_str().parse::<TouchKind>().unwrap(), *k);
        }
        for r in ContactRole::ALL {
            assert_eq!(r.as_str().parse::<ContactRole>().unwrap(), *r);
        }
    }

    #[test]
    fn surveys_are_their_own_consent_category() {
        assert_eq!(TouchKind::Nps.category(), MessageCategory::Survey);
        assert_eq!(TouchKind::Renewal.category(), MessageCategory::Renewal);
        assert!(TouchKind::RenewalTask.is_internal());
    }
}
