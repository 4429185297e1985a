use super::*;
use crate::channel::Address;

fn message(text: &str, labels: &[&str]) -> OutboundMessage {
    OutboundMessage {
        idempotency_key: "touch:7:1".into(),
        to: Address {
            channel: ChannelKind::Whatsapp,
            address: "77011234567".into(),
        },
        text: text.into(),
        buttons: labels
            .iter()
            .map(|l| {
                vec![Button {
                    label: l.to_string(),
                    data: format!("x:{l}"),
                }]
            })
            .collect(),
        template: None,
    }
}

fn error_body(code: i64, message: &str) -> String {
    json!({"error": {"message": message, "type": "OAuthException", "code": code,
        "fbtrace_id": "Az1"}})
    .to_string()
}

fn reason(e: SendError) -> Option<PermanentReason> {
    match e {
        SendError::Permanent { reason, .. } => Some(reason),
        _ => None,
    }
}

#[test]
fn a_plain_text_carries_the_touch_key_as_callback_data() {
    let body = payload(&message("Hello", &[]), "77011234567");
    assert_eq!(body["type"], "text");
    assert_eq!(body["to"], "77011234567");
    assert_eq!(body["text"]["body"], "Hello");
    assert_eq!(body["biz_opaque_callback_data"], "touch:7:1");
}

#[test]
fn three_short_choices_go_as_reply_buttons_with_their_data_as_ids() {
    let body = payload(
        &message(
            "How is it going?",
            &["All good", "I need help", "Talk to my manager"],
        ),
        "77011234567",
    );
    assert_eq!(body["type"], "interactive");
    let buttons = body["interactive"]["action"]["buttons"].as_array().unwrap();
    assert_eq!(buttons.len(), 3);
    assert_eq!(buttons[1]["reply"]["id"], "x:I need help");
    assert_eq!(buttons[1]["reply"]["title"], "I need help");
}

#[test]
fn an_nps_scale_goes_as_text_with_the_numbers_to_type() {
    let labels: Vec<String> = (0..=10).map(|n| n.to_string()).collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let body = payload(&message("How likely…?", &labels), "77011234567");
    assert_eq!(body["type"], "text");
    assert_eq!(
        body["text"]["body"],
        "How likely…?\n\n0 · 1 · 2 · 3 · 4 · 5 · 6 · 7 · 8 · 9 · 10"
    );
}

#[test]
fn a_title_over_twenty_characters_turns_the_choices_into_a_numbered_list() {
    let body = payload(
        &message("Pick", &["Yes", "Разговор с руководителем"]),
        "77011234567",
    );
    assert_eq!(body["type"], "text");
    assert_eq!(
        body["text"]["body"],
        "Pick\n\n1. Yes\n2. Разговор с руководителем"
    );
}

#[test]
fn rate_limits_back_off_and_nothing_is_given_up() {
    let throughput = classify(
        StatusCode::BAD_REQUEST,
        &error_body(130429, "Rate limit hit"),
    );
    assert_eq!(
        throughput,
        SendError::RateLimited {
            retry_after: THROUGHPUT_BACKOFF
        }
    );
    let pair = classify(
        StatusCode::BAD_REQUEST,
        &error_body(131056, "Pair rate limit"),
    );
    assert!(matches!(pair, SendError::RateLimited { .. }), "{pair:?}");
}

#[test]
fn a_number_not_on_whatsapp_or_a_bad_recipient_is_permanent() {
    let not_a_user = classify(
        StatusCode::BAD_REQUEST,
        &error_body(131026, "Message undeliverable"),
    );
    assert_eq!(reason(not_a_user), Some(PermanentReason::UnknownChat));
    let bad_to = classify(
        StatusCode::BAD_REQUEST,
        &error_body(100, "Invalid parameter: recipient phone number not valid"),
    );
    assert_eq!(reason(bad_to), Some(PermanentReason::InvalidAddress));
    let other = classify(
        StatusCode::BAD_REQUEST,
        &error_body(131009, "Parameter value is not valid"),
    );
    assert_eq!(reason(other), Some(PermanentReason::Rejected));
}

#[test]
fn a_refused_token_is_retried_later_and_an_unreadable_5xx_is_unknown() {
    let token = classify(
        StatusCode::UNAUTHORIZED,
        &error_body(190, "Error validating access token"),
    );
    assert!(matches!(token, SendError::Transient(_)), "{token:?}");
    let gateway = classify(StatusCode::BAD_GATEWAY, "<html>502</html>");
    assert!(matches!(gateway, SendError::Unknown(_)), "{gateway:?}");
}

#[test]
fn an_answer_names_the_message_by_its_wamid() {
    let body = r#"{"messaging_product":"whatsapp","contacts":[{"input":"77011234567","wa_id":"77011234567"}],"messages":[{"id":"wamid.HBgL"}]}"#;
    assert_eq!(accepted(body).unwrap().provider_message_id, "wamid.HBgL");
    assert!(accepted("<html>").is_none());
}

#[tokio::test]
async fn a_bad_number_or_an_overlong_text_is_refused_before_calling_whatsapp() {
    let mut settings = WhatsAppSettings {
        api_url: "http://127.0.0.1:9".into(),
        ..Default::default()
    };
    settings.access_token = Some("EAAG-secret-token".into());
    settings.phone_number_id = Some("1".into());
    let channel = WhatsAppChannel::from_settings(&settings).unwrap().unwrap();
    let mut m = message(&"é".repeat(MAX_TEXT_LEN + 1), &[]);
    let err = channel.send(&m).await.unwrap_err();
    assert!(err.to_string().contains("at most 4096"), "{err}");
    m.text = "hi".into();
    m.to.address = "8701".into();
    assert_eq!(
        reason(channel.send(&m).await.unwrap_err()),
        Some(PermanentReason::InvalidAddress)
    );
    // Nothing listens on port 9: a refused connection never left, so it is retried.
    m.to.address = "77011234567".into();
    let err = channel.send(&m).await.unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    assert!(!format!("{channel:?}").contains("secret-token"));
}

#[tokio::test]
async fn a_text_that_the_written_out_choices_push_over_the_limit_is_refused_before_sending() {
    let mut settings = WhatsAppSettings {
        api_url: "http://127.0.0.1:9".into(),
        ..Default::default()
    };
    settings.access_token = Some("t".into());
    settings.phone_number_id = Some("1".into());
    let channel = WhatsAppChannel::from_settings(&settings).unwrap().unwrap();
    let labels: Vec<String> = (0..=10).map(|n| n.to_string()).collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let m = message(&"a".repeat(MAX_TEXT_LEN - 10), &labels);
    assert_eq!(
        reason(channel.send(&m).await.unwrap_err()),
        Some(PermanentReason::Rejected)
    );
}
