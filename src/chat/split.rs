//! Cutting a long answer into messages a chat accepts, at line boundaries so no figure is cut in
//! half. Telegram takes up to 4096 characters, counted in UTF-16 units (an emoji counts two), so
//! that is how length is measured here.

/// The most a Telegram message holds.
pub const MAX_MESSAGE: usize = 4096;

fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// `text` in pieces of at most `max` UTF-16 units, each ending at a line end. A single line
/// longer than `max` is cut at the last space that fits (or mid-word when it has none).
pub fn split(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.trim_end().lines() {
        for piece in cut_line(line, max) {
            let extra = if current.is_empty() { 0 } else { 1 };
            if !current.is_empty() && units(&current) + extra + units(&piece) > max {
                out.push(std::mem::take(&mut current));
            }
            if current.is_empty() && piece.trim().is_empty() {
                // A message never starts with a blank line.
                continue;
            }
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(&piece);
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out.into_iter()
        .map(|m| m.trim_end().to_string())
        .filter(|m| !m.is_empty())
        .collect()
}

/// One line in pieces of at most `max` units.
fn cut_line(line: &str, max: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = line;
    while units(rest) > max {
        // The longest prefix that fits, on a char boundary.
        let mut fit = 0;
        let mut used = 0;
        for (i, c) in rest.char_indices() {
            if used + c.len_utf16() > max {
                break;
            }
            used += c.len_utf16();
            fit = i + c.len_utf8();
        }
        let cut = if rest[fit..].starts_with(' ') {
            fit
        } else {
            match rest[..fit].rfind(' ') {
                Some(space) if space > 0 => space,
                _ => fit.max(rest.chars().next().map_or(1, char::len_utf8)),
            }
        };
        pieces.push(rest[..cut].to_string());
        rest = rest[cut..].trim_start_matches(' ');
    }
    pieces.push(rest.to_string());
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_short_answer_stays_one_message() {
        assert_eq!(split("a\nb\n", 10), vec!["a\nb"]);
    }

    #[test]
    fn a_long_answer_is_cut_between_lines() {
        let text = "line one\nline two\nline three";
        assert_eq!(split(text, 17), vec!["line one\nline two", "line three"]);
    }

    #[test]
    fn a_line_longer_than_a_message_is_cut_at_a_space() {
        assert_eq!(split("aaaa bbbb cccc", 9), vec!["aaaa bbbb", "cccc"]);
    }

    #[test]
    fn emoji_count_as_two_units_as_telegram_counts_them() {
        let parts = split("🔴🔴\n🔴🔴", 4);
        assert_eq!(parts, vec!["🔴🔴", "🔴🔴"]);
    }

    #[test]
    fn no_message_starts_with_a_blank_line() {
        assert_eq!(split("aaaa\n\nbbbb", 4), vec!["aaaa", "bbbb"]);
    }

    proptest! {
        #[test]
        fn every_piece_fits_and_no_word_is_lost(
            lines in proptest::collection::vec("[a-zé🔴 ]{0,30}", 0..40),
            max in 5usize..60,
        ) {
            let text = lines.join("\n");
            let parts = split(&text, max);
            for p in &parts {
                prop_assert!(units(p) <= max, "{p:?} is longer than {max}");
            }
            let words = |t: &str| t.split_whitespace().map(str::to_string).collect::<Vec<_>>().concat();
            prop_assert_eq!(words(&parts.join("\n")), words(&text));
        }
    }
}
