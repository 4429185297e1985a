//! `touchbot serve`: the dispatchers of touches and staff posts, the periodic jobs, the Telegram
//! bot when a token is set, and a health endpoint, started in a way
//! tests can drive (any port, an explicit shutdown) and stopped cleanly.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::Ctx;
use crate::channel::Channels;
use crate::config::Settings;
use crate::inbound::{Judge, reassess};
use crate::messages::Messages;
use crate::outbound::digest::{DIGEST_TICK_CRON, daily_digest_job};
use crate::outbound::dispatcher::{Render, run_dispatcher};
use crate::outbound::planner;
use crate::outbound::post_dispatcher::run_post_dispatcher;
use crate::outbound::render::TemplateRenderer;
use crate::outbound::scheduler::{Scheduled, Scheduler, job_fn, start_scheduler};
use crate::telegram::{TelegramChannel, polling, webhook};

/// A running service.
pub struct Service {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    workers: Vec<JoinHandle<anyhow::Result<()>>>,
    http: JoinHandle<std::io::Result<()>>,
    scheduler: Scheduler,
}

impl Service {
    /// Where the health endpoint answers.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops taking work, lets in-flight sends finish, and stops the jobs.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        for w in self.workers {
            w.await.context("a dispatcher worker panicked")??;
        }
        self.scheduler.shutdown().await?;
        self.http.await.context("the HTTP server panicked")??;
        Ok(())
    }
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
    let channels = Arc::new(channels);
    let (shutdown, watch_rx) = watch::channel(false);

    // One loop per process; it sends `dispatcher.workers` touches at a time.
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "touchbot".into());
    let worker_id = format!("{host}-{}", std::process::id());
    let mut workers = vec![
        tokio::spawn(run_dispatcher(
            pool.clone(),
            channels.clone(),
            renderer.clone(),
            settings.dispatcher.clone(),
            worker_id.clone(),
            watch_rx.clone(),
        )),
        tokio::spawn(run_post_dispatcher(
            pool.clone(),
            channels.clone(),
            settings.dispatcher.clone(),
            worker_id,
            watch_rx.clone(),
        )),
    ];
    // Steps after inbound messages that a crash or an outage left undone.
    workers.push(tokio::spawn(crate::inbound::followups::run_sweeper(
        pool.clone(),
        Arc::new(settings.clone()),
        watch_rx.clone(),
    )));
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .with_state(pool.clone());
    if let Some(bot) = bot {
        let shared = Arc::new(settings.clone());
        match webhook::start(
            bot.clone(),
            pool.clone(),
            shared.clone(),
            messages.clone(),
            watch_rx.clone(),
        ) {
            Some((route, ready)) => {
                app = app.merge(route);
                workers.push(ready);
            }
            None => workers.push(tokio::spawn(polling::run(
                bot,
                pool.clone(),
                shared,
                messages,
                watch_rx.clone(),
            ))),
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

    let addr = listener.local_addr()?;
    let mut http_stop = watch_rx.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|stop| *stop).await;
            })
            .await
    });
    tracing::info!(%addr, "touchbot is serving");
    Ok(Service {
        addr,
        shutdown,
        workers,
        http,
        scheduler,
    })
}

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
            let report = planner::replan_all(&pool, &settings.calendar, now).await?;
            tracing::info!(?report, "nightly re-plan");
            let judged = reassess(&pool, Judge::from(&*settings), now, "nightly", None).await?;
            tracing::info!(
                accounts = judged.scores.len(),
                escalations = ?judged.escalations,
                "nightly health scores and escalations"
            );
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

/// 200 when the database answers, 503 otherwise: for load balancers and orchestrators.
async fn healthz(State(pool): State<PgPool>) -> (StatusCode, &'static str) {
    match sqlx::query_scalar!("select 1 as \"one!\"")
        .fetch_one(&pool)
        .await
    {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}

pub async fn serve_until_ctrl_c(ctx: Ctx) -> anyhow::Result<()> {
    let addr = format!("{}:{}", ctx.settings.server.host, ctx.settings.server.port);
    let listener = TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (server.host / server.port)"))?;
    // `start` adds Telegram when TELOXIDE_TOKEN is set. Without a channel, touches wait in
    // the outbox with the reason recorded, and nothing is lost.
    let channels = Channels::new(ctx.settings.dispatcher.rate_limits.clone());
    if ctx.settings.telegram.token.is_none() {
        tracing::warn!(
            "TELOXIDE_TOKEN is not set, so no chat channel runs: due touches stay queued in the outbox"
        );
    }
    let service = start(&ctx.settings, ctx.pool.clone(), channels, listener).await?;
    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")?;
    tracing::info!("shutting down");
    service.stop().await
}
