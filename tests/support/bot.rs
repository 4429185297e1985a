//! The bot's polling loop run inside a test against the fake Bot API, and stopped the way
//! `serve` stops it.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use touchbot::config::Settings;
use touchbot::messages::Messages;

use super::fake_telegram::FakeTelegram;

pub struct RunningBot {
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
}

pub fn run_bot(pool: &PgPool, fake: &FakeTelegram, settings: &Settings) -> RunningBot {
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(touchbot::telegram::polling::run(
        fake.bot(),
        pool.clone(),
        Arc::new(settings.clone()),
        Arc::new(Messages::load().unwrap()),
        stopped,
    ));
    RunningBot { stop, task }
}

impl RunningBot {
    /// Tells the loop to stop, without waiting for it.
    pub fn signal_stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Stops the loop; it finishes the update in hand and confirms its offset first.
    pub async fn stop(self) {
        self.signal_stop();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the bot stops promptly")
            .unwrap()
            .unwrap();
    }
}
