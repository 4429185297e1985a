use proptest::prelude::*;

use super::*;

fn nps(text: &str) -> ParsedReply {
    parse_reply(text, Expecting::Nps)
}

fn score(score: u8) -> ParsedReply {
    ParsedReply::Nps {
        score,
        comment: None,
    }
}

fn scored(score: u8, comment: &str) -> ParsedReply {
    ParsedReply::Nps {
        score,
        comment: Some(comment.to_string()),
    }
}

#[test]
fn a_bare_number_is_a_score() {
    assert_eq!(nps("8"), score(8));
    assert_eq!(nps(" 8 "), score(8));
    assert_eq!(nps("0"), score(0));
    assert_eq!(nps("10"), score(10));
}

#[test]
fn a_score_written_against_its_scale_is_a_score() {
    assert_eq!(nps("8/10"), score(8));
    assert_eq!(nps("8 / 10"), score(8));
    assert_eq!(nps("8 из 10"), score(8));
    assert_eq!(nps("8 out of 10"), score(8));
    assert_eq!(nps("8 Out Of 10"), score(8));
    assert_eq!(nps("8 баллов"), score(8));
    assert_eq!(nps("9 points"), score(9));
}

#[test]
fn number_words_in_english_and_russian_are_scores() {
    assert_eq!(nps("eight"), score(8));
    assert_eq!(nps("Ten"), score(10));
    assert_eq!(nps("десять"), score(10));
    assert_eq!(nps("восемь"), score(8));
    assert_eq!(nps("ноль"), score(0));
    assert_eq!(nps("Восемь из 10"), score(8));
    let english = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    let russian = [
        "ноль",
        "один",
        "два",
        "три",
        "четыре",
        "пять",
        "шесть",
        "семь",
        "восемь",
        "девять",
        "десять",
    ];
    for (n, (en, ru)) in english.iter().zip(russian).enumerate() {
        assert_eq!(nps(en), score(n as u8), "{en}");
        assert_eq!(nps(ru), score(n as u8), "{ru}");
    }
}

#[test]
fn a_score_followed_by_words_keeps_them_as_the_comment() {
    assert_eq!(nps("8 — всё хорошо"), scored(8, "всё хорошо"));
    assert_eq!(nps("9, great support"), scored(9, "great support"));
    assert_eq!(nps("9 great support!"), scored(9, "great support!"));
    assert_eq!(
        nps("8/10: onboarding was slow"),
        scored(8, "onboarding was slow")
    );
    assert_eq!(nps("восемь — всё хорошо"), scored(8, "всё хорошо"));
    assert_eq!(
        nps("3\nexports keep failing"),
        scored(3, "exports keep failing")
    );
}

#[test]
fn emphasis_after_a_score_is_not_a_comment() {
    assert_eq!(nps("10!!!"), score(10));
    assert_eq!(nps("10 !!!"), score(10));
    assert_eq!(nps("7."), score(7));
}

#[test]
fn numbers_off_the_scale_are_unclear() {
    for text in [
        "11",
        "-1",
        "85",
        "100",
        "одиннадцать",
        "eleven",
        "8.5",
        "8,5",
        "4/5",
        "8/100",
    ] {
        assert_eq!(nps(text), ParsedReply::Unclear, "{text}");
    }
}

#[test]
fn a_number_inside_a_sentence_is_unclear_so_the_contact_is_asked_again() {
    assert_eq!(nps("I'd give it an 8 maybe"), ParsedReply::Unclear);
    assert_eq!(nps("we have used it for 3 weeks"), ParsedReply::Unclear);
    assert_eq!(nps("one thing bothers me"), ParsedReply::Unclear);
    assert_eq!(nps("hmm"), ParsedReply::Unclear);
    assert_eq!(nps(""), ParsedReply::Unclear);
}

#[test]
fn two_numbers_in_a_row_are_unclear() {
    assert_eq!(nps("8 9"), ParsedReply::Unclear);
    assert_eq!(nps("7-8"), ParsedReply::Unclear);
    assert_eq!(nps("5k"), ParsedReply::Unclear);
}

#[test]
fn a_csat_score_runs_from_one_to_five() {
    let csat = |t| parse_reply(t, Expecting::Csat);
    assert_eq!(
        csat("5"),
        ParsedReply::Csat {
            score: 5,
            comment: None
        }
    );
    assert_eq!(
        csat("4/5, quick answer"),
        ParsedReply::Csat {
            score: 4,
            comment: Some("quick answer".into())
        }
    );
    assert_eq!(
        csat("пять"),
        ParsedReply::Csat {
            score: 5,
            comment: None
        }
    );
    assert_eq!(csat("0"), ParsedReply::Unclear);
    assert_eq!(csat("6"), ParsedReply::Unclear);
    assert_eq!(csat("4/10"), ParsedReply::Unclear);
}

