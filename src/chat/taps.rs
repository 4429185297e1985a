//! A tap on a staff button is applied once per callback query: handling the same update again
//! (after its answer failed, or a redelivery) must not repeat the action and its history.

use sqlx::PgPool;

/// Records the callback query `id` on `channel`; true the first time, false for a repeat.
/// A crash between this and the action loses that tap, which the person sees (the card does
/// not change) and repeats; a doubled "taken"/"resolved" would not be noticed.
pub async fn first_time(pool: &PgPool, channel: &str, id: &str) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "insert into staff_callbacks (channel, callback_id) values ($1, $2)
         on conflict do nothing",
        channel,
        id
    )
    .execute(pool)
    .await?
    .rows_affected();
    // Telegram stops redelivering an update after a day; taps come at human speed, so the
    // table stays small without a job of its own.
    sqlx::query!("delete from staff_callbacks where received_at < now() - interval '2 days'")
        .execute(pool)
        .await?;
    Ok(inserted == 1)
}
