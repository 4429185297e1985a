//! The program is killed (SIGKILL) or stopped (SIGTERM) several times in the middle of a wave of
//! welcomes (on Telegram, and on WhatsApp for the kills), and started again each time.

use std::time::Duration;

use sqlx::PgPool;

use crate::process::{Options, Touchbot, database_addr};
use crate::support::fake_telegram::FakeTelegram;
use crate::support::fake_whatsapp::FakeWhatsApp;
use crate::{
    BATCH, PATIENCE, Platform, assert_each_answered_once, assert_each_thanked_once,
    assert_nothing_lost_nothing_twice, chat, pending, seed_wave, seed_whatsapp_wave, short_of,
    size, wave_settled,
};

/// A real server's round trip, so that a wave takes long enough to be interrupted.
const LATENCY: Duration = Duration::from_millis(40);

enum Stop {
    Kill,
    Terminate,
}

/// Runs the seeded wave, stopping the program `stops` times as it goes; returns what each
/// SIGTERM left (exit status and log).
async fn interrupted_wave(
    pool: &PgPool,
    stop: Stop,
    fake: &impl Platform,
    mut touchbot: Touchbot,
) -> Vec<(String, String)> {
    let wave = size("FAULT_WAVE", 60);
    let stops = size("FAULT_KILLS", 3);
    let mut exits = Vec::new();
    for n in 1..=stops {
        let running = touchbot.start().await;
        fake.wait_received(n * wave / (stops + 1)).await;
        match stop {
            Stop::Kill => running.kill().await,
            Stop::Terminate => {
                let (status, log) = running.terminate().await;
                exits.push((status.to_string(), log));
            }
        }
        assert!(
            pending(pool).await > 0,
            "stop {n} came after the wave was over: nothing was interrupted"
        );
    }
    let running = touchbot.start().await;
    wave_settled(pool).await;
    match stop {
        Stop::Kill => running.kill().await,
        Stop::Terminate => {
            let (status, log) = running.terminate().await;
            exits.push((status.to_string(), log));
        }
    }
    exits
}

/// A wave of welcomes on Telegram, interrupted as `stop` says; returns the fake and the exits.
async fn interrupted_telegram_wave(
    pool: &PgPool,
    stop: Stop,
) -> (FakeTelegram, Vec<(String, String)>) {
    let fake = FakeTelegram::start().await;
    fake.slow_down(LATENCY);
    seed_wave(pool, size("FAULT_WAVE", 60), "welcome").await;
    let touchbot = Touchbot::new(pool, database_addr(pool), &fake, Options::default());
    let exits = interrupted_wave(pool, stop, &fake, touchbot).await;
    (fake, exits)
}

#[sqlx::test]
async fn sigkill_during_a_wave_loses_no_touch_and_sends_none_twice(pool: PgPool) {
    let (fake, _) = interrupted_telegram_wave(&pool, Stop::Kill).await;

    // Each kill can strand at most the batch it had marked `sending`.
    let in_flight = BATCH * size("FAULT_KILLS", 3);
    assert_nothing_lost_nothing_twice(&pool, &fake, in_flight).await;
}

#[sqlx::test]
async fn sigkill_during_a_whatsapp_wave_loses_no_touch_and_sends_none_twice(pool: PgPool) {
    let telegram = FakeTelegram::start().await;
    let whatsapp = FakeWhatsApp::start().await;
    whatsapp.slow_down(LATENCY);
    seed_whatsapp_wave(&pool, size("FAULT_WAVE", 60), "welcome").await;
    let options = Options {
        whatsapp_api: Some(whatsapp.url().to_string()),
        ..Options::default()
    };
    let touchbot = Touchbot::new(&pool, database_addr(&pool), &telegram, options);
    interrupted_wave(&pool, Stop::Kill, &whatsapp, touchbot).await;

    // A send WhatsApp accepted but had not answered when the process died is delivered;
    // it must be left `unknown`, never sent again.
    let in_flight = BATCH * size("FAULT_KILLS", 3);
    assert_nothing_lost_nothing_twice(&pool, &whatsapp, in_flight).await;
    assert_eq!(
        telegram.sent_total(),
        0,
        "nothing of the wave went to Telegram"
    );
}

#[sqlx::test]
async fn sigterm_during_a_wave_exits_cleanly_and_leaves_nothing_unknown(pool: PgPool) {
    let (fake, exits) = interrupted_telegram_wave(&pool, Stop::Terminate).await;

    for (status, log) in &exits {
        assert_eq!(
            status, "exit status: 0",
            "serve did not stop cleanly:\n{log}"
        );
    }
    assert_nothing_lost_nothing_twice(&pool, &fake, 0).await;
}

/// Clients answer their surveys and the program is killed in the middle of handling them;
/// returns the fake once the restarted program has handled every answer.
async fn answers_through_a_kill(pool: &PgPool, clients: usize) -> FakeTelegram {
    let fake = FakeTelegram::start().await;
    seed_wave(pool, clients, "nps").await;
    let mut touchbot = Touchbot::new(pool, database_addr(pool), &fake, Options::default());
    let running = touchbot.start().await;
    wave_settled(pool).await;
    // Answers take a while to handle, so the kill falls in the middle of the batch.
    fake.slow_down(LATENCY);
    let mut last = 0;
    for i in 0..clients {
        last = fake.push_text(chat(i), "9 great support");
    }
    // Killed while a thank-you is on its way: the answer it is for is already stored.
    fake.wait_for("a third of the answers thanked", PATIENCE, |f| {
        clients - short_of(f, clients, 2).len() >= clients / 3 && f.in_flight() > 0
    })
    .await;
    running.kill().await;
    let running = touchbot.start().await;
    // Confirmed past the last answer: every one was handled, whatever became of it.
    fake.wait_for("every answer to be handled", PATIENCE, |f| {
        f.confirmed() > last
    })
    .await;
    running.kill().await;
    fake
}

#[sqlx::test]
async fn sigkill_while_clients_answer_loses_no_answer_and_records_none_twice(pool: PgPool) {
    let clients = size("FAULT_WAVE", 60).min(40);
    let fake = answers_through_a_kill(&pool, clients).await;

    assert_each_answered_once(&pool, &fake, clients, false).await;
}

#[sqlx::test]
async fn a_client_whose_answer_was_stored_just_before_a_crash_is_still_thanked(pool: PgPool) {
    let clients = size("FAULT_WAVE", 60).min(40);
    let fake = answers_through_a_kill(&pool, clients).await;

    // Polling answers one update at a time: one thank-you at most was on its way at the kill.
    assert_each_thanked_once(&pool, &fake, clients, 1).await;
}
