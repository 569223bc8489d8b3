//! Fresh MariaDB databases for tests and benches, dropped at the end, and a loopback TCP proxy
//! that can cut the storage off its database and let it back (cargo features `test-util` and
//! `mysql`).
//!
//! The tests' server is `PDD_TEST_MYSQL_SERVER` (default `127.0.0.1:3306`, root, no
//! password). When it cannot be reached the MySQL tests print "MySQL suite skipped: …" and
//! pass, unless `PDD_REQUIRE_MYSQL=1`, where they fail.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use r2d2_mysql::mysql::prelude::Queryable;
use r2d2_mysql::mysql::{Conn, Opts, OptsBuilder};
use secrecy::SecretString;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::adapters::storage::mysql::{quote_identifier, MysqlConfig, MysqlStorage};
use crate::ports::Storage;

/// The tests' server, `host:port`: `PDD_TEST_MYSQL_SERVER`, else `127.0.0.1:3306`.
pub fn server() -> String {
    server_from("PDD_TEST_MYSQL_SERVER")
}

/// The server named by the environment variable `var`, else `127.0.0.1:3306`.
pub fn server_from(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| "127.0.0.1:3306".to_string())
}

/// The host and port of `host:port` (port 3306 when absent or unreadable).
pub fn host_port(server: &str) -> (String, u16) {
    server
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.parse().unwrap_or(3306)))
        .unwrap_or((server.to_string(), 3306))
}

/// Connection options as root without password, to `database` or none, the session in UTC.
pub fn opts(server: &str, database: Option<&str>) -> Opts {
    let (host, port) = host_port(server);
    Opts::from(
        OptsBuilder::new()
            .ip_or_hostname(Some(host))
            .tcp_port(port)
            .user(Some("root"))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(Duration::from_secs(2)))
            .db_name(database)
            .init(vec!["SET time_zone = '+00:00'"]),
    )
}

/// A connection as root to `server`, to the given database or none.
pub fn connect(server: &str, database: Option<&str>) -> Result<Conn, r2d2_mysql::mysql::Error> {
    Conn::new(opts(server, database))
}

/// A connection as root to the tests' server, to the given database or none.
pub fn admin(database: Option<&str>) -> Conn {
    connect(&server(), database).expect("connect to MariaDB as root")
}

/// Drops database `name` on `server` if it is there; errors are ignored.
pub fn drop_database(server: &str, name: &str) {
    if let Ok(mut c) = connect(server, None) {
        let _ = c.query_drop(format!(
            "DROP DATABASE IF EXISTS {}",
            quote_identifier(name)
        ));
    }
}

/// Whether the MySQL tests run here; prints the skip line (once per test binary) or panics as
/// the environment asks.
pub fn available() -> bool {
    match connect(&server(), None) {
        Ok(_) => true,
        Err(e) => {
            if std::env::var("PDD_REQUIRE_MYSQL").as_deref() == Ok("1") {
                panic!(
                    "PDD_REQUIRE_MYSQL=1 but MariaDB at {} is not reachable: {e}",
                    server()
                );
            }
            // Once per run, straight to stderr so that the test harness does not capture it.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                use std::io::Write;
                let line = format!(
                    "\nMySQL suite skipped: no MariaDB at {} ({e}); set PDD_REQUIRE_MYSQL=1 to fail instead\n",
                    server()
                );
                let _ = std::io::stderr().write_all(line.as_bytes());
            });
            false
        }
    }
}

/// A database name no other test uses.
pub fn fresh_name() -> String {
    format!("pdd_test_{}", uuid::Uuid::new_v4().simple())
}

/// The storage's settings for `database` on `host_port`, with short timeouts so that outages
/// show quickly.
pub fn config(host_port: &str, database: &str, pool_size: u32) -> MysqlConfig {
    let mut c = MysqlConfig::new(host_port, "root", SecretString::from(""), database);
    c.pool_size = pool_size;
    c.timeouts.max_backoff = Duration::from_millis(500);
    c.timeouts.checkout = Duration::from_secs(1);
    c.timeouts.connect = Duration::from_secs(1);
    c
}

