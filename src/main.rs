//! The pdd-server binary: read the settings, build the application, run it until stopped.
//! Exit codes: 0 after a clean stop, 2 for invalid settings, 1 for any other start-up failure.

use std::process::ExitCode;

use pdd_server::app::{self, telemetry, Application};
use pdd_server::config::{self, ConfigError, Invocation};

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

fn main() -> ExitCode {
    let (settings, check_only) = match config::from_process() {
        Ok(Invocation::Help) => {
            print!("{}", config::help_text());
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::Version) => {
            println!("pdd-server {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::Healthcheck(s)) => {
            return match app::healthcheck(&s) {
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
    tracing::info!(version = env!("CARGO_PKG_VERSION"), build = %app::build_description(),
                   settings = %settings, "pdd-server starting");
    let result = runtime.block_on(async move {
        if check_only {
            app::check(&settings)?;
            println!("configuration OK");
            return Ok(());
        }
        Application::build(settings)
            .await?
            .run_until_stopped()
            .await
    });
    // Blocking storage calls stuck on a dead database must not hold the exit forever.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}
