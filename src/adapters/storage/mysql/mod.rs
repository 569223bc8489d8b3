//! MySQL / MariaDB storage: the persistent store operators run in production. Blocking `mysql`
//! calls on an r2d2 pool, each moved off the async runtime. `start` returns at once; a background
//! thread creates the database if needed and migrates it (retrying with backoff), and until then
//! every call answers `Unavailable`.

mod codec;
pub mod migrate;
mod pool;
mod queries;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use r2d2_mysql::mysql::consts::CapabilityFlags;
use r2d2_mysql::mysql::{Conn, OptsBuilder};
use secrecy::{ExposeSecret, SecretString};

use crate::ports::{Metrics, Storage, StorageError, StorageResult};
use pool::Inner;
use queries::{ActivityWriter, Db, KeyCache};

pub use migrate::{latest_version, MigrationReport};

/// Timeouts that bound how long a lost database can hold a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MysqlTimeouts {
    /// The most one call serving a request may take, waiting for a connection included
    /// (`-mysql_timeout`); beyond it the call is `Unavailable` (503) and its connection is not
    /// reused unless it answers a ping. The jobs' long statements (`LONG_OPS`) are bounded by
    /// `query` instead.
    pub request: Duration,
    /// TCP connect to the server.
    pub connect: Duration,
    /// Socket read and write of one statement, and the server's time limit on one statement
    /// of the pooled connections (`max_statement_time`, MariaDB).
    pub query: Duration,
    /// Waiting for a pooled connection (includes connecting a new one).
    pub checkout: Duration,
    /// Waiting for a row lock held by another transaction.
    pub lock_wait: Duration,
    /// Longest pause between two attempts to reach the database at start-up.
    pub max_backoff: Duration,
}

impl Default for MysqlTimeouts {
    fn default() -> Self {
        MysqlTimeouts {
            request: Duration::from_secs(5),
            connect: Duration::from_secs(2),
            query: Duration::from_secs(30),
            checkout: Duration::from_secs(2),
            lock_wait: Duration::from_secs(10),
            max_backoff: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone)]
pub struct MysqlConfig {
    /// `host:port` (`[::1]:3306` for IPv6).
    pub host_port: String,
    pub user: String,
    pub password: SecretString,
    pub database: String,
    /// Most connections open at once.
    pub pool_size: u32,
    pub timeouts: MysqlTimeouts,
}

impl MysqlTimeouts {
    /// The defaults with a request budget of `request`: connecting and waiting for a pooled
    /// connection fit in it too.
    pub fn with_request_budget(request: Duration) -> Self {
        let d = MysqlTimeouts::default();
        MysqlTimeouts {
            request,
            connect: d.connect.min(request),
            checkout: d.checkout.min(request),
            ..d
        }
    }
}

/// The calls of the nightly jobs, over whole days of data: bounded by the statement limit
/// (`MysqlTimeouts::query`), not by the request budget.
const LONG_OPS: &[&str] = &[
    "active_clients",
    "count_client_day",
    "create_day_sketches",
    "day_groups",
    "day_raw_sum",
    "delete_activity_before",
    "delete_client_days_before",
    "delete_job_runs_before",
    "delete_orphan_sketches",
    "delete_sketches_before",
    "prune_clients",
    "put_aggregation",
];

impl MysqlConfig {
    /// A configuration with the default pool size (16) and timeouts.
    pub fn new(host_port: &str, user: &str, password: SecretString, database: &str) -> Self {
        MysqlConfig {
            host_port: host_port.to_string(),
            user: user.to_string(),
            password,
            database: database.to_string(),
            pool_size: 16,
            timeouts: MysqlTimeouts::default(),
        }
    }

    /// Host and port; a missing host means the local machine.
    fn endpoint(&self) -> Result<(String, u16), String> {
        let (host, port) = self
            .host_port
            .rsplit_once(':')
            .ok_or_else(|| format!("mysql server {:?} is not host:port", self.host_port))?;
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("mysql server {:?} has no valid port", self.host_port))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = if host.is_empty() { "127.0.0.1" } else { host };
        Ok((host.to_string(), port))
    }

    /// Connection options, with or without the database selected; the pooled connections
    /// (`pooled`) get the statement time limit, the migrations' connection does not.
    fn opts(&self, with_database: bool, pooled: bool) -> Result<OptsBuilder, String> {
        let (host, port) = self.endpoint()?;
        let t = &self.timeouts;
        // `/*M! … */` is run by MariaDB only (MySQL has no max_statement_time).
        let statement_limit = if pooled {
            format!(
                " /*M!, max_statement_time = {:.3} */",
                t.query.as_secs_f64()
            )
        } else {
            String::new()
        };
        let init = vec![
            "SET time_zone = '+00:00'".to_string(),
            "SET NAMES utf8mb4".to_string(),
            format!(
                "SET SESSION innodb_lock_wait_timeout = {}{statement_limit}",
                t.lock_wait.as_secs().max(1)
            ),
        ];
        Ok(OptsBuilder::new()
            .ip_or_hostname(Some(host))
            .tcp_port(port)
            .user(Some(self.user.clone()))
            .pass(Some(self.password.expose_secret().to_string()))
            .db_name(with_database.then(|| self.database.clone()))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(t.connect))
            .read_timeout(Some(t.query))
            .write_timeout(Some(t.query))
            .additional_capabilities(CapabilityFlags::CLIENT_FOUND_ROWS)
            .init(init))
    }
}

