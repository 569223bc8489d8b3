//! The connection pool and the database's readiness: a background thread creates the database
//! if needed and migrates it, retrying with backoff, and marks the storage ready once done.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use r2d2_mysql::mysql::prelude::Queryable;
use r2d2_mysql::mysql::{Conn, Opts, OptsBuilder};
use r2d2_mysql::MySqlConnectionManager;
use tracing::{info, warn};

use super::migrate::{self, MigrationReport};
use super::{quote_identifier, MysqlConfig};
use crate::ports::Metrics;

type Pool = r2d2::Pool<MySqlConnectionManager>;

/// What every call of one storage shares.
pub(super) struct Inner {
    pub(super) pool: Pool,
    pub(super) ready: AtomicBool,
    /// Why the database is not ready yet (for `Unavailable` messages).
    pub(super) not_ready: Mutex<String>,
    pub(super) statements: AtomicU64,
    pub(super) metrics: Option<Arc<dyn Metrics>>,
    /// `MysqlTimeouts::request`.
    pub(super) request_budget: Duration,
}

impl Inner {
    /// Builds the pool (without connecting) and starts the background connect-and-migrate
    /// thread.
    pub(super) fn start(config: MysqlConfig, metrics: Option<Arc<dyn Metrics>>) -> Arc<Inner> {
        let (opts, not_ready) = match config.opts(true, true) {
            Ok(o) => (o, "connecting to the database".to_string()),
            Err(e) => (OptsBuilder::new(), e),
        };
        let pool = r2d2::Pool::builder()
            .max_size(config.pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(config.timeouts.checkout)
            .test_on_check_out(true)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(MySqlConnectionManager::new(opts));
        let inner = Arc::new(Inner {
            pool,
            ready: AtomicBool::new(false),
            not_ready: Mutex::new(not_ready),
            statements: AtomicU64::new(0),
            metrics,
            request_budget: config.timeouts.request,
        });
        let weak = Arc::downgrade(&inner);
        let spawned = std::thread::Builder::new()
            .name("mysql-migrate".into())
            .spawn(move || prepare_loop(weak, config));
        if let Err(e) = spawned {
            *inner.not_ready.lock() = format!("could not start the migration thread: {e}");
        }
        inner
    }
}

/// Connects and migrates until it succeeds or the storage is dropped, waiting 250 ms, then
/// twice as long after each failure, up to `max_backoff`.
fn prepare_loop(weak: Weak<Inner>, config: MysqlConfig) {
    let mut backoff = Duration::from_millis(250);
    let mut attempt: u32 = 0;
    loop {
        let Some(inner) = weak.upgrade() else {
            return;
        };
        attempt += 1;
        match prepare(&config) {
            Ok(report) => {
                info!(
                    server = %config.host_port, database = %config.database,
                    from_version = report.from_version, to_version = report.to_version,
                    legacy = report.legacy, "mysql storage ready"
                );
                inner.ready.store(true, Ordering::SeqCst);
                return;
            }
            Err(e) => {
                // The error text comes from the server or the driver; neither includes the
                // password.
                warn!(
                    server = %config.host_port, database = %config.database, attempt,
                    retry_in_ms = backoff.as_millis() as u64, error = %e,
                    "mysql storage not ready; retrying"
                );
                *inner.not_ready.lock() = e;
            }
        }
        drop(inner);
        let until = Instant::now() + backoff;
        while Instant::now() < until {
            if weak.strong_count() == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(50).min(backoff));
        }
        backoff = (backoff * 2).min(config.timeouts.max_backoff);
    }
}

/// Creates the database when missing and brings its schema to the latest version.
fn prepare(config: &MysqlConfig) -> Result<MigrationReport, String> {
    let mut server =
        Conn::new(Opts::from(config.opts(false, false)?)).map_err(|e| e.to_string())?;
    server
        .query_drop(format!(
            "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            quote_identifier(&config.database)
        ))
        .map_err(|e| e.to_string())?;
    drop(server);
    let mut conn = Conn::new(Opts::from(config.opts(true, false)?)).map_err(|e| e.to_string())?;
    migrate::migrate(&mut conn, &config.database).map_err(|e| e.to_string())
}
