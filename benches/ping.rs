//! Ping throughput over HTTP, driven by `wrk` (2 threads), against the server built in process
//! (release): on memory storage, `POST /api/clients/{name}/ping` beside the trivial admin
//! `/admin/ping` in the same run (64 connections), with latency percentiles, their ratio and the
//! process's resident memory; then pings on MySQL (32 connections) with the statements each
//! cost. The workload: 130,000 clients active yesterday (25,800 on MySQL), 5 campaigns of 50
//! queries, groups of 50, sketches created at 01:00 so every ping today gets 5 commands (an
//! answer of some 45 KB).
//!
//! Run: `cargo bench --bench ping` (needs `wrk`: `apt install wrk`). Environment:
//! `PDD_PING_CLIENTS` (memory, default 130000), `PDD_PING_MYSQL_CLIENTS` (default 25800),
//! `PDD_PING_SECONDS` (per measurement, default 15), `PDD_PING_STORAGE` (`memory`, `mysql` or
//! `both`, the default; MySQL runs when MariaDB answers on 127.0.0.1:3306). Without `--bench`
//! (`cargo test --bench ping`) a small quick run. The machine is shared: the load average is
//! printed beside each figure, and the ratio, measured in one run, is what compares.

use std::io::Write;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use chrono_tz::Europe::London;
use futures::StreamExt;
use secrecy::SecretString;

use pdd_server::adapters::storage::memory::MemoryStorage;
use pdd_server::app::{Application, Overrides};
use pdd_server::config::Settings;
use pdd_server::domain::service::jobs::JobKind;
use pdd_server::domain::service::ping::PingInput;
use pdd_server::domain::service::Services;
use pdd_server::domain::time::Calendar;
use pdd_server::ports::Storage;
use pdd_server::testing::bench::{env_or, memory_figures};
use pdd_server::testing::{
    campaign_input, client_input, context, exact_queries, london_at as london, ManualClock,
};

/// The server's allocator (see `src/main.rs`): the server runs in this process.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CAMPAIGNS: usize = 5;
const QUERIES: usize = 50;
const GROUP_SIZE: i64 = 50;
/// Concurrent calls while filling the storage.
const SETUP_CONCURRENCY: usize = 32;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let clients = env_or("PDD_PING_CLIENTS", if full { 130_000 } else { 300 });
    let mysql_clients = env_or("PDD_PING_MYSQL_CLIENTS", if full { 25_800 } else { 200 });
    let seconds = env_or("PDD_PING_SECONDS", if full { 15 } else { 1 });
    let storage = std::env::var("PDD_PING_STORAGE").unwrap_or_else(|_| "both".into());
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("wrk is not installed (apt install wrk): nothing measured");
        return;
    }
    if storage == "both" || storage == "memory" {
        memory(clients, seconds);
    }
    #[cfg(feature = "mysql")]
    if storage == "both" || storage == "mysql" {
        if mysql_answers() {
            mysql::run(mysql_clients, seconds);
        } else {
            println!("mysql: no server on 127.0.0.1:3306, skipped");
        }
    }
    #[cfg(not(feature = "mysql"))]
    let _ = mysql_clients;
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2018, 5, 20).expect("date")
}

/// Fills `storage`: campaigns, `n` clients active yesterday, today's sketches; every job
/// recorded complete so the server's scheduler has nothing to catch up. Returns the names.
async fn populate(storage: Arc<dyn Storage>, clock: Arc<ManualClock>, n: usize) -> Vec<String> {
    let started = Instant::now();
    let today = today();
    let yesterday = today.pred_opt().expect("date");
    let calendar = Calendar::new(London);
    clock.set(london(yesterday, 9, 0));
    let services = Services::new(context(storage.clone(), clock.clone()));
    for c in 0..CAMPAIGNS {
        let input = campaign_input(
            &format!("Campaign {c}"),
            exact_queries(QUERIES, |q| format!("query {c}-{q}")),
            london(today - chrono::Duration::days(10), 9, 0),
            GROUP_SIZE,
        );
        services.campaigns.create(input).await.expect("campaign");
    }
    let names: Vec<String> = futures::stream::iter(0..n)
        .map(|i| {
            let services = &services;
            async move {
                services
                    .clients
                    .register(client_input(i))
                    .await
                    .expect("client")
                    .name
            }
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect()
        .await;
    clock.set(london(yesterday, 12, 0));
    futures::stream::iter(&names)
        .for_each_concurrent(SETUP_CONCURRENCY, |name| {
            let services = &services;
            async move {
                services
                    .ping
                    .ping(name, PingInput::default())
                    .await
                    .expect("ping");
            }
        })
        .await;
    let at = london(today, 1, 0);
    clock.set(at);
    let report = services
        .jobs
        .run(JobKind::CreateSketches, at)
        .await
        .expect("create-sketches");
    assert_eq!(report.get("created"), (n * CAMPAIGNS) as u64);
    let now = london(today, 10, 0);
    clock.set(now);
    for job in JobKind::ALL {
        let firing = job.latest_firing(&calendar, now);
        storage
            .complete_job(job.name(), firing, "bench")
            .await
            .expect("job recorded");
    }
    println!(
        "  setup: {n} clients, {} sketches, {} groups in {:.1?}",
        report.get("created"),
        report.get("groups"),
        started.elapsed()
    );
    names
}

/// A server on its own multi-threaded runtime, as in production.
struct Server {
    http: std::net::SocketAddr,
    admin: std::net::SocketAddr,
    stop: tokio_util::sync::CancellationToken,
    thread: std::thread::JoinHandle<()>,
}

fn start(storage: Arc<dyn Storage>, clock: Arc<ManualClock>) -> Server {
    let mut settings = Settings::defaults();
    settings.http_port = "127.0.0.1:0".parse().expect("address");
    settings.admin_port = "127.0.0.1:0".parse().expect("address");
    settings.api_access_token = Some(SecretString::from("ping-bench-token-5e1d"));
    settings.http_rate_limit_register = 0;
    settings.http_rate_limit_ping = 0;
    settings.timezone = London;
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let app = Application::build_with(
                settings,
                Overrides {
                    clock: Some(clock),
                    storage: Some(storage),
                    ..Overrides::default()
                },
            )
            .await
            .expect("the application builds");
            tx.send((app.http_addr(), app.admin_addr(), app.stop_token()))
                .expect("sent");
            app.run_until_stopped().await.expect("served");
        });
    });
    let (http, admin, stop) = rx.recv().expect("started");
    Server {
        http,
        admin,
        stop,
        thread,
    }
}

