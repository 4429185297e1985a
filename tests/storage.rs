//! Accounts, contacts and staff as a user creates and finds them, against a real PostgreSQL
//! (one fresh database per test).

mod fixtures;

use fixtures::{account, contact, count, csm, date, new_account, new_contact, now};
use sqlx::PgPool;
use touchbot::domain::{AccountLifecycle, ChannelKind, ContactRole, Segment};
use touchbot::outbound::calendar::CalendarConfig;
use touchbot::outbound::planner;
use touchbot::storage::{StoreError, accounts, contacts, staff};

fn message(e: StoreError) -> String {
    assert!(e.is_user_error(), "expected a user error, got {e:?}");
    e.to_string()
}

// --- accounts -------------------------------------------------------------------------------

#[sqlx::test]
async fn an_account_without_a_name_is_refused_and_nothing_is_stored(pool: PgPool) {
    let e = accounts::create(&pool, &new_account("   ", date(2026, 3, 2)))
        .await
        .unwrap_err();
    assert_eq!(message(e), "the account name is empty");
    assert_eq!(count(&pool, "accounts").await, 0);
}

#[sqlx::test]
async fn an_unknown_time_zone_is_refused_with_an_example_of_a_good_one(pool: PgPool) {
    let mut new = new_account("Northwind", date(2026, 3, 2));
    new.time_zone = "Almaty".into();
    let e = accounts::create(&pool, &new).await.unwrap_err();
    let text = message(e);
    assert!(text.contains("'Almaty' is not a known time zone"), "{text}");
    assert!(text.contains("Asia/Almaty"), "{text}");
    assert_eq!(count(&pool, "accounts").await, 0);
}

#[sqlx::test]
async fn a_renewal_before_the_contract_start_is_refused(pool: PgPool) {
    let mut new = new_account("Northwind", date(2026, 3, 2));
    new.renewal_date = Some(date(2026, 1, 1));
    let e = accounts::create(&pool, &new).await.unwrap_err();
    assert_eq!(
        message(e),
        "the renewal date 2026-01-01 must be after the contract start 2026-03-02"
    );
    assert_eq!(count(&pool, "accounts").await, 0);
}

#[sqlx::test]
async fn an_unsupported_language_is_refused_with_the_supported_ones(pool: PgPool) {
    let mut new = new_account("Northwind", date(2026, 3, 2));
    new.locale = "kk".into();
    let text = message(accounts::create(&pool, &new).await.unwrap_err());
    assert!(text.contains("use one of: en, ru"), "{text}");
}

#[sqlx::test]
async fn a_second_account_with_the_same_name_in_another_case_is_refused(pool: PgPool) {
    account(&pool, new_account("Northwind", date(2026, 3, 2))).await;
    let e = accounts::create(&pool, &new_account("NORTHWIND", date(2026, 4, 1)))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Duplicate(_)), "{e:?}");
    assert_eq!(message(e), "an account named 'NORTHWIND' already exists");
    assert_eq!(count(&pool, "accounts").await, 1);
}

#[sqlx::test]
async fn an_account_is_found_by_id_by_its_name_in_any_case_and_by_a_unique_part(pool: PgPool) {
    let id = account(&pool, new_account("Northwind Traders", date(2026, 3, 2))).await;
    account(&pool, new_account("Contoso", date(2026, 3, 2))).await;

    assert_eq!(accounts::find(&pool, &id.to_string()).await.unwrap().id, id);
    assert_eq!(
        accounts::find(&pool, "northwind traders").await.unwrap().id,
        id
    );
    assert_eq!(accounts::find(&pool, "  TRADERS ").await.unwrap().id, id);
}

#[sqlx::test]
async fn an_exact_name_wins_over_longer_names_that_contain_it(pool: PgPool) {
    let id = account(&pool, new_account("Kaspi", date(2026, 3, 2))).await;
    account(&pool, new_account("Kaspi Pay", date(2026, 3, 2))).await;
    assert_eq!(accounts::find(&pool, "KASPI").await.unwrap().id, id);
}

#[sqlx::test]
async fn an_exact_cyrillic_name_in_another_case_wins_over_longer_names(pool: PgPool) {
    let id = account(&pool, new_account("Альфа", date(2026, 3, 2))).await;
    account(&pool, new_account("Альфа Банк", date(2026, 3, 2))).await;
    assert_eq!(accounts::find(&pool, "АЛЬФА").await.unwrap().id, id);
}

#[sqlx::test]
async fn an_ambiguous_part_of_a_name_lists_the_candidates(pool: PgPool) {
    let a = account(&pool, new_account("Northwind", date(2026, 3, 2))).await;
    let b = account(&pool, new_account("Northstar", date(2026, 3, 2))).await;
    let e = accounts::find(&pool, "north").await.unwrap_err();
    assert!(matches!(e, StoreError::Ambiguous { .. }), "{e:?}");
    assert_eq!(
        message(e),
        format!(
            "'north' matches several accounts: Northstar (id {b}), Northwind (id {a}); \
             use the id or the full name"
        )
    );
}

