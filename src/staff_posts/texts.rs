//! The few words the staff-post dispatcher adds around posts written by others: the line naming
//! whom a rerouted post is for, and the daily digest's header and entries. Staff read English
//! or Russian (their `locale`); anything else gets English.

use chrono::NaiveDate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
}

impl Lang {
    pub fn of(locale: Option<&str>) -> Lang {
        match locale {
            Some(l) if l.eq_ignore_ascii_case("ru") => Lang::Ru,
            _ => Lang::En,
        }
    }
}

/// The first line of a post meant for one person that went to the team chat instead.
pub fn rerouted_for(lang: Lang, name: &str) -> String {
    match lang {
        Lang::En => format!("For {name} (no Telegram id on file, so it is posted here):"),
        Lang::Ru => format!("Для: {name} (в профиле нет Telegram id, поэтому пишу сюда):"),
    }
}

/// The digest's first line.
pub fn digest_header(lang: Lang, date: NaiveDate, items: usize) -> String {
    let date = date.format("%Y-%m-%d");
    match lang {
        Lang::En => {
            let things = if items == 1 { "thing" } else { "things" };
            format!("Daily digest, {date}: {items} {things} that did not need you at once.")
        }
        Lang::Ru => format!("Сводка за {date}. Не срочное, всего: {items}."),
    }
}

/// The first line of a digest's later parts, when it is too long for one message.
pub fn digest_continued(lang: Lang, date: NaiveDate, part: usize, parts: usize) -> String {
    let date = date.format("%Y-%m-%d");
    match lang {
        Lang::En => format!("Daily digest, {date}, continued ({part} of {parts}):"),
        Lang::Ru => format!("Сводка за {date}, продолжение ({part} из {parts}):"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_russian_speaker_reads_russian_and_everyone_else_english() {
        assert_eq!(Lang::of(Some("ru")), Lang::Ru);
        assert_eq!(Lang::of(Some("en")), Lang::En);
        assert_eq!(Lang::of(Some("kk")), Lang::En);
        assert_eq!(Lang::of(None), Lang::En);
    }

    #[test]
    fn the_header_counts_the_items_in_plain_words() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 3).unwrap();
        assert_eq!(
            digest_header(Lang::En, date, 1),
            "Daily digest, 2026-03-03: 1 thing that did not need you at once."
        );
        assert!(digest_header(Lang::En, date, 3).contains("3 things"));
    }
}