impl Server {
    fn stop(self) {
        self.stop.cancel();
        let _ = self.thread.join();
    }

    /// One ping answered 200 with 5 commands; returns the answer's size.
    fn check_ping(&self, name: &str) -> usize {
        let body = reqwest::blocking::Client::new()
            .post(format!("http://{}/api/clients/{name}/ping", self.http))
            .body(BODY)
            .header("content-type", "application/json")
            .send()
            .expect("ping answered")
            .error_for_status()
            .expect("ping 200")
            .bytes()
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["submit"].as_array().map(Vec::len), Some(CAMPAIGNS));
        body.len()
    }
}

const BODY: &str = r#"{"extensionVersion":"1.2.0","timezone":"Europe/London"}"#;

/// What wrk measured.
struct Figures {
    requests: u64,
    per_second: f64,
    p50: String,
    p99: String,
    errors: u64,
    load: String,
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs wrk against `url` (`names` given: pings of those clients in turn, from a random start
/// per thread).
fn wrk(url: &str, names: Option<&[String]>, connections: usize, seconds: u64) -> Figures {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args: Vec<String> = vec![
        "-t2".into(),
        format!("-c{connections}"),
        format!("-d{seconds}s"),
        "--latency".into(),
        "--timeout".into(),
        "10s".into(),
    ];
    if let Some(names) = names {
        let list = dir.path().join("names.txt");
        let mut f = std::fs::File::create(&list).expect("names file");
        for n in names {
            writeln!(f, "{n}").expect("name written");
        }
        let script = dir.path().join("ping.lua");
        std::fs::write(
            &script,
            format!(
                r#"local names = {{}}
for line in io.lines("{}") do names[#names + 1] = line end
math.randomseed(os.time() + (tonumber(tostring({{}}):match("0x(%x+)") or "0", 16) % 100000))
local i = math.random(#names)
local headers = {{["Content-Type"] = "application/json"}}
local body = '{BODY}'
request = function()
  i = i + 1
  if i > #names then i = 1 end
  return wrk.format("POST", "/api/clients/" .. names[i] .. "/ping", headers, body)
end
"#,
                list.display()
            ),
        )
        .expect("script");
        args.push("-s".into());
        args.push(script.display().to_string());
    }
    args.push(url.to_string());
    let load = load_average();
    let out = Command::new("wrk").args(&args).output().expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string()
    };
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let errors = text
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses:"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
        + text
            .lines()
            .find(|l| l.contains("Socket errors:"))
            .map_or(0, |l| {
                l.split(|c: char| !c.is_ascii_digit())
                    .filter_map(|n| n.parse::<u64>().ok())
                    .sum()
            });
    Figures {
        requests,
        per_second: field("Requests/sec:").parse().unwrap_or(0.0),
        p50: field("50%"),
        p99: field("99%"),
        errors,
        load,
    }
}

fn line(what: &str, f: &Figures) {
    println!(
        "  {what:<34} {:>9.0}/s  p50 {:>8}  p99 {:>8}  ({} requests, {} errors; load average before: {})",
        f.per_second, f.p50, f.p99, f.requests, f.errors, f.load
    );
}

/// CPU seconds (user + system) used so far by process `pid`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is field 3, utime 14.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) / hz
}

/// The process whose command is `name`, if one runs.
fn pid_of(name: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        (comm.trim() == name).then_some(pid)
    })
}

