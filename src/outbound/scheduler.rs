//! Periodic jobs: the lease rescue of touches and staff posts every minute, a nightly re-plan
//! supplied by the planner, and whatever else is added with `Scheduler::add_job`.
//!
//! Every instance runs the same cron timetable, but a job only does its work on the instance
//! holding a PostgreSQL advisory lock (the leader); the others skip it. A job also never runs
//! twice at once on the leader: tokio-cron-scheduler spawns each activation without waiting
//! for the previous one. The jobs stay safe to repeat anyway (every send is fenced and keyed).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::postgres::{PgAdvisoryLock, PgAdvisoryLockGuard, PgConnectOptions};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler};

use super::dispatcher;
use crate::channel::Channels;
use crate::staff_posts::dispatcher as post_dispatcher;

pub type JobFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
/// A job body, given the time it runs at.
pub type JobFn = Arc<dyn Fn(DateTime<Utc>) -> JobFuture + Send + Sync>;

/// Wraps an async closure as a `JobFn`: `job_fn(move |now| async move { ... })`.
pub fn job_fn<F, Fut>(f: F) -> JobFn
where
    F: Fn(DateTime<Utc>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    Arc::new(move |now| Box::pin(f(now)))
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Cron with a seconds field, in UTC.
    pub rescue_cron: String,
    pub replan_cron: String,
    /// The escalation ladder and the first-response SLA are checked on this timetable.
    pub escalation_cron: String,
    /// Instances sharing this name elect one leader among them.
    pub leader_lock: String,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            rescue_cron: "0 * * * * *".into(),
            replan_cron: "0 30 1 * * *".into(),
            escalation_cron: "0 */5 * * * *".into(),
            leader_lock: "touchbot-scheduler".into(),
        }
    }
}

/// Leader election through a session-level advisory lock held on a connection of its own: the
/// lock lives as long as that connection, so a crashed leader frees it by disconnecting.
pub struct Leadership {
    lock: PgAdvisoryLock,
    options: PgConnectOptions,
    held: Mutex<Option<PgAdvisoryLockGuard<PgConnection>>>,
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("lock", &self.lock.key())
            .finish_non_exhaustive()
    }
}

impl Leadership {
    pub fn new(pool: &PgPool, name: &str) -> Self {
        Leadership {
            lock: PgAdvisoryLock::new(name),
            options: (*pool.connect_options()).clone(),
            held: Mutex::new(None),
        }
    }

    /// True if this instance leads, trying to become the leader if nobody does. A lost
    /// connection means the lock is gone too, so that is checked first.
    pub async fn is_leader(&self) -> bool {
        let mut held = self.held.lock().await;
        if let Some(guard) = held.as_mut() {
            if guard.as_mut().ping().await.is_ok() {
                return true;
            }
            tracing::warn!("lost the leader connection; trying to lead again");
            *held = None;
        }
        match self.try_acquire().await {
            Ok(Some(guard)) => {
                tracing::info!("this instance now runs the scheduled jobs");
                *held = Some(guard);
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(error = ?e, "could not take part in the leader election");
                false
            }
        }
    }

    async fn try_acquire(&self) -> anyhow::Result<Option<PgAdvisoryLockGuard<PgConnection>>> {
        let conn = PgConnection::connect_with(&self.options)
            .await
            .context("could not open the leader connection")?;
        let acquired = self.lock.try_acquire(conn).await?;
        Ok(acquired.left())
    }

    /// Gives up leadership (e.g. at shutdown) so another instance can take over at once.
    pub async fn resign(&self) {
        if let Some(guard) = self.held.lock().await.take() {
            match guard.release_now().await {
                Ok(conn) => {
                    let _ = conn.close().await;
                }
                Err(e) => tracing::warn!(error = ?e, "could not release the leader lock"),
            }
        }
    }
}

/// What one activation of a job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobRun {
    Ran,
    Failed,
    NotLeader,
    StillRunning,
}

/// A job that runs only on the leader and never overlaps itself.
pub struct GuardedJob {
    name: String,
    leadership: Arc<Leadership>,
    running: AtomicBool,
    body: JobFn,
}

impl GuardedJob {
    pub fn new(name: &str, leadership: Arc<Leadership>, body: JobFn) -> Self {
        GuardedJob {
            name: name.to_string(),
            leadership,
            running: AtomicBool::new(false),
            body,
        }
    }

    pub async fn run(&self, now: DateTime<Utc>) -> JobRun {
        if self
            .running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            tracing::warn!(job = %self.name, "previous run still going; skipping this one");
            return JobRun::StillRunning;
        }
        // Cleared on every exit path, including a panic inside the body.
        struct Reset<'a>(&'a AtomicBool);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _reset = Reset(&self.running);

        if !self.leadership.is_leader().await {
            tracing::debug!(job = %self.name, "another instance leads; skipping");
            return JobRun::NotLeader;
        }
        match (self.body)(now).await {
            Ok(()) => JobRun::Ran,
            Err(e) => {
                tracing::error!(job = %self.name, error = ?e, "scheduled job failed");
                JobRun::Failed
            }
        }
    }
}

