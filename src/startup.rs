//! `touchbot serve`: the dispatchers of touches and staff posts, the periodic jobs, the Telegram
//! bot when a token is set, and a health endpoint, started in a way
//! tests can drive (any port, an explicit shutdown) and stopped cleanly.
//!
//! On SIGTERM or SIGINT it stops claiming work, lets the sends already handed to a channel
//! finish (for at most `dispatcher.shutdown_grace_seconds`), hands back what it claimed and
//! never sent, resigns leadership and exits 0: a stop leaves no send 'unknown'.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::Ctx;
use crate::channel::Channels;
use crate::config::Settings;
use crate::delivery::queue::Table;
use crate::inbound::{Judge, reassess};
use crate::liveness::Liveness;
use crate::messages::Messages;
use crate::outbound::dispatcher::{Render, run_dispatcher};
use crate::outbound::render::TemplateRenderer;
use crate::outbound::scheduler::{Scheduled, Scheduler, job_fn, start_scheduler};
use crate::outbound::{outbox, planner};
use crate::staff_posts::digest::{DIGEST_TICK_CRON, daily_digest_job};
use crate::staff_posts::dispatcher::run_post_dispatcher;
use crate::staff_posts::queue as post_queue;
use crate::telegram::{TelegramChannel, polling, webhook};
use crate::whatsapp::{self, WhatsAppChannel};

/// A running service.
pub struct Service {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    workers: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
    http: JoinHandle<std::io::Result<()>>,
    scheduler: Scheduler,
    liveness: Arc<Liveness>,
    pool: PgPool,
    worker_id: String,
    grace: Duration,
}

impl Service {
    /// Where the health endpoint answers.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops claiming work, lets the sends in flight finish (within the grace period), hands
    /// back what was claimed and never sent, resigns leadership and stops the jobs. Every part
    /// is stopped even if one fails; the first failure is returned.
    #[tracing::instrument(skip_all, fields(worker_id = %self.worker_id))]
    pub async fn stop(self) -> anyhow::Result<()> {
        self.liveness.stopping();
        let _ = self.shutdown.send(true);
        let deadline = tokio::time::Instant::now() + self.grace;
        let mut failures = Vec::new();
        for (name, worker) in self.workers {
            let abort = worker.abort_handle();
            match tokio::time::timeout_at(deadline, worker).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => failures.push(e.context(format!("the {name} failed"))),
                Ok(Err(e)) => {
                    failures.push(anyhow::Error::new(e).context(format!("the {name} panicked")))
                }
                Err(_) => {
                    // What it was sending stays 'sending' and is settled by the rescue job.
                    tracing::warn!(
                        task = name,
                        "still busy when the grace period ran out; stopped"
                    );
                    abort.abort();
                }
            }
        }
        if let Err(e) = hand_back(&self.pool, &self.worker_id).await {
            failures.push(e);
        }
        if let Err(e) = self.scheduler.shutdown().await {
            failures.push(e);
        }
        match self.http.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(anyhow::Error::new(e).context("the HTTP server failed")),
            Err(e) => failures.push(anyhow::Error::new(e).context("the HTTP server panicked")),
        }
        match failures.into_iter().next() {
            Some(first) => Err(first),
            None => Ok(()),
        }
    }
}

/// Puts back in the queue whatever this process claimed and never handed to a channel, so it
/// goes out from another instance (or the next start) at once, with no try spent.
async fn hand_back(pool: &PgPool, worker_id: &str) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let touches = outbox::TouchTable::release_claims_of(pool, worker_id, now)
        .await
        .context("could not hand back the claimed touches")?;
    let posts = post_queue::PostTable::release_claims_of(pool, worker_id, now)
        .await
        .context("could not hand back the claimed staff posts")?;
    if touches + posts > 0 {
        tracing::info!(
            touches,
            posts,
            "handed back claimed work that was never sent"
        );
    }
    Ok(())
}

/// A worker id unique to this service: the host, the process and a counter (tests run several
/// services in one process), as leases and logs name it.
fn worker_id() -> String {
    static SERVICES: AtomicUsize = AtomicUsize::new(0);
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "touchbot".into());
    let n = SERVICES.fetch_add(1, Ordering::Relaxed);
    format!("{host}-{}-{n}", std::process::id())
}

