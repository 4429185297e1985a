use super::*;
use chrono::TimeZone;

use crate::domain::ContactId;

fn row() -> SendRow {
    SendRow {
        id: TouchId(1),
        account_id: AccountId(7),
        touch_key: "nps-90".into(),
        kind: "nps".into(),
        category: "survey".into(),
        template: "nps".into(),
        due_at: Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
        account_name: "Acme".into(),
        account_lifecycle: "active".into(),
        account_locale: "en".into(),
        account_time_zone: "Asia/Almaty".into(),
        renewal_date: NaiveDate::from_ymd_opt(2026, 3, 31),
        csm_name: Some("Dana".into()),
        csm_locale: None,
        contact_id: Some(ContactId(3)),
        contact_name: Some("Aigerim".into()),
        contact_channel: Some("whatsapp".into()),
        contact_address: Some("+77010000000".into()),
        contact_locale: Some("ru".into()),
        contact_removed: false,
        contact_unreachable: false,
        contact_opted_out: false,
        // Wrote this morning: WhatsApp's window is open.
        contact_last_inbound_at: Some(Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()),
        template_only: false,
        staff_id: None,
        staff_name: None,
        staff_telegram_user_id: None,
        staff_locale: None,
    }
}

fn now() -> DateTime<Utc> {
    // 20:00 UTC is already the next day in Almaty (UTC+5).
    Utc.with_ymd_and_hms(2026, 3, 1, 20, 0, 0).unwrap()
}

/// The window rule with a template registered for NPS only.
fn window() -> ServiceWindow {
    let mut window = ServiceWindow::default();
    window
        .templates
        .insert("nps".into(), crate::outbound::window::Registered::default());
    window
}

fn skip_reason(row: &SendRow) -> String {
    match prepare(row, now(), &window()) {
        Prepared::Skip(reason) => reason,
        other => panic!("expected a skip, got {other:?}"),
    }
}

#[test]
fn a_client_touch_goes_to_the_contact_in_their_own_locale() {
    let Prepared::Send(touch) = prepare(&row(), now(), &window()) else {
        panic!("expected a send");
    };
    assert_eq!(touch.to.channel, ChannelKind::Whatsapp);
    assert_eq!(touch.to.address, "+77010000000");
    assert_eq!(touch.locale, "ru");
    assert_eq!(touch.recipient_name, "Aigerim");
    assert_eq!(touch.idempotency_key, "touch:7:nps-90");
}

#[test]
fn a_whatsapp_contact_who_wrote_today_gets_free_text() {
    let Prepared::Send(touch) = prepare(&row(), now(), &window()) else {
        panic!("expected a send");
    };
    assert_eq!(touch.as_template, None);
}

#[test]
fn a_whatsapp_contact_silent_for_a_day_gets_the_template_in_their_language() {
    let mut r = row();
    r.contact_last_inbound_at = Some(now() - TimeDelta::hours(24));
    let Prepared::Send(touch) = prepare(&r, now(), &window()) else {
        panic!("expected a send");
    };
    let template = touch.as_template.expect("the template form");
    assert_eq!(template.name, "touchbot_nps");
    assert_eq!(template.language, "ru");
}

#[test]
fn a_touch_whatsapp_refused_as_free_text_goes_as_its_template_even_inside_the_window() {
    let mut r = row();
    r.template_only = true;
    let Prepared::Send(touch) = prepare(&r, now(), &window()) else {
        panic!("expected a send");
    };
    assert!(touch.as_template.is_some());
}

#[test]
fn outside_the_window_without_a_template_the_touch_is_not_sent_and_says_why() {
    let mut r = row();
    r.template = "welcome".into();
    r.kind = "welcome".into();
    r.contact_last_inbound_at = None;
    assert_eq!(
        prepare(&r, now(), &window()),
        Prepared::NoTemplate {
            key: "welcome".into(),
            reason: "outside WhatsApp's 24-hour window and no template configured for \
                     'welcome'"
                .into(),
        }
    );
}

#[test]
fn the_window_rule_is_for_whatsapp_only() {
    let mut r = row();
    r.contact_channel = Some("telegram".into());
    r.contact_last_inbound_at = None;
    let Prepared::Send(touch) = prepare(&r, now(), &ServiceWindow::default()) else {
        panic!("expected a send");
    };
    assert_eq!(touch.as_template, None);
}

#[test]
fn days_to_renewal_count_from_the_accounts_local_date() {
    let Prepared::Send(touch) = prepare(&row(), now(), &window()) else {
        panic!("expected a send");
    };
    assert_eq!(touch.days_to_renewal, Some(29));
}

#[test]
fn without_a_contact_locale_the_accounts_locale_is_used() {
    let mut r = row();
    r.contact_locale = None;
    let Prepared::Send(touch) = prepare(&r, now(), &window()) else {
        panic!("expected a send");
    };
    assert_eq!(touch.locale, "en");
}

#[test]
fn changes_since_planning_skip_the_touch_with_a_reason() {
    let mut r = row();
    r.contact_opted_out = true;
    assert_eq!(skip_reason(&r), "contact opted out of survey messages");
    let mut r = row();
    r.contact_unreachable = true;
    assert_eq!(skip_reason(&r), "contact unreachable");
    let mut r = row();
    r.contact_removed = true;
    assert_eq!(skip_reason(&r), "contact removed");
    let mut r = row();
    r.account_lifecycle = "paused".into();
    assert_eq!(skip_reason(&r), "account is paused");
}

#[test]
fn a_staff_reminder_goes_to_the_csms_telegram_or_is_skipped_without_one() {
    let mut r = row();
    r.contact_id = None;
    r.staff_id = Some(crate::domain::StaffId(2));
    r.staff_name = Some("Dana".into());
    r.kind = "renewal_task".into();
    r.category = "service".into();
    assert_eq!(skip_reason(&r), "CSM has no Telegram id");
    r.staff_telegram_user_id = Some(4242);
    let Prepared::Send(touch) = prepare(&r, now(), &window()) else {
        panic!("expected a send");
    };
    assert_eq!(touch.to.channel, ChannelKind::Telegram);
    assert_eq!(touch.to.address, "4242");
    assert_eq!(touch.contact_name, None);
}

#[test]
fn the_config_reads_from_toml_with_defaults_for_what_is_missing() {
    let config: DispatcherConfig =
        toml::from_str("workers = 2\n[rate_limits.telegram]\noverall_per_second = 10\n").unwrap();
    assert_eq!(config.workers, 2);
    assert_eq!(config.rate_limits.telegram.overall_per_second, Some(10));
    // The other Telegram limit keeps its default rather than silently becoming unlimited.
    assert_eq!(
        config.rate_limits.telegram.per_chat_every_seconds,
        Some(1.0)
    );
    assert_eq!(
        config.max_attempts,
        DispatcherConfig::default().max_attempts
    );
}