/// The MySQL storage. Cheap to share behind an `Arc`.
pub struct MysqlStorage {
    inner: Arc<Inner>,
    database: String,
    /// The group commit of pings' activity rows.
    activity: Arc<ActivityWriter>,
    /// Groups' public keys, read once per group.
    keys: Arc<KeyCache>,
}

impl MysqlStorage {
    /// Builds the pool (without connecting) and starts the background connect-and-migrate task.
    pub fn start(config: MysqlConfig) -> Arc<MysqlStorage> {
        Self::start_with_metrics(config, None)
    }

    /// Like `start`, recording each call's latency and outcome in `metrics`.
    pub fn start_with_metrics(
        config: MysqlConfig,
        metrics: Option<Arc<dyn Metrics>>,
    ) -> Arc<MysqlStorage> {
        let database = config.database.clone();
        let inner = Inner::start(config, metrics);
        Arc::new(MysqlStorage {
            inner,
            database,
            activity: Arc::default(),
            keys: Arc::default(),
        })
    }

    /// True once the database is reachable and migrated.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::SeqCst)
    }

    /// Waits until ready, at most `within`; returns whether it is.
    pub async fn wait_ready(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while !self.is_ready() {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// The database name this storage uses.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Statements sent to the server so far by this storage (START TRANSACTION and COMMIT
    /// included), for tests and diagnostics.
    pub fn statements(&self) -> u64 {
        self.inner.statements.load(Ordering::Relaxed)
    }

    /// The server's `Questions` counter of the session of one pooled connection: with a pool
    /// of size 1 it counts every statement this storage sent on it.
    pub async fn session_questions(&self) -> StorageResult<u64> {
        self.call("session_questions", |db| db.session_questions())
            .await
    }

    async fn call<T, F>(&self, op: &'static str, f: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db<'_, Conn>) -> StorageResult<T> + Send + 'static,
    {
        if !self.is_ready() {
            let why = self.inner.not_ready.lock().clone();
            return Err(StorageError::Unavailable(format!(
                "database not ready: {why}"
            )));
        }
        let inner = self.inner.clone();
        let started = Instant::now();
        let task = tokio::task::spawn_blocking(move || {
            let mut conn = inner
                .pool
                .get()
                .map_err(|e| StorageError::Unavailable(format!("no database connection: {e}")))?;
            let mut db = Db::new(&mut *conn, &inner.statements);
            f(&mut db)
        });
        let budget = self.inner.request_budget;
        let joined = if LONG_OPS.contains(&op) {
            task.await
        } else {
            // A hung database holds the blocking thread until the socket timeout; the request
            // is answered now. The connection goes back to the pool only if it answers a ping.
            match tokio::time::timeout(budget, task).await {
                Ok(joined) => joined,
                Err(_) => Ok(Err(StorageError::Unavailable(format!(
                    "the database did not answer within {} ms",
                    budget.as_millis()
                )))),
            }
        };
        let result = joined
            .unwrap_or_else(|e| Err(StorageError::Failure(format!("storage task failed: {e}"))));
        if let Some(m) = &self.inner.metrics {
            let ok = !matches!(
                result,
                Err(StorageError::Unavailable(_) | StorageError::Failure(_))
            );
            m.storage_call(op, started.elapsed(), ok);
        }
        result
    }
}

/// A MySQL identifier in backquotes (backquotes inside doubled).
pub fn quote_identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

#[async_trait]
impl Storage for MysqlStorage {
    fn kind(&self) -> &'static str {
        "mysql"
    }

    async fn health(&self) -> StorageResult<()> {
        self.call("health", |db| db.run("SELECT 1", vec![]).map(|_| ()))
            .await
    }

    async fn schema_version(&self) -> StorageResult<Option<u32>> {
        self.call("schema_version", |db| {
            db.first::<Option<u32>>(
                "SELECT MAX(version) FROM schema_version WHERE appliedTime IS NOT NULL",
                vec![],
            )
            .map(Option::flatten)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(host_port: &str) -> MysqlConfig {
        MysqlConfig::new(host_port, "root", SecretString::from("s3cret"), "pdd")
    }

    #[test]
    fn endpoint_parses_host_port_forms() {
        assert_eq!(config("db:3307").endpoint(), Ok(("db".to_string(), 3307)));
        assert_eq!(
            config(":3306").endpoint(),
            Ok(("127.0.0.1".to_string(), 3306))
        );
        assert_eq!(
            config("[::1]:3306").endpoint(),
            Ok(("::1".to_string(), 3306))
        );
        assert!(config("db").endpoint().is_err());
        assert!(config("db:x").endpoint().is_err());
    }

    #[test]
    fn config_debug_hides_the_password() {
        assert!(!format!("{:?}", config("db:3306")).contains("s3cret"));
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_identifier("pdd"), "`pdd`");
        assert_eq!(quote_identifier("a`b"), "`a``b`");
    }
}
