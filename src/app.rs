//! The application: the only place that knows which adapters exist. Builds them from the
//! settings, binds both listeners, serves the API and the admin interface, runs the scheduler,
//! and shuts everything down in order on SIGTERM/SIGINT.

pub mod scheduler;
pub mod serve;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use rand::distributions::Alphanumeric;
use rand::Rng;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::adapters::admin::console::{Console, OpenConnections};
use crate::adapters::admin::history::{run_sampler, sample_period, MetricsHistory};
use crate::adapters::admin::{admin_routes_with, AdminState, ServerInfo};
use crate::adapters::clock::{AcceleratedClock, SystemClock};
use crate::adapters::geocoder::none::NoGeocoder;
use crate::adapters::http::{api_routes, ApiState, Limits, Rate};
use crate::adapters::metrics::registry::Registry;
use crate::adapters::random::OsRandom;
use crate::adapters::storage::memory::MemoryStorage;
use crate::config::{ConfigError, GeocoderKind, HostPort, Settings};
use crate::domain::service::{Context, Services};
use crate::domain::time::Calendar;
use crate::ports::{Clock, Geocoder, Metrics, Random, Storage};
use scheduler::Scheduler;
use serve::{serve_counted, ServeOptions};

/// How much faster than real time the clock runs in testing mode: a day lasts 5 minutes.
pub const TESTING_SPEED: u32 = 288;
/// How long in-flight requests may take to finish once shutdown starts.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a running job may take to reach its safe point once shutdown starts.
pub const JOB_STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the client and campaign gauges are refreshed (real time).
pub const GAUGES_EVERY: Duration = Duration::from_secs(60);

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
            use crate::adapters::storage::mysql::{MysqlConfig, MysqlStorage};
            let config = MysqlConfig::new(
                &server.to_string(),
                &settings.mysql_user,
                settings.mysql_password.clone(),
                &settings.mysql_database,
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
            info!(database = %path.display(), kind = geocoder.database_type(), "country database opened");
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
            info!(agent = %server, environment = %settings.environment, "sending metrics to DogStatsD");
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
        let services = Services::new(Context {
            storage: storage.clone(),
            geocoder: geocoder.clone(),
            metrics: metrics.clone(),
            clock: clock.clone(),
            random,
            calendar,
            strategy: settings.groups,
            prune_threshold: settings.prune_threshold.0,
        });
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

/// `-check_config`: everything `build` would check, without binding or serving.
pub fn check(settings: &Settings) -> Result<(), ConfigError> {
    telemetry::check_error_reporting(settings)?;
    Parts::assemble(settings, Overrides::default()).map(drop)
}

/// Where to reach a listener of this host: loopback when it listens on all interfaces.
fn local_host(addr: &HostPort) -> &str {
    match addr.host.as_str() {
        "" | "0.0.0.0" => "127.0.0.1",
        "::" => "::1",
        h => h,
    }
}

/// `-healthcheck` (the Docker HEALTHCHECK, which has no curl): asks `/health` of the admin
/// interface of a server on this host, at the loopback address when it listens on all.
///
/// Docker runs the check as another process that shares the container's environment but not
/// the server's flags. So when the check is given no flags of its own and the container's
/// first process is this same program, the admin port comes from that process's command line
/// (`/proc/1/cmdline`): the production example's `-admin.port=:9000` is then honoured.
pub fn healthcheck(settings: &Settings) -> Result<(), String> {
    use std::io::{Read, Write};
    let own_flags = std::env::args()
        .skip(1)
        .filter(|a| !matches!(a.as_str(), "-healthcheck" | "--healthcheck"))
        .count();
    let server_port = if own_flags == 0 {
        first_process_admin_port()
    } else {
        None
    };
    let addr = server_port.as_ref().unwrap_or(&settings.admin_port);
    let host = local_host(addr);
    let timeout = Duration::from_secs(5);
    let target = std::net::ToSocketAddrs::to_socket_addrs(&(host, addr.port))
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {addr}"))?;
    let mut conn = std::net::TcpStream::connect_timeout(&target, timeout)
        .map_err(|e| format!("cannot connect to the admin interface at {target}: {e}"))?;
    conn.set_read_timeout(Some(timeout)).ok();
    conn.set_write_timeout(Some(timeout)).ok();
    conn.write_all(format!("GET /health HTTP/1.0\r\nHost: {target}\r\n\r\n").as_bytes())
        .map_err(|e| format!("cannot ask {target}: {e}"))?;
    let mut response = Vec::new();
    conn.take(64 * 1024)
        .read_to_end(&mut response)
        .map_err(|e| format!("no answer from {target}: {e}"))?;
    let response = String::from_utf8_lossy(&response);
    let status = response.lines().next().unwrap_or_default();
    if status.split(' ').nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("/health at {target} answered {status:?}"))
    }
}

