//! Logging (tracing to stdout, one line per event) and error reporting (Sentry when
//! `SENTRY_DSN` is set). Secrets never pass through here: the settings' Display hides them.
//! The log level can be changed while running (the admin console) through `level_control`.

use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, Layer};

use crate::adapters::admin::pages::logging::LogLevelControl;
use crate::config::{ConfigError, LogLevel, Settings};

/// Keeps error reporting alive until dropped (at the very end of `main`): dropping it
/// flushes the reports still queued, for a bounded time.
pub struct Telemetry {
    #[cfg(feature = "sentry")]
    _sentry: Option<sentry::ClientInitGuard>,
    _private: (),
}

/// The log filter for a level: our crate at `level`, other crates no chattier than INFO (at
/// TRACE a HTTP library may print headers, and headers carry tokens).
pub fn filter(level: LevelFilter) -> EnvFilter {
    let others = level.min(LevelFilter::INFO);
    EnvFilter::builder().parse_lossy(format!("{others},pdd_server={level}"))
}

/// The level of the log lines on stdout, changed in place through a reload handle on the
/// filter of the installed subscriber's output layer.
pub struct ReloadLevel<S = tracing_subscriber::Registry> {
    handle: reload::Handle<EnvFilter, S>,
    level: Mutex<LogLevel>,
}

impl<S> ReloadLevel<S> {
    /// A filter at `level` for the output layer, and the control that changes it.
    pub fn new(level: LogLevel) -> (reload::Layer<EnvFilter, S>, ReloadLevel<S>) {
        let (layer, handle) = reload::Layer::new(filter(level.filter()));
        let control = ReloadLevel {
            handle,
            level: Mutex::new(level),
        };
        (layer, control)
    }
}

impl<S: 'static> LogLevelControl for ReloadLevel<S> {
    fn level(&self) -> LogLevel {
        *self.level.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logs the change at WARN at the more verbose of the two levels: before a quieter level
    /// applies, after a more verbose one does.
    fn set_level(&self, level: LogLevel) -> Result<(), String> {
        let mut current = self.level.lock().unwrap_or_else(|e| e.into_inner());
        let previous = *current;
        let louder = level.filter() > previous.filter();
        let announce = || {
            tracing::warn!(
                from = previous.as_str(),
                to = level.as_str(),
                "log level changed from the admin interface"
            )
        };
        if !louder {
            announce();
        }
        self.handle
            .reload(filter(level.filter()))
            .map_err(|e| format!("cannot change the log level: {e}"))?;
        *current = level;
        drop(current);
        if louder {
            announce();
        }
        Ok(())
    }
}

static LEVEL: OnceLock<Arc<ReloadLevel>> = OnceLock::new();

/// The level control of the subscriber `init` installed; `None` when this process did not
/// install it (an application built in code by tests).
pub fn level_control() -> Option<Arc<dyn LogLevelControl>> {
    LEVEL.get().map(|c| c.clone() as Arc<dyn LogLevelControl>)
}

/// Checks that error reporting can be set up as asked, without starting it.
pub fn check_error_reporting(settings: &Settings) -> Result<(), ConfigError> {
    if settings.sentry_dsn.is_none() {
        return Ok(());
    }
    #[cfg(feature = "sentry")]
    {
        use secrecy::ExposeSecret;
        let dsn = settings.sentry_dsn.as_ref().map(|d| d.expose_secret());
        crate::adapters::sentry::check_dsn(dsn.unwrap_or_default())
            .map_err(|e| ConfigError::new(format!("{e:#}")))
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
    let (level, control) = ReloadLevel::new(settings.log_level);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stdout)
        .with_ansi(ansi)
        .with_target(true)
        .with_filter(level);
    #[cfg(feature = "sentry")]
    let (sentry, sentry_layer) = match &settings.sentry_dsn {
        Some(dsn) => {
            use secrecy::ExposeSecret;
            let guard = crate::adapters::sentry::init(dsn.expose_secret(), &settings.environment)
                .map_err(|e| ConfigError::new(format!("{e:#}")))?;
            (Some(guard), Some(crate::adapters::sentry::layer()))
        }
        None => (None, None),
    };
    #[cfg(not(feature = "sentry"))]
    let sentry_layer: Option<tracing_subscriber::layer::Identity> = None;
    // Installing twice (tests building several apps) keeps the first subscriber.
    let installed = tracing_subscriber::registry()
        .with(fmt)
        .with(sentry_layer)
        .try_init()
        .is_ok();
    if installed {
        let _ = LEVEL.set(Arc::new(control));
    }
    Ok(Telemetry {
        #[cfg(feature = "sentry")]
        _sentry: sentry,
        _private: (),
    })
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

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn the_level_changes_at_once_and_the_change_is_logged() {
        let lines = Lines::default();
        let (level, control) = ReloadLevel::new(LogLevel::Info);
        let writer = lines.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_filter(level),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!("hidden at info");
            assert_eq!(control.level(), LogLevel::Info);
            control.set_level(LogLevel::Debug).unwrap();
            assert_eq!(control.level(), LogLevel::Debug);
            tracing::debug!("shown at debug");
            control.set_level(LogLevel::Error).unwrap();
            tracing::warn!("hidden at error");
            control.set_level(LogLevel::Off).unwrap();
        });
        let text = lines.text();
        assert!(!text.contains("hidden"), "{text}");
        assert!(text.contains("shown at debug"), "{text}");
        // Raising to DEBUG is announced after, lowering to ERROR before the change; the change
        // from ERROR to OFF is not announced at all (both are quieter than WARN).
        assert_eq!(
            text.matches("log level changed from the admin interface")
                .count(),
            2,
            "{text}"
        );
        assert!(text.contains("from=\"INFO\" to=\"DEBUG\""), "{text}");
        assert!(text.contains("from=\"DEBUG\" to=\"ERROR\""), "{text}");
    }
}
