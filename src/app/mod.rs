//! The application: builds the adapters from the settings (`wiring`, the only place that knows
//! which adapters exist), binds both listeners, serves the API and the admin interface, runs the
//! scheduler, and shuts everything down in order on SIGTERM/SIGINT.

mod guarded_io;
mod healthcheck;
mod runner;
pub mod scheduler;
pub mod serve;
pub mod telemetry;
mod wiring;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::adapters::admin::console::{Console, OpenConnections};
use crate::adapters::admin::history::{run_sampler, sample_period, MetricsHistory};
use crate::adapters::admin::{admin_routes_with, AdminState, ServerInfo};
use crate::adapters::http::{api_routes, ApiState};
use crate::config::{ConfigError, HostPort, Settings};
use crate::domain::service::Services;
use crate::ports::Storage;
use scheduler::Scheduler;
use serve::{serve_counted, ServeOptions};
use wiring::access_token;

pub use healthcheck::healthcheck;
pub use runner::main_with;
pub use wiring::{
    api_limits, build_description, build_geocoder, build_metrics, build_storage, check,
    serve_options, Overrides, Parts,
};

/// How much faster than real time the clock runs in testing mode: a day lasts 5 minutes.
pub const TESTING_SPEED: u32 = 288;
/// How long in-flight requests may take to finish once shutdown starts.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a running job may take to reach its safe point once shutdown starts.
pub const JOB_STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the client and campaign gauges are refreshed (real time).
pub const GAUGES_EVERY: Duration = Duration::from_secs(60);

async fn bind(setting: &str, addr: &HostPort) -> Result<TcpListener, ConfigError> {
    TcpListener::bind((addr.bind_host(), addr.port))
        .await
        .map_err(|e| ConfigError::new(format!("{setting}={addr}: cannot listen there: {e}")))
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
            ..Console::basic(&parts.services)
        };
        let admin_api = admin_routes_with(
            AdminState {
                services: parts.services.clone(),
                storage: parts.storage.clone(),
                clock: parts.clock.clone(),
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
            owner: parts.services.jobs.instance().to_string(),
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
            self.serve_options.clone(),
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