/// The admin port of the server running as this container's first process, if it is one.
fn first_process_admin_port() -> Option<HostPort> {
    if std::process::id() == 1 {
        return None;
    }
    let cmdline = std::fs::read("/proc/1/cmdline").ok()?;
    let exe = std::env::current_exe().ok()?;
    let args = server_args(&cmdline, exe.file_name()?.to_str()?)?;
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    match crate::config::parse(args, &env).ok()? {
        crate::config::Invocation::Run(s) | crate::config::Invocation::Check(s) => {
            Some(s.admin_port)
        }
        _ => None,
    }
}

/// The arguments of a NUL-separated command line whose program is named `program`.
fn server_args(cmdline: &[u8], program: &str) -> Option<Vec<String>> {
    let text = std::str::from_utf8(cmdline).ok()?;
    let mut words = text.split('\0');
    let argv0 = words.next()?;
    if std::path::Path::new(argv0).file_name()?.to_str()? != program {
        return None;
    }
    let mut args: Vec<String> = words.map(str::to_owned).collect();
    // The command line ends with a NUL, which leaves one empty word.
    if args.last().is_some_and(String::is_empty) {
        args.pop();
    }
    Some(args)
}

/// The private API's token: the one given, or a random one printed once.
fn access_token(settings: &Settings) -> SecretString {
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
        ..Limits::default()
    }
}

/// How both interfaces serve connections, from the settings.
pub fn serve_options(settings: &Settings) -> ServeOptions {
    ServeOptions {
        header_timeout: settings.http_header_timeout.0.to_std().unwrap_or_default(),
        max_connections: settings.http_max_connections as usize,
    }
}

async fn bind(setting: &str, addr: &HostPort) -> Result<TcpListener, ConfigError> {
    TcpListener::bind((addr.bind_host(), addr.port))
        .await
        .map_err(|e| ConfigError::new(format!("{setting}={addr}: cannot listen there: {e}")))
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

/// A built application: adapters wired, both listeners bound.
pub struct Application {
    http: TcpListener,
    admin: TcpListener,
    http_addr: SocketAddr,
    admin_addr: SocketAddr,
    api: BoxedFilter<(Response,)>,
    admin_api: BoxedFilter<(Response,)>,
    serve_options: ServeOptions,
    scheduler: Scheduler,
    services: Services,
    storage: Arc<dyn Storage>,
    /// The admin console's metrics sampler, spawned when the application runs.
    sampler: futures::future::BoxFuture<'static, ()>,
    connections: OpenConnections,
    stop: CancellationToken,
}

impl Application {
    /// Builds the application from settings alone.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Self::build_with(settings, Overrides::default()).await
    }

    /// Builds the application, with some adapters replaced.
    pub async fn build_with(
        settings: Settings,
        overrides: Overrides,
    ) -> anyhow::Result<Application> {
        let parts = Parts::assemble(&settings, overrides)?;
        let start_time: DateTime<Utc> = parts.clock.now();
        let http = bind("http.port", &settings.http_port).await?;
        let admin = bind("admin.port", &settings.admin_port).await?;
        let access_token = access_token(&settings);
        let http_addr = http.local_addr().context("reading the http address")?;
        let admin_addr = admin.local_addr().context("reading the admin address")?;
        let api = api_routes(ApiState {
            services: parts.services.clone(),
            access_token,
            metrics: parts.metrics.clone(),
            trusted_proxies: settings.http_trusted_proxies.clone(),
            limits: api_limits(&settings),
        });
        let stop = CancellationToken::new();
        let history = Arc::new(MetricsHistory::default());
        let sampler = Box::pin(run_sampler(
            history.clone(),
            parts.registry.clone(),
            parts.clock.clone(),
            sample_period(parts.speed),
            stop.clone(),
        ));
        let connections = OpenConnections::default();
        let console = Console {
            history,
            speed: parts.speed,
            logging: telemetry::level_control(),
            connections: Some(connections.clone()),
            campaigns: Some(Arc::new(parts.services.campaigns.clone())),
            // Need storage queries the port does not have yet (issue 14).
            clients: None,
            jobs: None,
        };
        let admin_api = admin_routes_with(
            AdminState {
                services: parts.services.clone(),
                registry: parts.registry.clone(),
                info: ServerInfo {
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    build: build_description(),
                    start_time,
                    storage: parts.storage.kind().to_string(),
                    geocoder: parts.geocoder.kind().to_string(),
                    metrics: parts.metrics.kind().to_string(),
                },
            },
            console,
        );
        let scheduler = Scheduler {
            jobs: parts.services.jobs.clone(),
            storage: parts.storage.clone(),
            clock: parts.clock.clone(),
            calendar: parts.calendar,
            speed: parts.speed,
            owner: uuid::Uuid::new_v4().to_string(),
            max_nap: Duration::from_secs(60),
        };
        Ok(Application {
            http,
            admin,
            http_addr,
            admin_addr,
            api,
            admin_api,
            serve_options: serve_options(&settings),
            scheduler,
            services: parts.services,
            storage: parts.storage,
            sampler,
            connections,
            stop,
        })
    }

    /// The address the API listens on (the real port when 0 was asked).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Cancelling this token shuts the application down as a signal would.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Serves until SIGTERM, SIGINT or the stop token; then stops accepting, lets requests in
    /// flight finish (up to `DRAIN_TIMEOUT`), lets a running job reach its safe point, and
    /// closes the storage.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let stop = self.stop.clone();
        spawn_signal_listener(stop.clone())?;
        let http = tokio::spawn(serve_counted(
            self.api,
            self.http,
            self.serve_options,
            stop.clone(),
            self.connections.api.clone(),
        ));
        let admin = tokio::spawn(serve_counted(
            self.admin_api,
            self.admin,
            self.serve_options,
            stop.clone(),
            self.connections.admin.clone(),
        ));
        tokio::spawn(self.sampler);
        let scheduler = tokio::spawn(self.scheduler.run(stop.clone()));
        tokio::spawn(refresh_gauges(self.services.clone(), stop.clone()));
        info!(http = %self.http_addr, admin = %self.admin_addr, "listening");

        stop.cancelled().await;
        info!(
            "shutting down: no new connections; finishing requests in flight and the running job"
        );
        self.services.jobs.stop();
        let servers = async {
            let _ = http.await;
            let _ = admin.await;
        };
        if tokio::time::timeout(DRAIN_TIMEOUT, servers).await.is_err() {
            warn!(
                timeout_s = DRAIN_TIMEOUT.as_secs(),
                "requests still in flight after the drain timeout: closing them"
            );
        }
        if tokio::time::timeout(JOB_STOP_TIMEOUT, scheduler)
            .await
            .is_err()
        {
            warn!(
                timeout_s = JOB_STOP_TIMEOUT.as_secs(),
                "the running job did not reach a safe point in time: abandoning it (it is caught up at the next start)"
            );
        }
        drop(self.services);
        drop(self.storage);
        info!("stopped");
        Ok(())
    }
}

