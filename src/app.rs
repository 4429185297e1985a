//! Turning a command line into work: settings, logging, the database, and the command.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Parser;
use secrecy::ExposeSecret;
use sqlx::PgPool;

use crate::cli::{self, Cli, Command, ConfigCommand};
use crate::config::{self, ConfigError, Settings};
use crate::domain::AccountId;
use crate::storage::StoreError;

/// What a command needs: the database, the settings, and the instant it runs at.
pub struct Ctx {
    pub pool: PgPool,
    pub settings: Settings,
    pub now: DateTime<Utc>,
}

impl Ctx {
    /// Re-plans an account's future touches; returns how many are planned ahead.
    pub async fn replan(&self, account: AccountId) -> anyhow::Result<usize> {
        let report = crate::outbound::planner::replan_account(
            &self.pool,
            &self.settings.calendar,
            account,
            self.now,
        )
        .await?;
        Ok(report.planned)
    }
}

pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(match cli.command {
        Command::Serve => "info",
        // The demo tells its own story; warnings about simulated failures would only repeat it.
        Command::Demo(_) => "error",
        _ => "warn",
    });
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if is_user_error(&e) {
                eprintln!("error: {e}");
                ExitCode::from(2)
            } else {
                eprintln!("error: {}", cause_chain(&e));
                ExitCode::FAILURE
            }
        }
    }
}

/// The whole cause chain, which an operator needs, without the repeats that arise when an
/// error's message already quotes its source.
fn cause_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

fn is_user_error(e: &anyhow::Error) -> bool {
    if let Some(s) = e.downcast_ref::<StoreError>() {
        return s.is_user_error();
    }
    e.downcast_ref::<ConfigError>().is_some()
        || e.downcast_ref::<crate::db::SchemaError>().is_some()
}

fn init_logging(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("TOUCHBOT_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Every template the calendar names must exist in every locale: found at start, not when a
/// touch is due months later.
pub fn check_templates(
    settings: &Settings,
    messages: &crate::messages::Messages,
) -> anyhow::Result<()> {
    let calendar = &settings.calendar;
    let keys: Vec<&str> = calendar
        .rules
        .iter()
        .map(|r| r.template.as_str())
        .chain(
            calendar
                .csat
                .enabled
                .then_some(calendar.csat.template.as_str()),
        )
        .collect();
    messages
        .check_templates(&keys)
        .context("the calendar names a message template that does not exist")?;
    Ok(())
}

pub fn load_settings(cli: &Cli) -> Result<Settings, ConfigError> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    config::load(cli.config.as_deref(), &env)
}

async fn connect(settings: &Settings) -> anyhow::Result<PgPool> {
    let url = settings.database.url.as_ref().ok_or(ConfigError::Missing(
        "no database configured: set DATABASE_URL (for example postgres://postgres@127.0.0.1:5432/touchbot)",
    ))?;
    crate::db::connect(url.expose_secret(), settings.database.max_connections).await
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = load_settings(&cli)?;
    let now = Utc::now();
    match cli.command {
        Command::Config(ConfigCommand::Default) => {
            print!("{}", config::render_default());
            return Ok(());
        }
        Command::Config(ConfigCommand::Check) => {
            println!("The configuration is valid.");
            return Ok(());
        }
        Command::Demo(args) => return crate::demo::run(settings, args).await,
        Command::Whatsapp(c) => return cli::whatsapp::run(&settings, c),
        _ => {}
    }
    let pool = connect(&settings).await?;
    // Only `migrate` changes the schema; everything else refuses one it was not built for.
    if !matches!(cli.command, Command::Migrate) {
        crate::db::check_schema(&pool).await?;
    }
    let ctx = Ctx {
        pool,
        settings,
        now,
    };
    match cli.command {
        Command::Migrate => {
            crate::db::migrate(&ctx.pool).await?;
            println!("The database schema is up to date.");
        }
        Command::Serve => crate::startup::serve_until_stopped(ctx).await?,
        Command::Account(c) => cli::run_account(&ctx, c).await?,
        Command::Contact(c) => cli::run_contact(&ctx, c).await?,
        Command::Staff(c) => cli::run_staff(&ctx, c).await?,
        Command::Calendar(c) => cli::run_calendar(&ctx, c).await?,
        Command::Import(a) => cli::run_import(&ctx, a).await?,
        Command::Status(a) => crate::status::run(&ctx, a).await?,
        Command::Outbox(c) => cli::run_outbox(&ctx, c).await?,
        Command::Signal(c) => cli::run_signal(&ctx, c).await?,
        Command::Inbound(c) => cli::run_inbound(&ctx, c).await?,
        Command::Escalation(c) => cli::run_escalation(&ctx, c).await?,
        Command::Team(c) => cli::run_team(&ctx, c).await?,
        Command::Webhook(c) => cli::run_webhook(&ctx, c).await?,
        Command::Token(c) => cli::run_token(&ctx, c).await?,
        Command::Config(_) | Command::Demo(_) | Command::Whatsapp(_) => {
            unreachable!("handled above")
        }
    }
    Ok(())
}
