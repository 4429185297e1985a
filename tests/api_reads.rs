//! The API's reads through its real router and a real database: health history, escalations,
//! replies, the portfolio and the team metrics, as a CRM or a dashboard reading them sees
//! them; and what a caller who gets a parameter wrong is told.

#[path = "support/cli.rs"]
mod cli;
#[allow(dead_code)]
#[path = "api/client.rs"]
mod client;
#[path = "api_reads/errors.rs"]
mod errors;
#[path = "api_reads/escalations.rs"]
mod escalations;
#[path = "api_reads/health.rs"]
mod health;
#[path = "api_reads/replies.rs"]
mod replies;
#[path = "api_reads/reports.rs"]
mod reports;
#[path = "api_reads/world.rs"]
mod world;
