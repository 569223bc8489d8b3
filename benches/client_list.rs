//! The unlimited client list (`GET /api/clients` without `limit`, what the dashboard calls) over
//! many clients, on memory storage and on MariaDB: the time to stream it and the server's
//! resident memory while it does, against the same list over a tenth of the clients. The server
//! is the built binary, so its memory is measured apart from this program's; the answer is read
//! as a stream and counted, never held.
//!
//! `cargo bench --bench client_list`; `PDD_BENCH_CLIENTS=N` (default 100,000) sets the
//! population. MariaDB on 127.0.0.1:3306 (root, no password) is used when it answers; each run
//! makes its own database and drops it.

use std::fmt;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

use pdd_server::testing::public_key;

const BIN: &str = env!("CARGO_BIN_EXE_pdd-server");
const TOKEN: &str = "client-list-bench-token";
const MYSQL: &str = "127.0.0.1:3306";
const REGISTERING_THREADS: usize = 16;

/// The number of elements of a JSON array, read without keeping them.
struct Count(usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        struct Counter;
        impl<'de> Visitor<'de> for Counter {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                let mut n = 0;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Count(n))
            }
        }
        d.deserialize_seq(Counter)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct List {
    clients: Count,
}

struct Server {
    child: Child,
    http: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(extra: &[String]) -> Server {
    let mut server = Server {
        child: Command::new(BIN)
            .args([
                "-http.port=127.0.0.1:0",
                "-admin.port=127.0.0.1:0",
                "-http.rate_limit.register=0",
                "-log_level=WARN",
            ])
            .args(extra)
            .env("PDD_API_ACCESS_TOKEN", TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts"),
        http: String::new(),
    };
    for out in [
        Box::new(server.child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(server.child.stderr.take().unwrap()),
    ] {
        thread::spawn(move || std::io::copy(&mut BufReader::new(out), &mut std::io::sink()));
    }
    // With -log_level=WARN the address is not logged: ask the kernel through /proc instead.
    let pid = server.child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ports = listening_ports(pid);
        let http = ports.iter().find_map(|p| serves_api(*p));
        // Ready once the storage answers (MySQL migrates first).
        let healthy = ports.iter().any(|p| {
            reqwest::blocking::get(format!("http://127.0.0.1:{p}/health"))
                .is_ok_and(|r| r.status().is_success())
        });
        if let (Some(http), true) = (http, healthy) {
            server.http = http;
            return server;
        }
        assert!(Instant::now() < deadline, "the server did not listen");
        thread::sleep(Duration::from_millis(100));
    }
}

/// The loopback TCP ports process `pid` listens on.
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let listening = f.get(3) == Some(&"0A");
            let ours = f.get(9).is_some_and(|i| inodes.iter().any(|x| x == i));
            let port = f.get(1)?.split(':').nth(1)?;
            (listening && ours).then(|| u16::from_str_radix(port, 16).ok())?
        })
        .collect()
}

fn serves_api(port: u16) -> Option<String> {
    let http = format!("127.0.0.1:{port}");
    let r = reqwest::blocking::get(format!("http://{http}/api/openapi.json")).ok()?;
    r.status().is_success().then_some(http)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Registers clients until there are `total`, from several threads.
fn register(server: &Server, total: usize, already: usize) {
    let next = Arc::new(AtomicU64::new(already as u64));
    let handles: Vec<_> = (0..REGISTERING_THREADS)
        .map(|_| {
            let next = next.clone();
            let url = format!("http://{}/api/clients", server.http);
            thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total as u64 {
                        break;
                    }
                    let body = serde_json::json!({
                        "publicKey": public_key(i as usize),
                        "browser": "chrome",
                        "externalName": format!("panel-{i}"),
                    });
                    let r = http.post(&url).json(&body).send().expect("registration");
                    assert_eq!(r.status().as_u16(), 201);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// Streams the whole list once; (clients, bytes, seconds, RSS before, peak RSS during).
fn list(server: &Server) -> (usize, u64, f64, u64, u64) {
    let pid = server.child.id();
    let before = rss_kib(pid);
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(before));
    let sampler = {
        let (done, peak) = (done.clone(), peak.clone());
        thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let started = Instant::now();
    let r = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap()
        .get(format!("http://{}/api/clients", server.http))
        .bearer_auth(TOKEN)
        .send()
        .expect("the list answers");
    assert_eq!(r.status().as_u16(), 200);
    let mut reader = CountingReader {
        inner: BufReader::with_capacity(64 * 1024, r),
        bytes: 0,
    };
    let list: List = serde_json::from_reader(&mut reader).expect("one valid JSON document");
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    (
        list.clients.0,
        reader.bytes,
        seconds,
        before,
        peak.load(Ordering::Relaxed),
    )
}

struct CountingReader<R> {
    inner: R,
    bytes: u64,
}

impl<R: BufRead> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

fn measure(storage: &str, extra: &[String], clients: usize) {
    println!("\n== {storage} storage");
    let server = start(extra);
    let small = clients / 10;
    for (population, already) in [(small, 0), (clients, small)] {
        let started = Instant::now();
        register(&server, population, already);
        println!(
            "registered {population} clients ({:.1} s)",
            started.elapsed().as_secs_f64()
        );
        // Twice: the first read warms the storage's caches.
        for _ in 0..2 {
            let (n, bytes, seconds, before, peak) = list(&server);
            assert_eq!(n, population, "every client listed");
            println!(
                "GET /api/clients: {n} clients, {:.1} MB in {seconds:.2} s ({:.0} clients/s); \
                 server RSS {:.1} MiB before, peak {:.1} MiB during (+{:.1} MiB)",
                bytes as f64 / 1e6,
                n as f64 / seconds,
                before as f64 / 1024.0,
                peak as f64 / 1024.0,
                peak.saturating_sub(before) as f64 / 1024.0,
            );
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let clients: usize = std::env::var("PDD_BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    measure("memory", &[], clients);
    if TcpStream::connect(MYSQL).is_err() {
        println!("\n== mysql storage: skipped, no MariaDB answers on {MYSQL}");
        return;
    }
    let db = format!("pdd_client_list_{}", std::process::id());
    measure(
        "mysql",
        &[
            format!("-mysql_server={MYSQL}"),
            format!("-mysql_database={db}"),
        ],
        clients,
    );
    let dropped = Command::new("mariadb")
        .args([
            "-h127.0.0.1",
            "-uroot",
            "-e",
            &format!("DROP DATABASE IF EXISTS {db}"),
        ])
        .status();
    if !dropped.is_ok_and(|s| s.success()) {
        println!("could not drop database {db}: drop it by hand");
    }
}
