//! Phone numbers for WhatsApp, normalised to E.164.
//!
//! Only the international form is accepted: a `+`, the country code, the number. A number
//! written for dialling at home (a leading 8 in Kazakhstan and Russia, a leading 0 in most of
//! Europe) or with a dialling prefix (00, 810) cannot be read without guessing the country, and a
//! wrong guess sends a client's survey to a stranger, so those are refused with the form to use.
//!
//! The number is stored as E.164 with its `+` (`+77011234567`), so normalising a stored number
//! again changes nothing. The Graph API names a user by the digits alone (`to` on a send,
//! `from` and `wa_id` on a webhook): see [`graph_digits`].

/// E.164 allows at most 15 digits with the country code; anything under 8 is a typo or a short
/// code, neither of which WhatsApp can reach.
const MIN_DIGITS: usize = 8;
const MAX_DIGITS: usize = 15;

const EXAMPLE: &str =
    "write it in international form, with + and the country code, e.g. +77011234567";

/// `raw` in E.164 (`+` and digits), or why it is refused and what to write.
pub fn normalise_e164(raw: &str) -> Result<String, String> {
    let shown = raw.trim();
    if shown.is_empty() {
        return Err(format!("the phone number is empty; {EXAMPLE}"));
    }
    let kept: String = shown
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '\u{a0}'))
        .collect();
    if let Some(bad) = kept.chars().find(|c| !c.is_ascii_digit() && *c != '+') {
        return Err(format!(
            "'{shown}' contains '{bad}'; a phone number holds only digits, spaces, dashes and \
             brackets: {EXAMPLE}"
        ));
    }
    let Some(digits) = kept.strip_prefix('+') else {
        return Err(if kept.starts_with("00") {
            format!(
                "'{shown}' starts with the dialling prefix 00, which is not the same everywhere; \
                 {EXAMPLE}"
            )
        } else {
            format!(
                "'{shown}' has no country code (a leading 8 or 0 is a local prefix touchbot does \
                 not guess); {EXAMPLE}"
            )
        });
    };
    if digits.contains('+') {
        return Err(format!("'{shown}' has a + in the middle; {EXAMPLE}"));
    }
    if digits.starts_with('0') {
        return Err(format!(
            "'{shown}': no country code starts with 0; {EXAMPLE}"
        ));
    }
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()) {
        return Err(format!(
            "'{shown}' has {} digits; a number with its country code has {MIN_DIGITS} to \
             {MAX_DIGITS}: {EXAMPLE}",
            digits.len()
        ));
    }
    Ok(format!("+{digits}"))
}

/// How the Graph API writes a stored number: its digits, without the `+`.
pub fn graph_digits(e164: &str) -> &str {
    e164.trim_start_matches('+')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_dashes_and_brackets_are_dropped_and_normalising_twice_changes_nothing() {
        assert_eq!(
            normalise_e164("+7 (701) 123-45-67").unwrap(),
            "+77011234567"
        );
        assert_eq!(normalise_e164("+77011234567").unwrap(), "+77011234567");
        assert_eq!(normalise_e164(" +49 30 1234567 ").unwrap(), "+49301234567");
        assert_eq!(
            normalise_e164("+1\u{a0}415-555-0100").unwrap(),
            "+14155550100"
        );
    }

    #[test]
    fn a_kazakh_or_russian_8_is_not_guessed_to_mean_plus_7() {
        let err = normalise_e164("8 701 123 45 67").unwrap_err();
        assert!(err.contains("no country code"), "{err}");
        assert!(err.contains("e.g. +77011234567"), "{err}");
    }

    #[test]
    fn a_leading_00_is_refused_with_the_form_to_use() {
        let err = normalise_e164("0077011234567").unwrap_err();
        assert!(err.contains("dialling prefix 00"), "{err}");
    }

    #[test]
    fn letters_a_misplaced_plus_and_a_zero_country_code_are_refused_with_the_reason() {
        assert!(
            normalise_e164("+7701CALLME")
                .unwrap_err()
                .contains("contains 'C'")
        );
        assert!(
            normalise_e164("+7701+1234567")
                .unwrap_err()
                .contains("in the middle")
        );
        assert!(
            normalise_e164("+07011234567")
                .unwrap_err()
                .contains("starts with 0")
        );
        assert!(normalise_e164("").unwrap_err().contains("empty"));
    }

    #[test]
    fn too_short_or_too_long_a_number_says_how_many_digits_it_has() {
        assert!(
            normalise_e164("+12345")
                .unwrap_err()
                .contains("has 5 digits")
        );
        assert!(
            normalise_e164("+1234567890123456")
                .unwrap_err()
                .contains("has 16 digits")
        );
        assert!(normalise_e164("+12345678").is_ok());
        assert!(normalise_e164("+123456789012345").is_ok());
    }
}
