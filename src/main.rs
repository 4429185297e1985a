//! The `touchbot` command; everything it does lives in the library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    touchbot::app::main().await
}