/// Starts everything on `listener` with the given channels.
pub async fn start(
    settings: &Settings,
    pool: PgPool,
    channels: Channels,
    listener: TcpListener,
) -> anyhow::Result<Service> {
    let messages = Arc::new(Messages::load().context("the message templates are broken")?);
    crate::app::check_templates(settings, &messages)?;
    let renderer: Arc<dyn Render> = Arc::new(TemplateRenderer::new(messages.clone()));
    let bot = settings
        .telegram
        .bot()
        .context("the Telegram settings are not usable")?;
    let channels = match &bot {
        Some(bot) => channels.with(Arc::new(TelegramChannel::new(bot.clone(), pool.clone()))),
        None => channels,
    };
    let channels = match WhatsAppChannel::from_settings(&settings.whatsapp)? {
        Some(whatsapp) => channels.with(Arc::new(whatsapp)),
        None => channels,
    };
    log_live_channels(&channels);
    let channels = Arc::new(channels);
    let (shutdown, watch_rx) = watch::channel(false);
    let liveness = Liveness::new();

    // One loop per process; it sends `dispatcher.workers` touches at a time.
    let worker_id = worker_id();
    let dispatcher = run_dispatcher(
        pool.clone(),
        channels.clone(),
        renderer.clone(),
        settings.dispatcher.clone(),
        worker_id.clone(),
        watch_rx.clone(),
        Some(Arc::new(settings.calendar.clone())),
    );
    let post_dispatcher = run_post_dispatcher(
        pool.clone(),
        channels.clone(),
        settings.dispatcher.clone(),
        worker_id.clone(),
        watch_rx.clone(),
    );
    let mut workers = vec![
        (
            "dispatcher",
            tokio::spawn(liveness.track("dispatcher", dispatcher)),
        ),
        (
            "post dispatcher",
            tokio::spawn(liveness.track("post dispatcher", post_dispatcher)),
        ),
    ];
    // Steps after inbound messages that a crash or an outage left undone.
    let sweeper = crate::inbound::followups::run_sweeper(
        pool.clone(),
        Arc::new(settings.clone()),
        watch_rx.clone(),
    );
    workers.push((
        "follow-up sweeper",
        tokio::spawn(liveness.track("follow-up sweeper", sweeper)),
    ));
    let events = crate::webhooks::worker::run(
        pool.clone(),
        settings.dispatcher.clone(),
        worker_id.clone(),
        watch_rx.clone(),
    );
    workers.push((
        "webhook sender",
        tokio::spawn(liveness.track("webhook sender", events)),
    ));
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .with_state(Health {
            pool: pool.clone(),
            liveness: liveness.clone(),
        })
        .merge(crate::api::router(crate::api::ApiState {
            pool: pool.clone(),
            settings: Arc::new(settings.clone()),
        }));
    if let Some(route) = whatsapp_inbound(
        settings,
        &pool,
        &messages,
        &watch_rx,
        &liveness,
        &mut workers,
    )? {
        app = app.merge(route);
    }
    if let Some(bot) = bot {
        let shared = Arc::new(settings.clone());
        match webhook::start(
            bot.clone(),
            pool.clone(),
            shared.clone(),
            messages.clone(),
            watch_rx.clone(),
        ) {
            // Setting the webhook is done once; this task ends when it is.
            Some((route, ready)) => {
                app = app.merge(route);
                workers.push(("webhook set-up", ready));
            }
            None => {
                let poller = polling::run(bot, pool.clone(), shared, messages, watch_rx.clone());
                let poller = tokio::spawn(liveness.track("Telegram poller", poller));
                workers.push(("Telegram poller", poller));
            }
        }
    }

    let scheduler = start_scheduler(
        pool.clone(),
        channels.clone(),
        &settings.scheduler,
        vec![
            nightly_job(&pool, settings),
            escalation_job(&pool, settings),
            weekly_job(&pool, settings),
        ],
    )
    .await?;
    let digest = daily_digest_job(
        pool.clone(),
        settings.escalation.sla.time_zone,
        settings.digest.daily_at,
    );
    scheduler
        .add_job("daily-digest", DIGEST_TICK_CRON, digest)
        .await?;
    scheduler
        .add_heartbeat(liveness.heartbeat("scheduler", SCHEDULER_SILENCE))
        .await?;

    let labels = Arc::new(crate::telemetry::HttpLabels {
        telegram_path: settings.telegram.webhook().map(|(path, _)| path),
    });
    let app = app
        .merge(crate::telemetry::router(pool.clone()))
        .route_layer(axum::middleware::from_fn_with_state(
            labels,
            crate::telemetry::track_requests,
        ));
    let addr = listener.local_addr()?;
    let mut http_stop = watch_rx.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|stop| *stop).await;
            })
            .await
    });
    tracing::info!(%addr, worker_id, "touchbot is serving");
    Ok(Service {
        addr,
        shutdown,
        workers,
        http,
        scheduler,
        liveness,
        pool,
        worker_id,
        grace: Duration::from_secs(settings.dispatcher.shutdown_grace_seconds),
    })
}

