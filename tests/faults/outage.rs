//! PostgreSQL becomes unreachable for a while (every connection dropped, new ones refused, by a
//! proxy the test owns) in the middle of a wave and in the middle of clients' answers.

use std::time::Duration;

use sqlx::PgPool;

use crate::process::{Options, Touchbot, database_addr};
use crate::support::fake_telegram::FakeTelegram;
use crate::support::tcp_proxy::TcpProxy;
use crate::{
    BATCH, PATIENCE, assert_each_answered_once, assert_nothing_lost_nothing_twice, chat, pending,
    seed_wave, size, wave_settled,
};

fn outage() -> Duration {
    Duration::from_secs(size("FAULT_OUTAGE_SECS", 5) as u64)
}

#[sqlx::test]
async fn a_database_outage_mid_wave_loses_no_touch_and_sends_none_twice(pool: PgPool) {
    let wave = size("FAULT_WAVE", 60);
    let fake = FakeTelegram::start().await;
    fake.slow_down(Duration::from_millis(40));
    seed_wave(&pool, wave, "welcome").await;
    let proxy = TcpProxy::start(database_addr(&pool)).await;
    let mut touchbot = Touchbot::new(&pool, proxy.addr(), &fake, Options::default());
    let mut running = touchbot.start().await;

    fake.wait_for("a third of the wave", PATIENCE, |f| {
        f.sent_total() >= wave / 3
    })
    .await;
    proxy.cut();
    let interrupted = pending(&pool).await > 0;
    tokio::time::sleep(outage()).await;
    proxy.restore();
    wave_settled(&pool).await;
    let alive = running.alive();
    let log = running.log();
    running.kill().await;

    assert!(interrupted, "the outage came after the wave was over");
    assert!(alive, "serve died in the outage:\n{log}");
    // Only the batch marked `sending` when the database went away can have an unknown fate.
    assert_nothing_lost_nothing_twice(&pool, &fake, BATCH).await;
}

#[sqlx::test]
async fn a_database_outage_mid_inbound_loses_no_answer_and_records_none_twice(pool: PgPool) {
    let clients = size("FAULT_WAVE", 60).min(40);
    let fake = FakeTelegram::start().await;
    // Each answer takes a while to handle, so the cut falls in the middle of one.
    fake.slow_down(Duration::from_millis(40));
    seed_wave(&pool, clients, "nps").await;
    let proxy = TcpProxy::start(database_addr(&pool)).await;
    let mut touchbot = Touchbot::new(&pool, proxy.addr(), &fake, Options::default());
    let mut running = touchbot.start().await;
    wave_settled(&pool).await;

    // Half the clients answer before the outage, half while the database is away.
    let mut last = 0;
    for i in 0..clients / 2 {
        last = fake.push_text(chat(i), "9 great support");
    }
    fake.wait_for("the first answer to be thanked", PATIENCE, |f| {
        f.sent_to(chat(0)).len() >= 2
    })
    .await;
    proxy.cut();
    for i in clients / 2..clients {
        last = fake.push_text(chat(i), "9 great support");
    }
    tokio::time::sleep(outage()).await;
    proxy.restore();
    // Confirmed past the last answer: every one was handled, whatever became of it.
    fake.wait_for("every answer to be handled", PATIENCE, |f| {
        f.confirmed() > last
    })
    .await;
    let alive = running.alive();
    let log = running.log();
    running.kill().await;

    assert!(alive, "serve died in the outage:\n{log}");
    assert_each_answered_once(&pool, &fake, clients, true).await;
}
