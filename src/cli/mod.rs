//! The command line: clap definitions here, one module per area for the work.

mod accounts;
mod args;
mod calendar;
mod contacts;
mod escalations;
mod import;
mod inbound;
mod outbox;
mod signals;
mod staff;
mod table;
mod team;
mod tokens;
mod webhooks;
pub mod whatsapp;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use args::{parse_arr, parse_date};
pub use table::table;

#[derive(Debug, Parser)]
#[command(
    name = "touchbot",
    version,
    about = "A customer-success touch calendar that talks to clients on Telegram and WhatsApp"
)]
pub struct Cli {
    /// Configuration file (TOML); `touchbot config default` prints one to start from.
    #[arg(long, global = true, env = "TOUCHBOT_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update the database schema.
    Migrate,
    /// Run the dispatcher and the periodic jobs until interrupted.
    Serve,
    /// Run a year of sample accounts in accelerated time and print what happened.
    Demo(DemoArgs),
    /// Print or check the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Client accounts.
    #[command(subcommand)]
    Account(accounts::AccountCommand),
    /// Client contacts of an account.
    #[command(subcommand)]
    Contact(contacts::ContactCommand),
    /// The CS team.
    #[command(subcommand)]
    Staff(staff::StaffCommand),
    /// The touch calendar.
    #[command(subcommand)]
    Calendar(calendar::CalendarCommand),
    /// Load accounts (and their first contact) from a CSV file.
    Import(import::ImportArgs),
    /// The team metrics and the portfolio, one CSM's (--csm), or one account's.
    Status(StatusArgs),
    /// Touches whose sending needs a decision: list them, send again, or confirm by hand.
    #[command(subcommand)]
    Outbox(outbox::OutboxCommand),
    /// Inbound updates set aside after failing again and again (list and replay them), and
    /// the strangers who wrote to the bot.
    #[command(subcommand)]
    Inbound(inbound::InboundCommand),
    /// Outside facts about an account (usage, tickets, payments, goals, people).
    #[command(subcommand)]
    Signal(signals::SignalCommand),
    /// Red signals being worked: list, take, mark contacted, snooze, resolve.
    #[command(subcommand)]
    Escalation(escalations::EscalationCommand),
    /// The CS team's group chat, where escalation cards are posted.
    #[command(subcommand)]
    Team(team::TeamCommand),
    /// Outgoing event webhooks: add, list, remove, and the delivery log.
    #[command(subcommand)]
    Webhook(webhooks::WebhookCommand),
    /// WhatsApp: the message templates to register with Meta.
    #[command(subcommand)]
    Whatsapp(whatsapp::WhatsappCommand),
    /// Bearer tokens of the integration API (`/api/v1`): create, list, revoke.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Days of simulated time to run.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// Also print each message's first line and the bot's answers.
    #[arg(long)]
    pub verbose: bool,
    /// The database the demo (re)creates on the server; tests give each run its own.
    #[arg(long, default_value = "touchbot_demo", hide = true)]
    pub database_name: String,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the default configuration, to copy into a file and edit.
    Default,
    /// Load the configuration (file and environment) and report any problem.
    Check,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// An account id or name (a unique part of it is enough); omit for the whole portfolio:
    /// the team figures, a row per CSM and the 25 accounts that most need attention (red, then
    /// yellow, then unscored, then green; within each the biggest fall over 30 days, the
    /// lowest score, the nearest renewal first), then how many more there are.
    pub account: Option<String>,
    /// Only this CSM's accounts: an id or name (a unique part of it is enough).
    #[arg(long, conflicts_with = "account")]
    pub csm: Option<String>,
    /// List every account of the portfolio, by name, instead of the first 25 to look at.
    #[arg(long, conflicts_with = "account")]
    pub all: bool,
    /// As JSON: the same page of accounts with `total_accounts`, or every account with --all.
    #[arg(long)]
    pub json: bool,
}

pub use accounts::run as run_account;
pub use calendar::run as run_calendar;
pub use contacts::run as run_contact;
pub use escalations::run as run_escalation;
pub use import::{ImportReport, import_file, run as run_import};
pub use inbound::run as run_inbound;
pub use outbox::run as run_outbox;
pub use signals::run as run_signal;
pub use staff::run as run_staff;
pub use team::run as run_team;
pub use tokens::run as run_token;
pub use webhooks::run as run_webhook;
