//! The accounts the portfolio lists under its figures: the first page of those that most need
//! attention, in a stated order, with how many more there are; every account with `--all`.

use chrono::Duration;
use sqlx::PgPool;
use touchbot::domain::{AccountId, AccountLifecycle};
use touchbot::metrics::Params;
use touchbot::status::{AccountOrder, FIRST_PAGE, Listing, portfolio, portfolio_listing};
use touchbot::storage::accounts;

use super::fixtures::scores::stored_score;
use super::fixtures::{account, date, new_account, now};

/// A stored health score of `score` at `days_ago` days before now.
pub(super) async fn scored(pool: &PgPool, a: AccountId, score: i16, days_ago: i64) {
    stored_score(pool, a, Some(score), now() - Duration::days(days_ago)).await;
}

async fn named(pool: &PgPool, name: &str) -> AccountId {
    account(pool, new_account(name, date(2025, 3, 1))).await
}

#[sqlx::test]
async fn red_accounts_come_first_then_yellow_then_unscored_then_green_and_churned_last(
    pool: PgPool,
) {
    let green_falling = named(&pool, "Green falling").await;
    scored(&pool, green_falling, 95, 31).await;
    scored(&pool, green_falling, 85, 1).await;
    let red = named(&pool, "Red").await;
    scored(&pool, red, 30, 1).await;
    let red_falling = named(&pool, "Red falling").await;
    scored(&pool, red_falling, 60, 31).await;
    scored(&pool, red_falling, 40, 1).await;
    let yellow = named(&pool, "Yellow").await;
    scored(&pool, yellow, 60, 1).await;
    let mut soon = new_account("Yellow renewing soon", date(2025, 3, 1));
    soon.renewal_date = Some(now().date_naive() + Duration::days(10));
    let soon = account(&pool, soon).await;
    scored(&pool, soon, 60, 1).await;
    let lower = named(&pool, "Yellow lower").await;
    scored(&pool, lower, 55, 1).await;
    named(&pool, "Unscored").await;
    let gone = named(&pool, "Churned red").await;
    scored(&pool, gone, 10, 1).await;
    accounts::update(
        &pool,
        gone,
        &accounts::AccountUpdate {
            lifecycle: Some(AccountLifecycle::Churned),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let p = portfolio(&pool, now()).await.unwrap();
    let order: Vec<&str> = p.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        order,
        [
            "Red falling",
            "Red",
            "Yellow lower",
            "Yellow renewing soon",
            "Yellow",
            "Unscored",
            "Green falling",
            "Churned red",
        ]
    );
    assert_eq!((p.order, p.total_accounts), (AccountOrder::Attention, 8));
    let text = touchbot::status::render_portfolio(&p);
    assert!(text.contains("Accounts to look at first:\n"), "{text}");
    assert!(!text.contains("more accounts"), "{text}");
}

#[sqlx::test]
async fn a_large_portfolio_lists_its_first_page_and_says_how_many_more_there_are(pool: PgPool) {
    for i in 0..FIRST_PAGE + 5 {
        let a = named(&pool, &format!("Account {i:02}")).await;
        // Every account green but one red, which must lead the page though its name is last.
        scored(&pool, a, if i == FIRST_PAGE + 4 { 20 } else { 90 }, 1).await;
    }

    let p = portfolio(&pool, now()).await.unwrap();
    assert_eq!(p.accounts.len(), FIRST_PAGE);
    assert_eq!(p.total_accounts, FIRST_PAGE + 5);
    assert_eq!(p.metrics.accounts, FIRST_PAGE + 5);
    assert_eq!(p.accounts[0].name, format!("Account {:02}", FIRST_PAGE + 4));
    assert_eq!(p.accounts[1].name, "Account 00");
    let text = touchbot::status::render_portfolio(&p);
    assert!(
        text.contains("5 more accounts: touchbot status --all, or GET /api/v1/accounts\n"),
        "{text}"
    );
    assert!(!text.contains("Account 28"), "{text}");

    let all = portfolio_listing(&pool, now(), None, &Params::default(), Listing::All)
        .await
        .unwrap();
    let names: Vec<String> = all.accounts.iter().map(|a| a.name.clone()).collect();
    let by_name: Vec<String> = (0..FIRST_PAGE + 5)
        .map(|i| format!("Account {i:02}"))
        .collect();
    assert_eq!(names, by_name);
    assert_eq!(all.order, AccountOrder::Name);
    let text = touchbot::status::render_portfolio(&all);
    assert!(!text.contains("more accounts"), "{text}");
    assert!(text.contains("Account 28"), "{text}");
    // The figures are the same whichever accounts are listed.
    assert_eq!(all.metrics, p.metrics);
    assert_eq!(all.by_csm, p.by_csm);
}
