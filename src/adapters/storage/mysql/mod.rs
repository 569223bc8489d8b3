//! MySQL / MariaDB storage: the persistent store operators run in production. Blocking `mysql`
//! calls on an r2d2 pool, each moved off the async runtime. `start` returns at once; a background
//! thread creates the database if needed and migrates it (retrying with backoff), and until then
//! every call answers `Unavailable`.

mod codec;
pub mod migrate;
mod queries;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::{Mutex, MutexGuard};
use r2d2_mysql::mysql::consts::CapabilityFlags;
use r2d2_mysql::mysql::prelude::Queryable;
use r2d2_mysql::mysql::{Conn, Opts, OptsBuilder};
use r2d2_mysql::MySqlConnectionManager;
use secrecy::{ExposeSecret, SecretString};
use tracing::{info, warn};

use crate::domain::campaign::Campaign;
use crate::domain::client::{Activity, Client, ClientDetails};
use crate::domain::sketch::{Aggregation, Group, OpenSketch, Sketch, Submission};
use crate::domain::time::Day;
use crate::ports::storage::{ClientCursor, DaySketches, SubmitOutcome};
use crate::ports::{Metrics, Storage, StorageError, StorageResult};
use queries::Db;

pub use migrate::{latest_version, MigrationReport};

/// Timeouts that bound how long a lost database can hold a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MysqlTimeouts {
    /// TCP connect to the server.
    pub connect: Duration,
    /// Socket read and write of one statement.
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

    /// Connection options, with or without the database selected.
    fn opts(&self, with_database: bool) -> Result<OptsBuilder, String> {
        let (host, port) = self.endpoint()?;
        let t = &self.timeouts;
        let init = vec![
            "SET time_zone = '+00:00'".to_string(),
            "SET NAMES utf8mb4".to_string(),
            format!(
                "SET SESSION innodb_lock_wait_timeout = {}",
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

type Pool = r2d2::Pool<MySqlConnectionManager>;

struct Inner {
    pool: Pool,
    ready: AtomicBool,
    /// Why the database is not ready yet (for `Unavailable` messages).
    not_ready: Mutex<String>,
    statements: AtomicU64,
    metrics: Option<Arc<dyn Metrics>>,
}

/// The MySQL storage. Cheap to share behind an `Arc`.
pub struct MysqlStorage {
    inner: Arc<Inner>,
    database: String,
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
        let (opts, not_ready) = match config.opts(true) {
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
        });
        let weak = Arc::downgrade(&inner);
        let database = config.database.clone();
        let spawned = std::thread::Builder::new()
            .name("mysql-migrate".into())
            .spawn(move || prepare_loop(weak, config));
        if let Err(e) = spawned {
            *lock(&inner.not_ready) = format!("could not start the migration thread: {e}");
        }
        Arc::new(MysqlStorage { inner, database })
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
            let why = lock(&self.inner.not_ready).clone();
            return Err(StorageError::Unavailable(format!(
                "database not ready: {why}"
            )));
        }
        let inner = self.inner.clone();
        let started = Instant::now();
        let result = tokio::task::spawn_blocking(move || {
            let mut conn = inner
                .pool
                .get()
                .map_err(|e| StorageError::Unavailable(format!("no database connection: {e}")))?;
            let mut db = Db::new(&mut *conn, &inner.statements);
            f(&mut db)
        })
        .await
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

fn lock(m: &Mutex<String>) -> MutexGuard<'_, String> {
    m.lock()
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
                *lock(&inner.not_ready) = e;
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
    let mut server = Conn::new(Opts::from(config.opts(false)?)).map_err(|e| e.to_string())?;
    server
        .query_drop(format!(
            "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            quote_identifier(&config.database)
        ))
        .map_err(|e| e.to_string())?;
    drop(server);
    let mut conn = Conn::new(Opts::from(config.opts(true)?)).map_err(|e| e.to_string())?;
    migrate::migrate(&mut conn, &config.database).map_err(|e| e.to_string())
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

    async fn create_campaign(&self, campaign: &Campaign) -> StorageResult<()> {
        let c = campaign.clone();
        self.call("create_campaign", move |db| {
            queries::create_campaign(db, &c)
        })
        .await
    }

    async fn get_campaign(&self, name: &str) -> StorageResult<Option<Campaign>> {
        let name = name.to_string();
        self.call("get_campaign", move |db| queries::get_campaign(db, &name))
            .await
    }

    async fn list_campaigns(&self) -> StorageResult<Vec<Campaign>> {
        self.call("list_campaigns", queries::list_campaigns).await
    }

    async fn replace_campaign(&self, campaign: &Campaign) -> StorageResult<()> {
        let c = campaign.clone();
        self.call("replace_campaign", move |db| {
            queries::replace_campaign(db, &c)
        })
        .await
    }

    async fn delete_campaign(&self, name: &str) -> StorageResult<()> {
        let name = name.to_string();
        self.call("delete_campaign", move |db| {
            queries::delete_campaign(db, &name)
        })
        .await
    }

    async fn create_client(&self, client: &Client) -> StorageResult<()> {
        let c = client.clone();
        self.call("create_client", move |db| queries::create_client(db, &c))
            .await
    }

    async fn get_client(&self, name: &str) -> StorageResult<Option<ClientDetails>> {
        let name = name.to_string();
        self.call("get_client", move |db| queries::get_client(db, &name))
            .await
    }

    async fn replace_client(&self, client: &Client) -> StorageResult<()> {
        let c = client.clone();
        self.call("replace_client", move |db| queries::replace_client(db, &c))
            .await
    }

    async fn delete_client(&self, name: &str) -> StorageResult<()> {
        let name = name.to_string();
        self.call("delete_client", move |db| queries::delete_client(db, &name))
            .await
    }

    async fn list_clients(
        &self,
        limit: usize,
        after: Option<&ClientCursor>,
    ) -> StorageResult<Vec<Client>> {
        let after = after.cloned();
        self.call("list_clients", move |db| {
            queries::list_clients(db, limit, after.as_ref())
        })
        .await
    }

    async fn count_clients(&self) -> StorageResult<u64> {
        self.call("count_clients", queries::count_clients).await
    }

    async fn list_activity(
        &self,
        client: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> StorageResult<Vec<Activity>> {
        let client = client.map(str::to_string);
        self.call("list_activity", move |db| {
            queries::list_activity(db, client.as_deref(), since)
        })
        .await
    }

    async fn active_clients(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<Vec<Client>> {
        self.call("active_clients", move |db| {
            queries::active_clients(db, from, to)
        })
        .await
    }

    async fn activity_times(
        &self,
        clients: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<Vec<(String, DateTime<Utc>)>> {
        let clients = clients.to_vec();
        self.call("activity_times", move |db| {
            queries::activity_times(db, &clients, from, to)
        })
        .await
    }

    async fn record_ping(&self, activity: &Activity) -> StorageResult<Option<Vec<OpenSketch>>> {
        let a = activity.clone();
        self.call("record_ping", move |db| queries::record_ping(db, &a))
            .await
    }

    async fn prune_clients(&self, threshold: DateTime<Utc>) -> StorageResult<u64> {
        self.call("prune_clients", move |db| {
            queries::prune_clients(db, threshold)
        })
        .await
    }

    async fn delete_activity_before(&self, before: DateTime<Utc>) -> StorageResult<u64> {
        self.call("delete_activity_before", move |db| {
            queries::delete_activity_before(db, before)
        })
        .await
    }

    async fn get_sketch(&self, name: &str) -> StorageResult<Option<Sketch>> {
        let name = name.to_string();
        self.call("get_sketch", move |db| queries::get_sketch(db, &name))
            .await
    }

    async fn create_day_sketches(&self, day: &DaySketches) -> StorageResult<()> {
        let day = day.clone();
        self.call("create_day_sketches", move |db| {
            queries::create_day_sketches(db, &day)
        })
        .await
    }

    async fn submit(&self, submission: &Submission) -> StorageResult<SubmitOutcome> {
        let sub = submission.clone();
        self.call("submit", move |db| queries::submit(db, &sub))
            .await
    }

    async fn day_groups(&self, campaign: &str, day: Day) -> StorageResult<Vec<Group>> {
        let campaign = campaign.to_string();
        self.call("day_groups", move |db| {
            queries::day_groups(db, &campaign, day)
        })
        .await
    }

    async fn day_raw_sum(&self, campaign: &str, day: Day) -> StorageResult<Option<Vec<i64>>> {
        let campaign = campaign.to_string();
        self.call("day_raw_sum", move |db| {
            queries::day_raw_sum(db, &campaign, day)
        })
        .await
    }

    async fn delete_sketches_before(&self, campaign: &str, before: Day) -> StorageResult<u64> {
        let campaign = campaign.to_string();
        self.call("delete_sketches_before", move |db| {
            queries::delete_sketches_before(db, &campaign, before)
        })
        .await
    }

    async fn delete_orphan_sketches(&self) -> StorageResult<u64> {
        self.call("delete_orphan_sketches", queries::delete_orphan_sketches)
            .await
    }

    async fn put_aggregation(&self, aggregation: &Aggregation) -> StorageResult<()> {
        let a = aggregation.clone();
        self.call("put_aggregation", move |db| {
            queries::put_aggregation(db, &a)
        })
        .await
    }

    async fn list_aggregations(&self, campaign: &str) -> StorageResult<Vec<Aggregation>> {
        let campaign = campaign.to_string();
        self.call("list_aggregations", move |db| {
            queries::list_aggregations(db, &campaign)
        })
        .await
    }

    async fn get_aggregation(
        &self,
        campaign: &str,
        day: Day,
    ) -> StorageResult<Option<Aggregation>> {
        let campaign = campaign.to_string();
        self.call("get_aggregation", move |db| {
            queries::get_aggregation(db, &campaign, day)
        })
        .await
    }

    async fn last_completed(&self, job: &str) -> StorageResult<Option<DateTime<Utc>>> {
        let job = job.to_string();
        self.call("last_completed", move |db| {
            queries::last_completed(db, &job)
        })
        .await
    }

    async fn claim_job(
        &self,
        job: &str,
        firing: DateTime<Utc>,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StorageResult<bool> {
        let (job, owner) = (job.to_string(), owner.to_string());
        self.call("claim_job", move |db| {
            queries::claim_job(db, &job, firing, &owner, now, lease_until)
        })
        .await
    }

    async fn complete_job(
        &self,
        job: &str,
        firing: DateTime<Utc>,
        owner: &str,
    ) -> StorageResult<()> {
        let (job, owner) = (job.to_string(), owner.to_string());
        self.call("complete_job", move |db| {
            queries::complete_job(db, &job, firing, &owner)
        })
        .await
    }

    async fn release_job(&self, job: &str, owner: &str) -> StorageResult<()> {
        let (job, owner) = (job.to_string(), owner.to_string());
        self.call("release_job", move |db| {
            queries::release_job(db, &job, &owner)
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
