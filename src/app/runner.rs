//! The binary's work once its command line is read: print the help or the version, ask a
//! running server for its health, check the settings, or serve until stopped.
//! Exit codes: 0 after a clean stop, 2 for invalid settings, 1 for any other start-up failure.

use std::process::ExitCode;
use std::time::Duration;

use super::{build_description, check, healthcheck, telemetry, Application};
use crate::config::{help_text, ConfigError, Invocation, Settings};

/// Does what the command line asks (`config::from_process()`) and says how the process exits.
pub fn main_with(invocation: Result<Invocation, ConfigError>) -> ExitCode {
    let (settings, check_only) = match invocation {
        Ok(Invocation::Help) => {
            print!("{}", help_text());
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::Version) => {
            println!("pdd-server {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::Healthcheck(s)) => {
            return match healthcheck(&s) {
                Ok(()) => {
                    println!("healthy");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("unhealthy: {e}");
                    ExitCode::from(1)
                }
            };
        }
        Ok(Invocation::Run(s)) => (s, false),
        Ok(Invocation::Check(s)) => (s, true),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    serve_or_check(settings, check_only)
}

/// Starts telemetry and the runtime, then checks the settings or serves until stopped.
fn serve_or_check(settings: Settings, check_only: bool) -> ExitCode {
    // Telemetry first (Sentry wants to start before the runtime), so start-up is logged.
    let _telemetry = match telemetry::init(&settings) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    tracing::info!(version = env!("CARGO_PKG_VERSION"), build = %build_description(),
                   settings = %settings, "pdd-server starting");
    let result = runtime.block_on(async move {
        if check_only {
            check(&settings)?;
            println!("configuration OK");
            return Ok(());
        }
        Application::build(settings)
            .await?
            .run_until_stopped()
            .await
    });
    // Blocking storage calls stuck on a dead database must not hold the exit forever.
    runtime.shutdown_timeout(Duration::from_secs(5));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Reports a start-up failure: exit code 2 for invalid settings, 1 for anything else.
fn fail(e: &anyhow::Error) -> ExitCode {
    match e.downcast_ref::<ConfigError>() {
        Some(c) => {
            eprintln!("error: {c}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