/// The WhatsApp webhook's route and the sweep of its events, when its app secret and verify
/// token are set; says at start whether it listens.
fn whatsapp_inbound(
    settings: &Settings,
    pool: &PgPool,
    messages: &Arc<Messages>,
    shutdown: &watch::Receiver<bool>,
    liveness: &Arc<Liveness>,
    workers: &mut Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
) -> anyhow::Result<Option<Router>> {
    let worker = Arc::new(whatsapp::worker::Worker::new(
        pool.clone(),
        Arc::new(settings.clone()),
        messages.clone(),
    )?);
    let Some(route) = whatsapp::webhook::router(worker.clone()) else {
        if settings.whatsapp.sends() {
            tracing::warn!(
                "WhatsApp answers are not received: set WHATSAPP_APP_SECRET and \
                 WHATSAPP_VERIFY_TOKEN to listen on {}",
                whatsapp::webhook::PATH
            );
        }
        return Ok(None);
    };
    tracing::info!(
        path = whatsapp::webhook::PATH,
        "listening for WhatsApp messages and statuses"
    );
    let sweeper = whatsapp::worker::run_sweeper(worker, shutdown.clone());
    let sweeper = liveness.track("WhatsApp event sweeper", sweeper);
    workers.push(("WhatsApp event sweeper", tokio::spawn(sweeper)));
    Ok(Some(route))
}

/// Says which channels this process sends through, so an operator sees at once that a missing
/// variable left WhatsApp (or Telegram) off: touches for it would wait in the outbox.
fn log_live_channels(channels: &Channels) {
    let kinds: Vec<&str> = channels.kinds().iter().map(|k| k.as_str()).collect();
    if kinds.is_empty() {
        tracing::warn!(
            "live channels: none; set TELOXIDE_TOKEN, or WHATSAPP_ACCESS_TOKEN and \
             WHATSAPP_PHONE_NUMBER_ID, to send touches"
        );
    } else {
        tracing::info!(channels = %kinds.join(", "), "live channels: {}", kinds.join(", "));
    }
}

/// The scheduler beats every ten seconds; this much silence means it stopped.
const SCHEDULER_SILENCE: Duration = Duration::from_secs(60);

/// The nightly pass: re-plans every calendar, then re-scores every account and runs the
/// escalation rules, because time alone changes things (tickets age, clients fall silent,
/// renewals come closer).
fn nightly_job(pool: &PgPool, settings: &Settings) -> Scheduled {
    let pool = pool.clone();
    let cron = settings.scheduler.replan_cron.clone();
    let settings = Arc::new(settings.clone());
    let job = job_fn(move |now| {
        let pool = pool.clone();
        let settings = settings.clone();
        async move {
            // The re-plan and the reassessment are independent: a failure in one must not
            // skip the other. Broken accounts are logged and counted inside each.
            let replanned = planner::replan_all(&pool, &settings.calendar, now).await;
            match &replanned {
                Ok(report) if report.failed > 0 => {
                    tracing::warn!(
                        ?report,
                        failed = report.failed,
                        "nightly re-plan, with failures"
                    )
                }
                Ok(report) => tracing::info!(?report, "nightly re-plan"),
                Err(e) => tracing::error!(error = %format!("{e:#}"), "nightly re-plan failed"),
            }
            let judged = reassess(&pool, Judge::from(&*settings), now, "nightly", None).await;
            match &judged {
                Ok(judged) => tracing::info!(
                    accounts = judged.scored,
                    escalations = ?judged.escalations,
                    failed = judged.escalations.failed,
                    "nightly health scores and escalations"
                ),
                Err(e) => tracing::error!(error = %format!("{e:#}"), "nightly reassessment failed"),
            }
            replanned.context("the nightly re-plan")?;
            judged.context("the nightly reassessment")?;
            Ok(())
        }
    });
    Scheduled {
        name: "nightly",
        cron,
        job,
    }
}