#[sqlx::test]
async fn an_unknown_name_says_how_to_see_the_accounts(pool: PgPool) {
    account(&pool, new_account("Northwind", date(2026, 3, 2))).await;
    let e = accounts::find(&pool, "globex").await.unwrap_err();
    assert_eq!(
        message(e),
        "no account matches 'globex'; 'touchbot account list' shows them all"
    );
}

#[sqlx::test]
async fn an_update_is_checked_like_a_new_account_and_a_refused_one_changes_nothing(pool: PgPool) {
    let id = account(&pool, new_account("Northwind", date(2026, 3, 2))).await;
    account(&pool, new_account("Contoso", date(2026, 3, 2))).await;

    let refused = [
        accounts::AccountUpdate {
            renewal_date: Some(Some(date(2026, 2, 1))),
            ..Default::default()
        },
        accounts::AccountUpdate {
            time_zone: Some("Mars/Olympus".into()),
            ..Default::default()
        },
        accounts::AccountUpdate {
            name: Some(" ".into()),
            ..Default::default()
        },
        accounts::AccountUpdate {
            name: Some("contoso".into()),
            ..Default::default()
        },
        accounts::AccountUpdate {
            contract_start: Some(date(2027, 1, 1)),
            renewal_date: Some(Some(date(2026, 12, 1))),
            ..Default::default()
        },
    ];
    for change in &refused {
        let e = accounts::update(&pool, id, change).await.unwrap_err();
        assert!(e.is_user_error(), "{change:?}: {e:?}");
    }
    let unchanged = accounts::get(&pool, id).await.unwrap().unwrap();
    assert_eq!(unchanged.name, "Northwind");
    assert_eq!(unchanged.renewal_date, None);
    assert_eq!(unchanged.time_zone, chrono_tz::UTC);

    let changed = accounts::update(
        &pool,
        id,
        &accounts::AccountUpdate {
            segment: Some(Segment::Enterprise),
            renewal_date: Some(Some(date(2027, 3, 2))),
            time_zone: Some("Asia/Almaty".into()),
            lifecycle: Some(AccountLifecycle::Paused),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(changed.name, "Northwind");
    assert_eq!(changed.segment, Segment::Enterprise);
    assert_eq!(changed.renewal_date, Some(date(2027, 3, 2)));
    assert_eq!(changed.time_zone, chrono_tz::Asia::Almaty);
    assert_eq!(changed.lifecycle, AccountLifecycle::Paused);
}

// --- contacts -------------------------------------------------------------------------------

#[sqlx::test]
async fn a_whatsapp_number_is_stored_in_e164_with_its_plus(pool: PgPool) {
    let a = account(&pool, new_account("Northwind", date(2026, 3, 2))).await;
    let c = contacts::add(
        &pool,
        &new_contact(a, "Dana", ContactRole::Champion, "+7 701 123-45-67"),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(c.address.as_deref(), Some("+77011234567"));
    assert_eq!(c.channel, ChannelKind::Whatsapp);
}

#[sqlx::test]
async fn a_bad_phone_number_is_refused_with_an_example(pool: PgPool) {
    let a = account(&pool, new_account("Northwind", date(2026, 3, 2))).await;
    for bad in ["12345", "8 (701) 123 45 67 ext 2", "0701123456"] {
        let e = contacts::add(
            &pool,
            &new_contact(a, "Dana", ContactRole::Champion, bad),
            now(),
        )
        .await
        .unwrap_err();
        let text = message(e);
        assert!(text.contains("e.g. +77011234567"), "{bad}: {text}");
    }
    assert_eq!(count(&pool, "contacts").await, 0);
}

#[sqlx::test]
async fn two_contacts_with_the_same_address_are_refused(pool: PgPool) {
    let a = account(&pool, new_account("Northwind", date(2026, 3, 2))).await;
    let b = account(&pool, new_account("Contoso", date(2026, 3, 2))).await;
    contact(
        &pool,
        a,
        "Dana",
        ContactRole::Champion,
        "+77011234567",
        now(),
    )
    .await;
    let e = contacts::add(
        &pool,
        &new_contact(b, "Dana again", ContactRole::User, "+7 (701) 123 45 67"),
        now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, StoreError::Duplicate(_)), "{e:?}");
    assert_eq!(
        message(e),
        "another contact already uses whatsapp address +77011234567"
    );
    assert_eq!(count(&pool, "contacts").await, 1);
}

#[sqlx::test]
async fn a_removed_contact_is_hidden_and_its_planned_touches_are_cancelled(pool: PgPool) {
    let mut new = new_account("Northwind", date(2026, 3, 2));
    new.renewal_date = Some(date(2027, 3, 2));
    let a = account(&pool, new).await;
    let dana = contact(
        &pool,
        a,
        "Dana",
        ContactRole::Champion,
        "+77011234567",
        now(),
    )
    .await;
    let ivan = contact(&pool, a, "Ivan", ContactRole::User, "+77017654321", now()).await;
    planner::replan_account(&pool, &CalendarConfig::default(), a, now())
        .await
        .unwrap();
    let planned_for_dana: Vec<i64> = sqlx::query_scalar(
        "select id from touches where contact_id = $1 and status = 'planned' order by id",
    )
    .bind(dana.0)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(!planned_for_dana.is_empty());

    contacts::remove(&pool, a, dana, now()).await.unwrap();

    let left: Vec<String> = contacts::list(&pool, a)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(left, ["Ivan"]);
    assert!(contacts::get(&pool, dana).await.unwrap().is_none());
    let dana_touches: Vec<(i64, String, Option<String>)> = sqlx::query_as(
        "select id, status, status_reason from touches
         where contact_id = $1 and status <> 'skipped' order by id",
    )
    .bind(dana.0)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        dana_touches.iter().map(|t| t.0).collect::<Vec<_>>(),
        planned_for_dana
    );
    assert!(
        dana_touches
            .iter()
            .all(|(_, s, r)| s == "cancelled" && r.as_deref() == Some("contact removed")),
        "{dana_touches:?}"
    );
    // The history stays in the table, and nothing of Ivan's was touched.
    assert_eq!(count(&pool, "contacts").await, 2);
    let ivan_planned: i64 = sqlx::query_scalar(
        "select count(*) from touches where contact_id = $1 and status = 'planned'",
    )
    .bind(ivan.0)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(ivan_planned > 0);

    // The address is free again for someone else.
    contact(
        &pool,
        a,
        "Dana's successor",
        ContactRole::Champion,
        "+77011234567",
        now(),
    )
    .await;
}

#[sqlx::test]
async fn removing_a_contact_of_another_account_is_refused(pool: PgPool) {
    let a = account(&pool, new_account("Northwind", date(2026, 3, 2))).await;
    let b = account(&pool, new_account("Contoso", date(2026, 3, 2))).await;
    let dana = contact(
        &pool,
        a,
        "Dana",
        ContactRole::Champion,
        "+77011234567",
        now(),
    )
    .await;
    let e = contacts::remove(&pool, b, dana, now()).await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "{e:?}");
    assert_eq!(contacts::list(&pool, a).await.unwrap().len(), 1);
}

