//! The wiring: which adapter serves each port, chosen from the settings, and the services built
//! on them. `Application::build` binds and serves what is assembled here; `-check_config` stops
//! after assembling.

use std::sync::Arc;

use rand::distributions::Alphanumeric;
use rand::Rng;
use secrecy::SecretString;
use tracing::warn;

use super::serve::ServeOptions;
use super::{telemetry, TESTING_SPEED};
use crate::adapters::clock::{AcceleratedClock, SystemClock};
use crate::adapters::geocoder::none::NoGeocoder;
use crate::adapters::http::{Limits, Rate};
use crate::adapters::metrics::registry::Registry;
use crate::adapters::random::OsRandom;
use crate::adapters::storage::memory::MemoryStorage;
use crate::config::{ConfigError, GeocoderKind, Settings};
use crate::domain::service::{Context, Services};
use crate::domain::time::Calendar;
use crate::ports::{Clock, Geocoder, Metrics, Random, Storage};

/// Replacements for the adapters the settings would choose, for tests that build the
/// application in code (a manual clock, a seeded random, a prepared storage).
#[derive(Default)]
pub struct Overrides {
    pub clock: Option<Arc<dyn Clock>>,
    pub random: Option<Arc<dyn Random>>,
    pub storage: Option<Arc<dyn Storage>>,
}

/// The adapters and services built from the settings, before any socket is bound.
pub struct Parts {
    pub services: Services,
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    pub calendar: Calendar,
    pub registry: Arc<Registry>,
    pub metrics: Arc<dyn Metrics>,
    pub geocoder: Arc<dyn Geocoder>,
    /// Clock seconds per real second.
    pub speed: u32,
}

#[cfg(not(all(feature = "mysql", feature = "maxmind", feature = "datadog")))]
fn feature_missing(setting: &str, value: &str, feature: &str) -> ConfigError {
    ConfigError::new(format!(
        "{setting}={value} needs the cargo feature \"{feature}\", which this build was compiled without"
    ))
}

/// Storage: in memory unless `mysql_server` is set.
/// The MySQL storage records each call's latency and outcome in `metrics`.
#[cfg_attr(not(feature = "mysql"), allow(unused_variables))]
pub fn build_storage(
    settings: &Settings,
    metrics: Arc<dyn Metrics>,
) -> Result<Arc<dyn Storage>, ConfigError> {
    match &settings.mysql_server {
        None => {
            warn!("no -mysql_server given: using IN-MEMORY storage, NOTHING PERSISTS across restarts (fine for local testing only)");
            Ok(Arc::new(MemoryStorage::new()))
        }
        #[cfg(feature = "mysql")]
        Some(server) => {
            use crate::adapters::storage::mysql::{MysqlConfig, MysqlStorage, MysqlTimeouts};
            let mut config = MysqlConfig::new(
                &server.to_string(),
                &settings.mysql_user,
                settings.mysql_password.clone(),
                &settings.mysql_database,
            );
            config.timeouts = MysqlTimeouts::with_request_budget(
                settings.mysql_timeout.0.to_std().unwrap_or_default(),
            );
            Ok(MysqlStorage::start_with_metrics(config, Some(metrics)))
        }
        #[cfg(not(feature = "mysql"))]
        Some(server) => Err(feature_missing(
            "mysql_server",
            &server.to_string(),
            "mysql",
        )),
    }
}

/// Geocoder: none, or a MaxMind country database.
pub fn build_geocoder(settings: &Settings) -> Result<Arc<dyn Geocoder>, ConfigError> {
    match settings.geocoder {
        GeocoderKind::None => Ok(Arc::new(NoGeocoder)),
        #[cfg(feature = "maxmind")]
        GeocoderKind::Maxmind => {
            use crate::adapters::geocoder::maxmind::MaxmindGeocoder;
            let path = &settings.geocoder_maxmind_db;
            let geocoder = MaxmindGeocoder::open(path).map_err(|e| {
                ConfigError::new(format!(
                    "geocoder.maxmind_db={}: not a readable country database: {}",
                    path.display(),
                    e.root_cause()
                ))
            })?;
            tracing::info!(database = %path.display(), kind = geocoder.database_type(), "country database opened");
            Ok(Arc::new(geocoder))
        }
        #[cfg(not(feature = "maxmind"))]
        GeocoderKind::Maxmind => Err(feature_missing("geocoder", "maxmind", "maxmind")),
    }
}

/// Metrics: the in-process registry always (served on the admin port), plus DogStatsD when
/// `datadog_server` is set.
pub fn build_metrics(
    settings: &Settings,
    registry: Arc<Registry>,
) -> Result<Arc<dyn Metrics>, ConfigError> {
    match &settings.datadog_server {
        None => Ok(registry),
        #[cfg(feature = "datadog")]
        Some(server) => {
            use crate::adapters::metrics::datadog::DatadogMetrics;
            use crate::adapters::metrics::fanout::Fanout;
            let datadog =
                DatadogMetrics::new(&server.to_string(), &settings.environment).map_err(|e| {
                    ConfigError::new(format!("datadog_server={server}: {}", e.root_cause()))
                })?;
            tracing::info!(agent = %server, environment = %settings.environment, "sending metrics to DogStatsD");
            let sinks: Vec<Arc<dyn Metrics>> = vec![registry, Arc::new(datadog)];
            Ok(Arc::new(Fanout::new(sinks)))
        }
        #[cfg(not(feature = "datadog"))]
        Some(server) => Err(feature_missing(
            "datadog_server",
            &server.to_string(),
            "datadog",
        )),
    }
}