/// Keeps the gauges (registered clients, active campaigns) current for the metrics, which
/// otherwise move only when someone asks `/api/stats`.
async fn refresh_gauges(services: Services, stop: CancellationToken) {
    let mut tick = tokio::time::interval(GAUGES_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {
                if let Err(e) = services.campaigns.stats().await {
                    tracing::debug!(error = %e, "cannot refresh the gauges");
                }
            }
        }
    }
}

/// Cancels `stop` on the first SIGTERM or SIGINT; exits at once on a second one.
fn spawn_signal_listener(stop: CancellationToken) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            _ = stop.cancelled() => return,
        };
        info!(
            signal = name,
            "signal received (a second one stops at once)"
        );
        stop.cancel();
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        warn!("second signal: exiting at once, without waiting for requests or the job");
        std::process::exit(1);
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_reads_the_server_args_of_a_command_line_of_the_same_program() {
        let cmdline =
            b"/usr/local/bin/pdd-server\0-mysql_server=localhost:3306\0-admin.port=:9000\0";
        assert_eq!(
            server_args(cmdline, "pdd-server").unwrap(),
            ["-mysql_server=localhost:3306", "-admin.port=:9000"]
        );
        assert_eq!(
            server_args(b"pdd-server\0", "pdd-server").unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            server_args(b"/sbin/docker-init\0--\0pdd-server\0", "pdd-server"),
            None
        );
        assert_eq!(server_args(b"", "pdd-server"), None);
    }

    #[test]
    fn default_settings_give_the_default_limits_and_serve_options() {
        let s = Settings::defaults();
        assert_eq!(api_limits(&s), Limits::default());
        assert_eq!(serve_options(&s), ServeOptions::default());
        let mut off = Settings::defaults();
        off.http_rate_limit_register = 0;
        off.http_rate_limit_ping = 0;
        assert!(api_limits(&off).register_rate.is_off());
        assert!(api_limits(&off).ping_rate.is_off());
    }

    #[test]
    fn healthcheck_reaches_a_listener_on_all_interfaces_through_loopback() {
        let host = |s: &str| local_host(&s.parse().unwrap()).to_string();
        assert_eq!(host(":9990"), "127.0.0.1");
        assert_eq!(host("0.0.0.0:9990"), "127.0.0.1");
        assert_eq!(host("[::]:9990"), "::1");
        assert_eq!(host("10.1.2.3:9990"), "10.1.2.3");
        assert_eq!(host("localhost:9990"), "localhost");
    }
}