/// The running cron scheduler; call `shutdown` to stop it and resign leadership.
pub struct Scheduler {
    inner: JobScheduler,
    leadership: Arc<Leadership>,
}

impl Scheduler {
    /// Adds a job on the same timetable rules: run by the leader only, never overlapping.
    pub async fn add_job(&self, name: &str, cron: &str, body: JobFn) -> anyhow::Result<()> {
        let job = Arc::new(GuardedJob::new(name, self.leadership.clone(), body));
        self.inner
            .add(cron_job(cron, job)?)
            .await
            .with_context(|| format!("could not schedule the {name} job"))?;
        Ok(())
    }

    /// Beats `heartbeat` every ten seconds from the scheduler's own timetable, so a scheduler
    /// that stopped firing jobs shows in the health check.
    pub async fn add_heartbeat(&self, heartbeat: crate::liveness::Heartbeat) -> anyhow::Result<()> {
        heartbeat.beat();
        let job = Job::new_async("*/10 * * * * *", move |_id, _scheduler| {
            let heartbeat = heartbeat.clone();
            Box::pin(async move { heartbeat.beat() })
        })
        .context("could not build the scheduler's heartbeat")?;
        self.inner
            .add(job)
            .await
            .context("could not schedule the scheduler's heartbeat")?;
        Ok(())
    }

    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.inner
            .shutdown()
            .await
            .context("could not stop the job scheduler")?;
        self.leadership.resign().await;
        Ok(())
    }
}

fn cron_job(cron: &str, job: Arc<GuardedJob>) -> anyhow::Result<Job> {
    Job::new_async(cron, move |_id, _scheduler| {
        let job = job.clone();
        Box::pin(async move {
            job.run(Utc::now()).await;
        })
    })
    .with_context(|| format!("'{cron}' is not a valid cron expression (it needs a seconds field)"))
}

/// A job handed in by the caller, with the cron it runs on.
pub struct Scheduled {
    pub name: &'static str,
    pub cron: String,
    pub job: JobFn,
}

/// Starts the periodic jobs: rescue and reconcile of the outbox, and the jobs handed in (the
/// nightly re-plan, the escalation ladder…; they live elsewhere).
pub async fn start_scheduler(
    pool: PgPool,
    channels: Arc<Channels>,
    config: &SchedulerConfig,
    jobs: Vec<Scheduled>,
) -> anyhow::Result<Scheduler> {
    let leadership = Arc::new(Leadership::new(&pool, &config.leader_lock));
    let inner = JobScheduler::new()
        .await
        .context("could not create the job scheduler")?;

    let rescue = job_fn(move |now| {
        let pool = pool.clone();
        let channels = channels.clone();
        async move {
            let touches = dispatcher::rescue_and_reconcile(&pool, &channels, now).await;
            // Staff posts are rescued even when the touches' part failed, and vice versa.
            let posts = post_dispatcher::rescue_and_reconcile_posts(&pool, &channels, now).await;
            touches?;
            posts?;
            Ok(())
        }
    });
    let rescue = Arc::new(GuardedJob::new("outbox-rescue", leadership.clone(), rescue));
    inner.add(cron_job(&config.rescue_cron, rescue)?).await?;

    for Scheduled { name, cron, job } in jobs {
        let job = Arc::new(GuardedJob::new(name, leadership.clone(), job));
        inner.add(cron_job(&cron, job)?).await?;
    }
    inner
        .start()
        .await
        .context("could not start the job scheduler")?;
    Ok(Scheduler { inner, leadership })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Arc<GuardedJob> {
        let pool = PgPool::connect_lazy("postgres://postgres@127.0.0.1:5432/unused").unwrap();
        let leadership = Arc::new(Leadership::new(&pool, "test"));
        Arc::new(GuardedJob::new(
            "test",
            leadership,
            job_fn(|_| async { Ok(()) }),
        ))
    }

    #[tokio::test]
    async fn the_default_timetable_is_valid_cron_with_seconds() {
        let config = SchedulerConfig::default();
        assert!(cron_job(&config.rescue_cron, job()).is_ok());
        assert!(cron_job(&config.replan_cron, job()).is_ok());
        assert!(cron_job(&config.escalation_cron, job()).is_ok());
    }

    #[tokio::test]
    async fn a_cron_without_a_seconds_field_is_refused_with_a_hint() {
        let Err(err) = cron_job("every minute", job()) else {
            panic!("an invalid cron expression was accepted");
        };
        assert!(err.to_string().contains("needs a seconds field"));
    }
}