impl Parts {
    /// Builds every adapter and the services; binds nothing.
    pub fn assemble(settings: &Settings, overrides: Overrides) -> Result<Parts, ConfigError> {
        let (clock, speed): (Arc<dyn Clock>, u32) = match overrides.clock {
            Some(clock) => (clock, 1),
            None if settings.testing_mode => {
                warn!("TESTING MODE: the clock runs {TESTING_SPEED} times fast, a day lasts 5 minutes and the nightly jobs fire every 5 minutes. Never use this in production.");
                (
                    Arc::new(AcceleratedClock::new(TESTING_SPEED)),
                    TESTING_SPEED,
                )
            }
            None => (Arc::new(SystemClock), 1),
        };
        let registry = Arc::new(Registry::new());
        let metrics = build_metrics(settings, registry.clone())?;
        let storage = match overrides.storage {
            Some(storage) => storage,
            None => build_storage(settings, metrics.clone())?,
        };
        let geocoder = build_geocoder(settings)?;
        let random = overrides.random.unwrap_or_else(|| Arc::new(OsRandom));
        let calendar = Calendar::new(settings.timezone);
        let mut services = Services::new(Context {
            storage: storage.clone(),
            geocoder: geocoder.clone(),
            metrics: metrics.clone(),
            clock: clock.clone(),
            random,
            calendar,
            strategy: settings.groups,
            prune_threshold: settings.prune_threshold.0,
        });
        // The scheduler claims firings under the same name the runs are recorded with.
        services.jobs = services.jobs.with_instance(&instance_name());
        Ok(Parts {
            services,
            storage,
            clock,
            calendar,
            registry,
            metrics,
            geocoder,
            speed,
        })
    }
}

/// A name for this server process, unique among the instances sharing a database and telling
/// an operator where a job ran: `host/pid/8 random hex digits`.
pub fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().chars().take(64).collect::<String>())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_string());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}/{}/{}", std::process::id(), &random[..8])
}

/// `-check_config`: everything `build` would check, without binding or serving.
pub fn check(settings: &Settings) -> Result<(), ConfigError> {
    telemetry::check_error_reporting(settings)?;
    Parts::assemble(settings, Overrides::default()).map(drop)
}

/// The private API's token: the one given, or a random one printed once.
pub(super) fn access_token(settings: &Settings) -> SecretString {
    if let Some(token) = &settings.api_access_token {
        return token.clone();
    }
    let token: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    // Printed, not logged: log events may travel further (Sentry breadcrumbs), and this is the
    // one deliberate appearance of a secret.
    println!("Private API access token (random; set -api.access_token or PDD_API_ACCESS_TOKEN to choose one): {token}");
    SecretString::from(token)
}

/// What one request may ask of the API, from the settings.
pub fn api_limits(settings: &Settings) -> Limits {
    Limits {
        body_timeout: settings.http_body_timeout.0.to_std().unwrap_or_default(),
        register_rate: Rate {
            per_minute: settings.http_rate_limit_register,
            burst: settings.http_rate_limit_register_burst,
        },
        ping_rate: Rate {
            per_minute: settings.http_rate_limit_ping,
            burst: settings.http_rate_limit_ping_burst,
        },
        unknown_route_rate: Rate {
            per_minute: settings.http_rate_limit_unknown,
            burst: settings.http_rate_limit_unknown_burst,
        },
        ..Limits::default()
    }
}

/// How both interfaces serve connections, from the settings.
pub fn serve_options(settings: &Settings) -> ServeOptions {
    ServeOptions {
        header_timeout: settings.http_header_timeout.0.to_std().unwrap_or_default(),
        write_timeout: settings.http_write_timeout.0.to_std().unwrap_or_default(),
        max_connections: settings.http_max_connections as usize,
        max_connections_per_ip: settings.http_max_connections_per_ip as usize,
        uncapped: settings.http_trusted_proxies.clone(),
    }
}

/// What this build is, for `/admin/server_info`.
pub fn build_description() -> String {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let features: Vec<&str> = [
        ("mysql", cfg!(feature = "mysql")),
        ("maxmind", cfg!(feature = "maxmind")),
        ("datadog", cfg!(feature = "datadog")),
        ("sentry", cfg!(feature = "sentry")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    format!("{profile} [{}]", features.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_tell_the_host_and_process_and_differ() {
        let (a, b) = (instance_name(), instance_name());
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split('/').collect();
        assert_eq!(parts.len(), 3, "{a}");
        assert_eq!(parts[1], std::process::id().to_string());
        assert_eq!(parts[2].len(), 8);
        assert!(a.len() <= 255);
    }

    #[test]
    fn default_settings_give_the_default_limits_and_serve_options() {
        let s = Settings::defaults();
        assert_eq!(api_limits(&s), Limits::default());
        assert_eq!(serve_options(&s), ServeOptions::default());
        let mut off = Settings::defaults();
        off.http_rate_limit_register = 0;
        off.http_rate_limit_ping = 0;
        off.http_rate_limit_unknown = 0;
        assert!(api_limits(&off).unknown_route_rate.is_off());
        assert!(api_limits(&off).register_rate.is_off());
        assert!(api_limits(&off).ping_rate.is_off());
    }
}
