//! Replacing a person's words, name and address inside free text and JSON, without touching
//! other words that merely contain them ("Ann" inside "Annabel", a chat id inside a longer one).

/// Needles shorter than this are not searched for: a one- or two-character reply ("9", "ok")
/// says nothing about the person and would otherwise wipe every such character everywhere.
pub const MIN_NEEDLE_CHARS: usize = 3;

/// The distinct strings that identify one person, longest first so a full name is replaced
/// before a part of it.
#[derive(Debug, Clone, Default)]
pub struct Needles(Vec<String>);

impl Needles {
    pub fn new(items: impl IntoIterator<Item = String>) -> Needles {
        let mut v: Vec<String> = items
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| s.chars().count() >= MIN_NEEDLE_CHARS)
            .collect();
        v.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        v.dedup();
        Needles(v)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `text` holds one of the needles as a whole word.
    pub fn found_in(&self, text: &str) -> bool {
        self.0.iter().any(|n| find_whole(text, n, 0).is_some())
    }

    /// `text` with every whole-word needle replaced by `token`; None when nothing matched.
    pub fn redact(&self, text: &str, token: &str) -> Option<String> {
        let mut out = text.to_string();
        let mut changed = false;
        for needle in &self.0 {
            let mut from = 0;
            while let Some(at) = find_whole(&out, needle, from) {
                out.replace_range(at..at + needle.len(), token);
                from = at + token.len();
                changed = true;
            }
        }
        changed.then_some(out)
    }

    /// Redacts every string in a JSON value, and a number written exactly as a needle (a
    /// Telegram chat id); None when nothing matched.
    pub fn redact_json(&self, value: &serde_json::Value, token: &str) -> Option<serde_json::Value> {
        use serde_json::Value;
        match value {
            Value::String(s) => self.redact(s, token).map(Value::String),
            Value::Number(n) => {
                let text = n.to_string();
                self.0
                    .contains(&text)
                    .then(|| Value::String(token.to_string()))
            }
            Value::Array(items) => {
                let new: Vec<Option<Value>> =
                    items.iter().map(|v| self.redact_json(v, token)).collect();
                new.iter().any(Option::is_some).then(|| {
                    Value::Array(
                        new.into_iter()
                            .zip(items)
                            .map(|(n, old)| n.unwrap_or_else(|| old.clone()))
                            .collect(),
                    )
                })
            }
            Value::Object(map) => {
                let mut changed = false;
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    let key = self.redact(k, token).unwrap_or_else(|| k.clone());
                    changed |= key != *k;
                    match self.redact_json(v, token) {
                        Some(n) => {
                            changed = true;
                            out.insert(key, n);
                        }
                        None => {
                            out.insert(key, v.clone());
                        }
                    }
                }
                changed.then_some(Value::Object(out))
            }
            Value::Null | Value::Bool(_) => None,
        }
    }
}

/// The byte offset of `needle` in `text` at or after `from`, where it is not part of a longer
/// word or number.
fn find_whole(text: &str, needle: &str, from: usize) -> Option<usize> {
    let mut start = from;
    while let Some(rel) = text.get(start..)?.find(needle) {
        let at = start + rel;
        let end = at + needle.len();
        let before = text[..at].chars().next_back();
        let after = text[end..].chars().next();
        let edge = |c: Option<char>| !c.is_some_and(char::is_alphanumeric);
        if edge(before) && edge(after) {
            return Some(at);
        }
        start = at + text[at..].chars().next().map_or(1, char::len_utf8);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needles(items: &[&str]) -> Needles {
        Needles::new(items.iter().map(|s| s.to_string()))
    }

    #[test]
    fn a_name_is_replaced_but_a_longer_name_containing_it_is_not() {
        let n = needles(&["Ann"]);
        assert_eq!(
            n.redact("Ann said no; Annabel said yes", "[x]").as_deref(),
            Some("[x] said no; Annabel said yes")
        );
        assert_eq!(n.redact("Annabel only", "[x]"), None);
    }

    #[test]
    fn a_chat_id_inside_a_longer_number_is_left_alone() {
        let n = needles(&["12345"]);
        assert_eq!(n.redact("chat 9123456", "[x]"), None);
        assert_eq!(n.redact("12345:77", "[x]").as_deref(), Some("[x]:77"));
    }

    #[test]
    fn short_replies_are_not_searched_for() {
        let n = needles(&["9", "ok", "  "]);
        assert!(n.is_empty());
    }

    #[test]
    fn json_strings_and_numbers_equal_to_an_address_are_redacted() {
        let n = needles(&["Zed Q", "4242424242"]);
        let v = serde_json::json!({"from": {"id": 4242424242u64, "first_name": "Zed Q"}, "n": 1});
        let out = n.redact_json(&v, "[x]").unwrap();
        assert_eq!(
            out,
            serde_json::json!({"from": {"id": "[x]", "first_name": "[x]"}, "n": 1})
        );
        assert_eq!(n.redact_json(&serde_json::json!({"a": 2}), "[x]"), None);
    }
}