/// Checks every ten minutes whether the weekly team digest is due; the post keys carry the ISO
/// week, so it is queued once per week and person.
fn weekly_job(pool: &PgPool, settings: &Settings) -> Scheduled {
    let pool = pool.clone();
    let settings = Arc::new(settings.clone());
    let job = job_fn(move |now| {
        let pool = pool.clone();
        let settings = settings.clone();
        async move {
            let digest = &settings.digest;
            let zone = settings.escalation.sla.time_zone;
            if crate::metrics::weekly_due(now, zone, digest.weekly_day, digest.weekly_at.0) {
                let report = crate::metrics::queue_weekly_digests(&pool, &settings, now).await?;
                if report.queued > 0 {
                    tracing::info!(queued = report.queued, "weekly digest queued");
                }
            }
            Ok(())
        }
    });
    Scheduled {
        name: "weekly-digest",
        cron: "0 */10 * * * *".into(),
        job,
    }
}

/// Every few minutes: the escalation ladder and the first-response SLA.
fn escalation_job(pool: &PgPool, settings: &Settings) -> Scheduled {
    let pool = pool.clone();
    let config = Arc::new(settings.escalation.clone());
    let job = job_fn(move |now| {
        let pool = pool.clone();
        let config = config.clone();
        async move {
            let report = crate::escalation::tick::tick(&pool, &config, now).await?;
            if report != Default::default() {
                tracing::info!(?report, "escalation ladder and SLA");
            }
            Ok(())
        }
    });
    Scheduled {
        name: "escalation-tick",
        cron: settings.scheduler.escalation_cron.clone(),
        job,
    }
}

#[derive(Clone)]
struct Health {
    pool: PgPool,
    liveness: Arc<Liveness>,
}

/// 200 when the database answers and every task of the service runs; 503 with a short reason
/// otherwise: for load balancers and orchestrators.
async fn healthz(State(health): State<Health>) -> (StatusCode, String) {
    let problems = health.liveness.problems();
    if !problems.is_empty() {
        tracing::warn!(?problems, "health check: a task of the service stopped");
        return (StatusCode::SERVICE_UNAVAILABLE, problems.join("; "));
    }
    match sqlx::query_scalar!("select 1 as \"one!\"")
        .fetch_one(&health.pool)
        .await
    {
        Ok(_) => (StatusCode::OK, "ok".into()),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "database unreachable".into(),
            )
        }
    }
}

/// Runs the service until SIGTERM or SIGINT, then stops it gracefully.
pub async fn serve_until_stopped(ctx: Ctx) -> anyhow::Result<()> {
    let addr = format!("{}:{}", ctx.settings.server.host, ctx.settings.server.port);
    let listener = TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (server.host / server.port)"))?;
    // `start` adds Telegram and WhatsApp when their secrets are set, and says which are live.
    // Without a channel, touches wait in the outbox with the reason recorded; nothing is lost.
    let channels = Channels::new(ctx.settings.dispatcher.rate_limits.clone());
    // Listening before start, so a signal that comes during start-up is not missed.
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let service = start(&ctx.settings, ctx.pool.clone(), channels, listener).await?;
    let which = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    };
    tracing::info!(signal = which, "stopping: finishing the sends in flight");
    service.stop().await?;
    tracing::info!("stopped");
    Ok(())
}
