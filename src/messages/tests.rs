use chrono::NaiveDate;

use super::*;

fn problems(result: Result<Messages, MessagesError>) -> Vec<TemplateProblem> {
    match result {
        Err(MessagesError::Invalid(problems)) => problems,
        Err(other) => panic!("expected template problems, got {other}"),
        Ok(_) => panic!("expected the templates to be refused"),
    }
}

fn load_only(sources: &[(&str, &str)]) -> Result<Messages, MessagesError> {
    Messages::build(sources, &[])
}

fn everyone() -> Vars {
    Vars::new()
        .contact("Aigerim")
        .account("Steppe Logistics")
        .csm("Dina")
        .days_left(7)
        .renewal_date(NaiveDate::from_ymd_opt(2027, 3, 1).unwrap())
        .score(9)
        .template("touchbot_nps", "nps")
}

#[test]
fn the_embedded_templates_load_and_cover_every_required_key() {
    let messages = Messages::load().unwrap();
    assert_eq!(messages.locales(), vec!["en", "ru"]);
    let keys: Vec<&str> = required_keys().collect();
    messages.check_templates(&keys).unwrap();
}

#[test]
fn every_required_template_renders_in_every_locale_with_the_usual_variables() {
    let messages = Messages::load().unwrap();
    for locale in messages.locales() {
        for key in required_keys() {
            let text = messages.render(locale, key, &everyone()).unwrap();
            assert!(!text.trim().is_empty(), "{locale}/{key} is empty");
            assert!(
                !text.contains('{'),
                "{locale}/{key} left a placeholder: {text}"
            );
            assert!(
                !text.contains('\u{2068}') && !text.contains('\u{2069}'),
                "{locale}/{key} has invisible isolation marks"
            );
        }
    }
}

#[test]
fn a_russian_renewal_counts_days_with_the_right_word_form() {
    let messages = Messages::load().unwrap();
    let render = |days| {
        messages
            .render("ru", "renewal-30", &everyone().days_left(days))
            .unwrap()
    };
    assert!(render(1).contains("остался 1 день"), "{}", render(1));
    assert!(render(3).contains("осталось 3 дня"), "{}", render(3));
    assert!(render(7).contains("осталось 7 дней"), "{}", render(7));
    assert!(render(11).contains("осталось 11 дней"), "{}", render(11));
    assert!(render(21).contains("остался 21 день"), "{}", render(21));
    let notice = messages
        .render("ru", "renewal-7", &everyone().days_left(2))
        .unwrap();
    assert!(notice.contains("1 марта 2027 г., через 2 дня"), "{notice}");
}

#[test]
fn an_english_renewal_says_one_day_or_several_days() {
    let messages = Messages::load().unwrap();
    let one = messages
        .render("en", "renewal-7", &everyone().days_left(1))
        .unwrap();
    assert!(one.contains("on March 1, 2027, in 1 day."), "{one}");
    let seven = messages.render("en", "renewal-7", &everyone()).unwrap();
    assert!(seven.contains("in 7 days."), "{seven}");
}

#[test]
fn the_texts_name_the_contact_and_the_csm() {
    let messages = Messages::load().unwrap();
    let text = messages.render("en", "welcome", &everyone()).unwrap();
    assert!(text.starts_with("Hi Aigerim, welcome aboard!"), "{text}");
    assert!(text.contains("Dina"));
}

#[test]
fn an_unknown_locale_falls_back_to_english_and_a_regional_one_to_its_language() {
    let messages = Messages::load().unwrap();
    let english = messages.render("en", "nps-reask", &Vars::new()).unwrap();
    assert_eq!(
        messages.render("kk", "nps-reask", &Vars::new()).unwrap(),
        english
    );
    let russian = messages.render("ru", "nps-reask", &Vars::new()).unwrap();
    assert_eq!(
        messages.render("ru-KZ", "nps-reask", &Vars::new()).unwrap(),
        russian
    );
    assert_ne!(russian, english);
}

