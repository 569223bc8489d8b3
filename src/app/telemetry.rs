//! Logging (tracing to stdout, one line per event) and error reporting (Sentry when
//! `SENTRY_DSN` is set). Secrets never pass through here: the settings' Display hides them.

use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::config::{ConfigError, Settings};

/// Keeps error reporting alive until dropped (at the very end of `main`).
pub struct Telemetry {
    _private: (),
}

/// The log filter for a level: our crate at `level`, other crates no chattier than INFO (at
/// TRACE a HTTP library may print headers, and headers carry tokens).
pub fn filter(level: LevelFilter) -> EnvFilter {
    let others = level.min(LevelFilter::INFO);
    EnvFilter::builder().parse_lossy(format!("{others},pdd_server={level}"))
}

/// Checks that error reporting can be set up as asked, without starting it.
pub fn check_error_reporting(settings: &Settings) -> Result<(), ConfigError> {
    if settings.sentry_dsn.is_none() {
        return Ok(());
    }
    #[cfg(feature = "sentry")]
    {
        // NOT BUILT YET: replace with the sentry adapter's DSN check once it is merged.
        Err(ConfigError::new(
            "SENTRY_DSN: the Sentry adapter is not built yet in this version",
        ))
    }
    #[cfg(not(feature = "sentry"))]
    {
        Err(ConfigError::new(
            "SENTRY_DSN is set but this build has no Sentry support (cargo feature \"sentry\")",
        ))
    }
}

/// Installs the global subscriber: fmt lines on stdout at the settings' level, and Sentry's
/// layer when `SENTRY_DSN` is set.
pub fn init(settings: &Settings) -> Result<Telemetry, ConfigError> {
    check_error_reporting(settings)?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stdout)
        .with_ansi(ansi)
        .with_target(true)
        .with_filter(filter(settings.log_level.filter()));
    // Installing twice (tests building several apps) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(fmt).try_init();
    Ok(Telemetry { _private: () })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_crates_log_at_most_at_info() {
        assert_eq!(
            filter(LevelFilter::TRACE).to_string(),
            "pdd_server=trace,info"
        );
        assert_eq!(
            filter(LevelFilter::WARN).to_string(),
            "pdd_server=warn,warn"
        );
        assert_eq!(filter(LevelFilter::OFF).to_string(), "pdd_server=off,off");
    }
}