/// A test database on the tests' server, dropped when this goes out of scope.
pub struct TestDb {
    pub name: String,
}

impl Default for TestDb {
    fn default() -> Self {
        Self::new()
    }
}

impl TestDb {
    /// A fresh name; the database is created by the first storage (or `exec`) on it.
    pub fn new() -> TestDb {
        TestDb { name: fresh_name() }
    }

    /// Runs SQL in this database (creating it first when needed).
    pub fn exec(&self, sql: &str) {
        let mut c = admin(None);
        c.query_drop(format!(
            "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8",
            quote_identifier(&self.name)
        ))
        .unwrap();
        let mut c = admin(Some(&self.name));
        c.query_drop(sql).unwrap_or_else(|e| panic!("{e}: {sql}"));
    }

    pub fn conn(&self) -> Conn {
        admin(Some(&self.name))
    }

    /// Starts a storage on this database and waits until it is ready.
    pub async fn storage(&self, pool_size: u32) -> Arc<MysqlStorage> {
        let s = MysqlStorage::start(config(&server(), &self.name, pool_size));
        if !s.wait_ready(Duration::from_secs(20)).await {
            panic!("storage not ready within 20 s: {:?}", s.health().await);
        }
        s
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Off any async runtime thread: dropping blocks on the server.
        let _ = std::thread::spawn(move || drop_database(&server(), &name)).join();
    }
}

/// A loopback TCP proxy to the tests' server that can be cut (listener closed, every
/// connection through it dropped) and restored on the same port. Runs on the runtime it is
/// started on; see [`BlockingProxy`] for tests without one.
pub struct Proxy {
    pub addr: SocketAddr,
    state: Arc<Mutex<Option<watch::Sender<bool>>>>,
}

impl Proxy {
    pub async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let proxy = Proxy {
            addr,
            state: Arc::new(Mutex::new(None)),
        };
        proxy.serve(listener);
        proxy
    }

    /// A proxy address that is not served yet (`restore` serves it).
    pub async fn cut_from_start() -> Proxy {
        let proxy = Proxy::start().await;
        proxy.cut();
        proxy
    }

    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    fn serve(&self, listener: TcpListener) {
        let (tx, rx) = watch::channel(false);
        *self.state.lock() = Some(tx);
        let target = server();
        tokio::spawn(async move {
            let mut stop = rx.clone();
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    accepted = listener.accept() => {
                        let Ok((mut inbound, _)) = accepted else { return };
                        let target = target.clone();
                        let mut stop = rx.clone();
                        tokio::spawn(async move {
                            let Ok(mut outbound) = TcpStream::connect(&target).await else { return };
                            tokio::select! {
                                _ = stop.changed() => {}
                                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            }
                        });
                    }
                }
            }
        });
    }

    /// Closes the listener and every connection through the proxy.
    pub fn cut(&self) {
        if let Some(tx) = self.state.lock().take() {
            let _ = tx.send(true);
        }
    }

    /// Serves the same port again (tries for 10 s while the port is still held).
    pub async fn restore(&self) {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(_) if tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot rebind proxy port {}: {e}", self.addr),
            }
        };
        self.serve(listener);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// A [`Proxy`] on a runtime thread of its own, for tests that block.
pub struct BlockingProxy {
    proxy: Proxy,
    runtime: tokio::runtime::Runtime,
}

impl BlockingProxy {
    pub fn start() -> BlockingProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let proxy = runtime.block_on(Proxy::start());
        BlockingProxy { proxy, runtime }
    }

    pub fn host_port(&self) -> String {
        self.proxy.host_port()
    }

    pub fn cut(&self) {
        self.proxy.cut()
    }

    pub fn restore(&self) {
        self.runtime.block_on(self.proxy.restore())
    }
}

impl Drop for BlockingProxy {
    fn drop(&mut self) {
        // Cut within the runtime, before it goes.
        self.proxy.cut();
    }
}