#[test]
fn stop_words_opt_out_whatever_the_conversation_expects() {
    for text in [
        "stop",
        "/stop",
        "STOP",
        "Стоп",
        "стоп!",
        "отписаться",
        "unsubscribe",
        "/stop@touch_bot",
    ] {
        for expecting in [
            Expecting::Nps,
            Expecting::Csat,
            Expecting::Checkin,
            Expecting::Nothing,
        ] {
            assert_eq!(parse_reply(text, expecting), ParsedReply::OptOut, "{text}");
        }
    }
}

#[test]
fn stop_inside_a_sentence_is_not_an_opt_out() {
    assert_eq!(
        parse_reply("please don't stop these", Expecting::Nothing),
        ParsedReply::FreeText("please don't stop these".into())
    );
}

#[test]
fn start_is_reported_as_opt_in_for_the_caller_to_judge() {
    assert_eq!(
        parse_reply("/start", Expecting::Nothing),
        ParsedReply::OptIn
    );
    assert_eq!(parse_reply("start", Expecting::Nps), ParsedReply::OptIn);
    assert_eq!(
        parse_reply("/start abc123", Expecting::Nothing),
        ParsedReply::OptIn
    );
}

#[test]
fn checkin_phrases_are_understood_in_both_languages() {
    use CheckinAnswer::*;
    let checkin = |t| parse_reply(t, Expecting::Checkin);
    for (text, answer) in [
        ("всё хорошо", Good),
        ("Все хорошо, спасибо!", Good),
        ("all good", Good),
        ("All good, thanks", Good),
        ("need help", Help),
        ("I need help", Help),
        ("нужна помощь", Help),
        ("Нужна помощь с отчётами", Help),
        ("позовите менеджера", Manager),
        ("talk to my manager", Manager),
        ("Talk to my manager please", Manager),
        ("ok, but we need help with exports", Help),
    ] {
        assert_eq!(checkin(text), ParsedReply::Checkin(answer), "{text}");
    }
}

#[test]
fn a_checkin_reply_with_news_in_it_is_free_text_for_the_csm() {
    let checkin = |t| parse_reply(t, Expecting::Checkin);
    for text in [
        "all good except the exports",
        "good morning, a quick question about invoices",
        "not all good",
        "our manager liked the report",
    ] {
        assert_eq!(checkin(text), ParsedReply::FreeText(text.into()), "{text}");
    }
}

#[test]
fn nothing_expected_means_everything_is_free_text() {
    assert_eq!(
        parse_reply(" 8 ", Expecting::Nothing),
        ParsedReply::FreeText("8".into())
    );
    assert_eq!(
        parse_reply("all good", Expecting::Nothing),
        ParsedReply::FreeText("all good".into())
    );
}

fn any_expecting() -> impl Strategy<Value = Expecting> {
    prop::sample::select(vec![
        Expecting::Nps,
        Expecting::Csat,
        Expecting::Checkin,
        Expecting::Nothing,
    ])
}

proptest! {
    #[test]
    fn any_text_gets_an_answer_without_panicking(text in "\\PC{0,80}", expecting in any_expecting()) {
        let _ = parse_reply(&text, expecting);
    }

    #[test]
    fn every_score_in_every_usual_form_is_read(
        n in 0u8..=10,
        form in prop::sample::select(vec!["{}", " {} ", "{}/10", "{} из 10", "{} out of 10", "{}!", "{} / 10"]),
    ) {
        let text = form.replace("{}", &n.to_string());
        prop_assert_eq!(nps(&text), score(n));
    }

    #[test]
    fn any_larger_number_is_never_a_score(n in 11u32..100_000) {
        prop_assert_eq!(nps(&n.to_string()), ParsedReply::Unclear);
        prop_assert_eq!(nps(&format!("{n}, great")), ParsedReply::Unclear);
    }

    #[test]
    fn a_comment_after_a_score_survives_intact(
        n in 0u8..=10,
        sep in prop::sample::select(vec![", ", " — ", ": ", " - ", ". ", " "]),
        comment in "[a-zA-Zа-яА-Я][a-zA-Zа-яА-Я ,!?]{0,40}[a-zA-Zа-яА-Я!?]",
    ) {
        // A comment that opens with a unit word ("points…") loses it; skip those.
        prop_assume!(!UNITS.iter().any(|u| comment.to_lowercase().starts_with(u)));
        let text = format!("{n}{sep}{comment}");
        prop_assert_eq!(nps(&text), scored(n, &comment));
    }

    #[test]
    fn a_score_is_always_within_its_scale(text in "\\PC{0,20}") {
        match nps(&text) {
            ParsedReply::Nps { score, .. } => prop_assert!(score <= 10),
            ParsedReply::Unclear | ParsedReply::OptIn | ParsedReply::OptOut => {}
            other => prop_assert!(false, "unexpected {:?}", other),
        }
        match parse_reply(&text, Expecting::Csat) {
            ParsedReply::Csat { score, .. } => prop_assert!((1..=5).contains(&score)),
            ParsedReply::Unclear | ParsedReply::OptIn | ParsedReply::OptOut => {}
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}