/// Where the CPU went during a measurement: this process (the server), and the database.
struct CpuSplit {
    started: Instant,
    server: f64,
    database: Option<(u32, f64)>,
}

impl CpuSplit {
    fn start() -> Self {
        let database = pid_of("mariadbd")
            .or_else(|| pid_of("mysqld"))
            .map(|pid| (pid, cpu_seconds(pid)));
        CpuSplit {
            started: Instant::now(),
            server: cpu_seconds(std::process::id()),
            database,
        }
    }

    fn line(&self) {
        let wall = self.started.elapsed().as_secs_f64();
        let server = cpu_seconds(std::process::id()) - self.server;
        let database = self
            .database
            .map(|(pid, before)| format!(", the database {:.1} s", cpu_seconds(pid) - before))
            .unwrap_or_default();
        println!(
            "  CPU during that run: the server process {server:.1} s{database}, of {:.1} s available (2 cores × {wall:.1} s; wrk and other work the rest)",
            2.0 * wall
        );
    }
}

fn memory(clients: usize, seconds: u64) {
    println!("memory storage: {clients} clients, {CAMPAIGNS} campaigns × {QUERIES} queries, groups of {GROUP_SIZE}; wrk -t2 -c64 -d{seconds}s");
    let clock = Arc::new(ManualClock::new(london(today(), 0, 0)));
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let names = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(populate(storage.clone(), clock.clone(), clients));
    let server = start(storage, clock);
    let size = server.check_ping(&names[0]);
    println!(
        "  a ping answer: {size} bytes; memory after setup: {}",
        memory_figures()
    );
    let admin = wrk(
        &format!("http://{}/admin/ping", server.admin),
        None,
        64,
        seconds,
    );
    let cpu = CpuSplit::start();
    let ping = wrk(
        &format!("http://{}/", server.http),
        Some(&names),
        64,
        seconds,
    );
    line("GET /admin/ping", &admin);
    line("POST /api/clients/{name}/ping", &ping);
    cpu.line();
    println!(
        "  ping / admin ping: {:.1} %   (target ≥ 25 %, p99 ≤ 10 ms)",
        100.0 * ping.per_second / admin.per_second.max(1.0)
    );
    println!(
        "  memory of the process after the runs: {}   (target RSS ≤ 800 MiB)",
        memory_figures()
    );
    server.stop();
}

#[cfg(feature = "mysql")]
fn mysql_answers() -> bool {
    std::net::TcpStream::connect_timeout(
        &"127.0.0.1:3306".parse().expect("address"),
        std::time::Duration::from_millis(500),
    )
    .is_ok()
}

#[cfg(feature = "mysql")]
mod mysql {
    use std::time::Duration;

    use super::*;
    use pdd_server::adapters::storage::mysql::{MysqlConfig, MysqlStorage};

    pub fn run(clients: usize, seconds: u64) {
        println!("mysql storage (127.0.0.1:3306): {clients} clients; wrk -t2 -c32 -d{seconds}s");
        let database = format!("pdd_ping_bench_{}", uuid::Uuid::new_v4().simple());
        let config = MysqlConfig::new("127.0.0.1:3306", "root", SecretString::from(""), &database);
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let mysql = rt.block_on(async {
            let mysql = MysqlStorage::start(config);
            assert!(
                mysql.wait_ready(Duration::from_secs(60)).await,
                "mysql ready"
            );
            mysql
        });
        let storage: Arc<dyn Storage> = mysql.clone();
        let clock = Arc::new(ManualClock::new(london(today(), 0, 0)));
        let names = rt.block_on(populate(storage.clone(), clock.clone(), clients));
        drop(rt);
        let server = start(storage, clock);
        server.check_ping(&names[0]);
        let before = mysql.statements();
        let cpu = CpuSplit::start();
        let ping = wrk(
            &format!("http://{}/", server.http),
            Some(&names),
            32,
            seconds,
        );
        let statements = mysql.statements() - before;
        line("POST /api/clients/{name}/ping", &ping);
        cpu.line();
        println!(
            "  statements per ping: {:.2} ({statements} for {} pings; target ≥ 5,000 pings/s)",
            statements as f64 / ping.requests.max(1) as f64,
            ping.requests
        );
        server.stop();
        drop_database(&database);
    }

    fn drop_database(name: &str) {
        use r2d2_mysql::mysql::prelude::Queryable;
        let opts = r2d2_mysql::mysql::OptsBuilder::new()
            .ip_or_hostname(Some("127.0.0.1"))
            .tcp_port(3306)
            .user(Some("root"))
            .prefer_socket(false);
        if let Ok(mut conn) = r2d2_mysql::mysql::Conn::new(opts) {
            let _ = conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"));
        }
    }
}