#[test]
fn a_missing_variable_is_an_error_not_a_placeholder_in_the_chat() {
    let messages = Messages::load().unwrap();
    let err = messages
        .render("en", "welcome", &Vars::new().contact("Aigerim"))
        .unwrap_err();
    assert!(
        matches!(&err, MessagesError::Render { key, .. } if key == "welcome"),
        "{err}"
    );
}

#[test]
fn rendering_a_key_nobody_wrote_says_so() {
    let messages = Messages::load().unwrap();
    let err = messages
        .render("en", "renewal-45", &everyone())
        .unwrap_err();
    assert_eq!(
        err,
        MessagesError::UnknownKey {
            key: "renewal-45".into()
        }
    );
}

#[test]
fn a_syntax_error_names_the_file_and_line() {
    let found = problems(load_only(&[(
        "en",
        "welcome = Hi { $contact }\nbroken = { $contact\nfine = ok\n",
    )]));
    assert!(
        matches!(&found[..], [TemplateProblem::Syntax { locale, line: 2, .. }] if locale == "en"),
        "{found:?}"
    );
    assert!(found[0].to_string().starts_with("messages/en.ftl line 2:"));
}

#[test]
fn a_key_missing_from_one_locale_is_refused_at_load() {
    let found = problems(load_only(&[
        ("en", "welcome = Hi\ncsat-thanks = Thanks\n"),
        ("ru", "welcome = Привет\n"),
    ]));
    assert_eq!(
        found,
        vec![TemplateProblem::MissingKey {
            locale: "ru".into(),
            key: "csat-thanks".into()
        }]
    );
}

#[test]
fn a_required_key_missing_everywhere_is_refused_at_load() {
    let found = problems(Messages::build(
        &[("en", "welcome = Hi\n"), ("ru", "welcome = Привет\n")],
        &["welcome", "nps"],
    ));
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found
            .iter()
            .all(|p| matches!(p, TemplateProblem::MissingKey { key, .. } if key == "nps"))
    );
}

#[test]
fn a_template_using_a_variable_its_message_does_not_get_is_refused() {
    let found = problems(load_only(&[(
        "en",
        "welcome = Hi { $contact }, { $days_left } days left\n",
    )]));
    assert!(
        matches!(&found[..], [TemplateProblem::UnknownVariable { key, var, .. }]
            if key == "welcome" && var == "days_left"),
        "{found:?}"
    );
}

#[test]
fn an_unlisted_key_may_only_use_the_common_variables() {
    let ok = load_only(&[("en", "extra = Hi { $contact } from { $csm }\n")]);
    assert!(ok.is_ok());
    let found = problems(load_only(&[("en", "extra = Hi { $first_name }\n")]));
    assert!(
        found[0].to_string().contains("$contact, $account, $csm"),
        "{}",
        found[0]
    );
}

#[test]
fn a_button_label_may_not_use_variables() {
    let found = problems(load_only(&[(
        "en",
        "checkin-reply-good = All good, { $csm }\n",
    )]));
    assert!(matches!(
        &found[..],
        [TemplateProblem::UnknownVariable { .. }]
    ));
}

#[test]
fn a_key_defined_twice_is_refused() {
    let found = problems(load_only(&[("en", "welcome = Hi\nwelcome = Hello\n")]));
    assert_eq!(
        found,
        vec![TemplateProblem::Duplicate {
            locale: "en".into(),
            key: "welcome".into()
        }]
    );
}

#[test]
fn templates_without_english_are_refused() {
    let found = problems(load_only(&[("ru", "welcome = Привет\n")]));
    assert_eq!(found, vec![TemplateProblem::NoFallback]);
}

#[test]
fn check_templates_reports_the_calendars_unknown_names() {
    let messages = Messages::load().unwrap();
    let err = messages
        .check_templates(&["welcome", "nps-45"])
        .unwrap_err();
    assert_eq!(
        err,
        MessagesError::Invalid(vec![
            TemplateProblem::MissingKey {
                locale: "en".into(),
                key: "nps-45".into()
            },
            TemplateProblem::MissingKey {
                locale: "ru".into(),
                key: "nps-45".into()
            },
        ])
    );
}

#[test]
fn messages_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Messages>();
}
