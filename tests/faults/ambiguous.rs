//! Telegram accepts a message and then the answer goes astray: it never comes, or it cannot be
//! read. The message arrived, so sending it again would be a duplicate the client sees.

use sqlx::PgPool;

use crate::process::{Options, Touchbot, database_addr};
use std::time::Duration;

use crate::support::fake_telegram::{Failure, FakeTelegram};
use crate::{assert_nothing_lost_nothing_twice, chat, outbox, seed_wave, wave_settled};

#[sqlx::test]
async fn a_send_whose_answer_hangs_or_is_garbled_is_never_resent(pool: PgPool) {
    let fake = FakeTelegram::start().await;
    seed_wave(&pool, 3, "welcome").await;
    // Longer than any client waits for an answer.
    let hang = Failure::AcceptThenHang(Duration::from_secs(120));
    fake.fail("sendMessage", Some(chat(0)), hang, 1);
    fake.fail("sendMessage", Some(chat(1)), Failure::AcceptThenGarbage, 1);
    // A lease longer than the client's own timeout, so the worker, not the rescue, decides
    // what became of the hung send; and retries come at once, so a resend would show.
    let options = Options {
        lease_seconds: 60,
        ..Options::default()
    };
    let mut touchbot = Touchbot::new(&pool, database_addr(&pool), &fake, options);
    let running = touchbot.start().await;
    wave_settled(&pool).await;
    running.kill().await;

    assert_nothing_lost_nothing_twice(&pool, &fake, 2).await;
    let statuses = outbox(&pool).await;
    assert_eq!(
        statuses[2],
        (chat(2).to_string(), "sent".to_string()),
        "the plain send went through"
    );
}
