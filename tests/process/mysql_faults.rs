//! The built binary on a MariaDB that misbehaves: one that stops answering (a proxy in front
//! that accepts and never answers) costs each request at most `-mysql_timeout` before a 503,
//! and idle pooled connections the server killed cost no request a 503.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use r2d2_mysql::mysql::prelude::Queryable;
use serde_json::json;

use pdd_server::testing::mysql::{available, server as mysql_server, TestDb};

use crate::mysql::{http, wait_health, TOKEN};
use crate::server::Server;

/// A TCP proxy to MariaDB that can be made to hang: while `hung` is set, it forwards nothing
/// in either direction on its connections and accepts new ones without ever answering.
struct Proxy {
    addr: String,
    hung: Arc<AtomicBool>,
}

fn pump(mut from: TcpStream, mut to: TcpStream, hung: Arc<AtomicBool>) {
    thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            while hung.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

impl Proxy {
    fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let hung = Arc::new(AtomicBool::new(false));
        let flag = hung.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let flag = flag.clone();
                thread::spawn(move || {
                    while flag.load(Ordering::SeqCst) {
                        thread::sleep(Duration::from_millis(20));
                    }
                    let Ok(upstream) = TcpStream::connect(mysql_server()) else {
                        return;
                    };
                    pump(
                        client.try_clone().unwrap(),
                        upstream.try_clone().unwrap(),
                        flag.clone(),
                    );
                    pump(upstream, client, flag);
                });
            }
        });
        Proxy { addr, hung }
    }
}

fn register(server: &Server) -> (u16, Duration) {
    let started = Instant::now();
    let status = http()
        .post(server.url("/api/clients"))
        .json(&json!({"publicKey": "04ab", "browser": "chrome"}))
        .send()
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    (status, started.elapsed())
}

fn start(db: &TestDb, host_port: &str, extra: &[&str]) -> Server {
    let mut args = vec![
        format!("-api.access_token={TOKEN}"),
        format!("-mysql_server={host_port}"),
        format!("-mysql_database={}", db.name),
        "-http.rate_limit.register=0".to_string(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start(&args, &[])
}

#[test]
fn a_database_that_stops_answering_gives_503_within_the_budget_then_recovers() {
    if !available() {
        return;
    }
    let db = TestDb::new();
    let proxy = Proxy::start();
    let server = start(&db, &proxy.addr, &["-mysql_timeout=1.seconds"]);
    wait_health(&server, 200, Duration::from_secs(30));
    assert_eq!(register(&server).0, 201);

    proxy.hung.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        let (status, took) = register(&server);
        assert_eq!(status, 503, "{}", server.output());
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
            "503 after {took:?}"
        );
    }

    proxy.hung.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = register(&server);
        if status == 201 {
            break;
        }
        assert_eq!(status, 503);
        assert!(Instant::now() < deadline, "{}", server.output());
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn killing_the_idle_pooled_connections_costs_no_request_a_503() {
    if !available() {
        return;
    }
    let db = TestDb::new();
    let server = start(&db, &mysql_server(), &[]);
    wait_health(&server, 200, Duration::from_secs(30));
    // Several connections in the pool: concurrent registrations.
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let url = server.url("/api/clients");
            thread::spawn(move || {
                for _ in 0..5 {
                    let status = http()
                        .post(&url)
                        .json(&json!({"publicKey": "04ab", "browser": "chrome"}))
                        .send()
                        .unwrap()
                        .status()
                        .as_u16();
                    assert_eq!(status, 201);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut root = db.conn();
    let ids: Vec<u64> = root
        .exec(
            "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
            (db.name.as_str(),),
        )
        .unwrap();
    assert!(!ids.is_empty(), "no pooled connection to kill");
    for id in &ids {
        root.query_drop(format!("KILL CONNECTION {id}")).unwrap();
    }
    for i in 0..20 {
        let (status, _) = register(&server);
        assert_eq!(
            status,
            201,
            "request {i} after killing {} connections",
            ids.len()
        );
    }
}