// --- staff ----------------------------------------------------------------------------------

#[sqlx::test]
async fn a_staff_member_is_found_by_a_unique_part_of_the_name(pool: PgPool) {
    let aigerim = csm(&pool, "Aigerim Sadykova").await;
    let boris = csm(&pool, "Boris Sadykov").await;
    assert_eq!(staff::find(&pool, "aigerim").await.unwrap().id, aigerim);
    assert_eq!(
        staff::find(&pool, &boris.to_string()).await.unwrap().id,
        boris
    );
    assert_eq!(staff::find(&pool, "Boris Sadykov").await.unwrap().id, boris);
    let e = staff::find(&pool, "sadyk").await.unwrap_err();
    assert!(matches!(e, StoreError::Ambiguous { .. }), "{e:?}");
    let text = message(e);
    assert!(text.contains("Aigerim Sadykova (id"), "{text}");
    assert!(text.contains("Boris Sadykov (id"), "{text}");
    let e = staff::find(&pool, "zhanna").await.unwrap_err();
    assert_eq!(
        message(e),
        "no staff member matches 'zhanna'; 'touchbot staff list' shows the team"
    );
}

#[sqlx::test]
async fn an_exact_cyrillic_staff_name_in_another_case_wins(pool: PgPool) {
    let dina = csm(&pool, "Дина").await;
    csm(&pool, "Динара Ахметова").await;
    assert_eq!(staff::find(&pool, "ДИНА").await.unwrap().id, dina);
}

#[sqlx::test]
async fn a_second_staff_member_with_the_same_name_is_refused(pool: PgPool) {
    csm(&pool, "Aigerim Sadykova").await;
    let e = staff::add(
        &pool,
        &staff::NewStaff {
            name: "aigerim sadykova".into(),
            role: touchbot::domain::StaffRole::CsManager,
            telegram_user_id: None,
            locale: "en".into(),
            manager_id: None,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, StoreError::Duplicate(_)), "{e:?}");
    assert_eq!(count(&pool, "staff").await, 1);
}
