//! Which of `serve`'s long-running tasks are still alive, for `/healthz`. A task that ends or
//! panics while the service runs (a dispatcher, the poller) is dead; a task that beats on a
//! timetable (the cron scheduler) is dead once its beats stop coming. Nothing here is about
//! the database: `/healthz` asks that separately.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;

/// The tasks `serve` runs, as they report in.
#[derive(Debug, Default)]
pub struct Liveness {
    tasks: Mutex<Vec<Entry>>,
    stopping: AtomicBool,
}

#[derive(Debug)]
struct Entry {
    name: &'static str,
    state: Arc<TaskState>,
    /// For a beating task: the longest silence that still counts as alive.
    stale_after: Option<Duration>,
}

#[derive(Debug)]
struct TaskState {
    ended: AtomicBool,
    /// Unix milliseconds of the last beat.
    last_beat: AtomicI64,
}

/// Marks its task ended when dropped: when the task's future returns, panics or is cancelled.
struct EndsWith(Arc<TaskState>);

impl Drop for EndsWith {
    fn drop(&mut self) {
        self.0.ended.store(true, Ordering::Release);
    }
}

/// What a beating task calls on each round.
#[derive(Debug, Clone)]
pub struct Heartbeat(Arc<TaskState>);

impl Heartbeat {
    pub fn beat(&self) {
        self.0
            .last_beat
            .store(Utc::now().timestamp_millis(), Ordering::Release);
    }
}

impl Liveness {
    pub fn new() -> Arc<Liveness> {
        Arc::new(Liveness::default())
    }

    fn register(&self, name: &'static str, stale_after: Option<Duration>) -> Arc<TaskState> {
        let state = Arc::new(TaskState {
            ended: AtomicBool::new(false),
            last_beat: AtomicI64::new(Utc::now().timestamp_millis()),
        });
        let entry = Entry {
            name,
            state: state.clone(),
            stale_after,
        };
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(entry);
        state
    }

    /// Wraps a task's future so that its end, however it comes, is seen.
    pub fn track<F: Future>(
        &self,
        name: &'static str,
        task: F,
    ) -> impl Future<Output = F::Output> + use<F> {
        let guard = EndsWith(self.register(name, None));
        async move {
            let _guard = guard;
            task.await
        }
    }

    /// A task that proves it is alive by beating at least every `stale_after`.
    pub fn heartbeat(&self, name: &'static str, stale_after: Duration) -> Heartbeat {
        Heartbeat(self.register(name, Some(stale_after)))
    }

    /// From now on tasks end on purpose: nothing is reported dead.
    pub fn stopping(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// What is wrong, one short line per dead task; empty when all is well.
    pub fn problems(&self) -> Vec<String> {
        if self.stopping.load(Ordering::Acquire) {
            return Vec::new();
        }
        let now = Utc::now().timestamp_millis();
        let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks
            .iter()
            .filter_map(|task| {
                if task.state.ended.load(Ordering::Acquire) {
                    return Some(format!("the {} stopped", task.name));
                }
                let stale_after = task.stale_after?;
                let silent = now - task.state.last_beat.load(Ordering::Acquire);
                (silent > stale_after.as_millis() as i64)
                    .then(|| format!("the {} has not run for {} s", task.name, silent / 1000))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_ends_or_panics_is_reported_until_the_service_stops() {
        let liveness = Liveness::new();
        let running = tokio::spawn(liveness.track("poller", std::future::pending::<()>()));
        liveness.track("dispatcher", async {}).await;
        let panicked = tokio::spawn(liveness.track("post dispatcher", async { panic!("boom") }));
        assert!(panicked.await.is_err());

        assert_eq!(
            liveness.problems(),
            vec!["the dispatcher stopped", "the post dispatcher stopped"]
        );
        liveness.stopping();
        assert!(liveness.problems().is_empty());
        running.abort();
    }

    #[test]
    fn a_heartbeat_that_stops_coming_is_reported() {
        let liveness = Liveness::new();
        let beat = liveness.heartbeat("scheduler", Duration::from_secs(60));
        assert!(liveness.problems().is_empty());
        beat.0
            .last_beat
            .store(Utc::now().timestamp_millis() - 90_000, Ordering::Release);
        assert_eq!(
            liveness.problems(),
            vec!["the scheduler has not run for 90 s"]
        );
        beat.beat();
        assert!(liveness.problems().is_empty());
    }
}
