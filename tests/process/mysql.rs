//! The built binary on MariaDB (`-mysql_server`): the protocol survives a restart, a lost
//! database turns requests into 503 until it returns, and two processes on one database run
//! each job firing once. Each test uses its own database, dropped at the end; without MariaDB
//! they print "MySQL suite skipped: …" and pass unless `PDD_REQUIRE_MYSQL=1`.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use num_bigint::BigInt;
use r2d2_mysql::mysql::prelude::Queryable;
use r2d2_mysql::mysql::{Conn, Opts, OptsBuilder};
use reqwest::blocking::Client;
use serde_json::{json, Value};

use crate::server::Server;

pub(crate) const TOKEN: &str = "mysql-process-token-5c1e";
pub(crate) const ZONE: Tz = chrono_tz::Europe::London;

pub(crate) fn mysql_server() -> String {
    std::env::var("PDD_TEST_MYSQL_SERVER").unwrap_or_else(|_| "127.0.0.1:3306".to_string())
}

fn admin_conn(database: Option<&str>) -> Result<Conn, r2d2_mysql::mysql::Error> {
    let server = mysql_server();
    let (host, port) = server.rsplit_once(':').unwrap_or(("127.0.0.1", "3306"));
    Conn::new(Opts::from(
        OptsBuilder::new()
            .ip_or_hostname(Some(host))
            .tcp_port(port.parse().unwrap_or(3306))
            .user(Some("root"))
            .prefer_socket(false)
            .db_name(database)
            .tcp_connect_timeout(Some(Duration::from_secs(2))),
    ))
}

pub(crate) fn available() -> bool {
    match admin_conn(None) {
        Ok(_) => true,
        Err(e) => {
            if std::env::var("PDD_REQUIRE_MYSQL").as_deref() == Ok("1") {
                panic!(
                    "PDD_REQUIRE_MYSQL=1 but MariaDB at {} is not reachable: {e}",
                    mysql_server()
                );
            }
            let line = format!(
                "\nMySQL suite skipped: no MariaDB at {} ({e}); set PDD_REQUIRE_MYSQL=1 to fail instead\n",
                mysql_server()
            );
            let _ = std::io::stderr().write_all(line.as_bytes());
            false
        }
    }
}

/// A database name for one test, dropped when this goes out of scope (the server creates it).
pub(crate) struct Database(String);

impl Database {
    pub(crate) fn new() -> Database {
        Database(format!("pdd_test_{}", uuid::Uuid::new_v4().simple()))
    }

    pub(crate) fn name(&self) -> &str {
        &self.0
    }

    pub(crate) fn flag(&self) -> String {
        format!("-mysql_database={}", self.0)
    }

    pub(crate) fn conn(&self) -> Conn {
        admin_conn(Some(&self.0)).unwrap()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut c) = admin_conn(None) {
            let _ = c.query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.0));
        }
    }
}

pub(crate) fn local(date: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    ZONE.from_local_datetime(&date.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap()))
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

pub(crate) fn http() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub(crate) fn send(req: reqwest::blocking::RequestBuilder, expect: u16) -> Value {
    let res = req.send().expect("the server answers");
    let status = res.status().as_u16();
    let text = res.text().unwrap();
    assert_eq!(status, expect, "body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Polls the admin `/health` until it answers `expect`, at most `within`.
pub(crate) fn wait_health(server: &Server, expect: u16, within: Duration) {
    let client = http();
    let deadline = Instant::now() + within;
    loop {
        let status = client
            .get(server.admin_url("/health"))
            .send()
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        if status == expect {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/health did not answer {expect} within {within:?} (last {status}):\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn start(db: &Database, host_port: &str) -> Server {
    Server::start(
        &[
            &format!("-api.access_token={TOKEN}"),
            "-timezone=Europe/London",
            &format!("-mysql_server={host_port}"),
            &db.flag(),
        ],
        &[],
    )
}

/// Waits while the reference zone is within two minutes of midnight, so that "today" does
/// not change during the test.
fn away_from_midnight() {
    while Utc::now().with_timezone(&ZONE).time() >= NaiveTime::from_hms_opt(23, 58, 0).unwrap() {
        std::thread::sleep(Duration::from_secs(5));
    }
}

/// Blinds that sum to 0 modulo ℓ, one per member, as signed decimals.
pub(crate) fn cancelling_blinds(n: usize, seed: u64) -> Vec<BigInt> {
    let mut blinds: Vec<BigInt> = (0..n - 1)
        .map(|i| {
            BigInt::from(seed + 1_000_003 * (i as u64 + 1)).pow(5) * if i % 2 == 0 { 1 } else { -1 }
        })
        .collect();
    let total: BigInt = blinds.iter().sum();
    blinds.push(-total);
    blinds
}

#[test]
fn protocol_on_mysql_survives_a_restart_with_everything_still_there() {
    if !available() {
        return;
    }
    away_from_midnight();
    let db = Database::new();
    let client = http();
    let today = Utc::now().with_timezone(&ZONE).date_naive();
    let yesterday = today - Days::new(1);

    let mut first = start(&db, &mysql_server());
    wait_health(&first, 200, Duration::from_secs(60));
    let campaign = send(
        client
            .post(first.url("/api/campaigns"))
            .bearer_auth(TOKEN)
            .json(&json!({
                "displayName": "Flu watch",
                "vocabulary": {"queries": [{"exact": "flu"}, {"terms": ["fever", "cough"]}]},
                "startTime": local(yesterday, 12, 0).to_rfc3339(),
                "groupSize": 3,
                "collectRaw": true,
            })),
        201,
    );
    let name = campaign["name"].as_str().unwrap().to_string();
    let mut clients = Vec::new();
    for i in 0..6 {
        let c = send(
            client
                .post(first.url("/api/clients"))
                .json(&json!({"publicKey": format!("04{i:062x}"), "browser": "firefox"})),
            201,
        );
        let cname = c["name"].as_str().unwrap().to_string();
        send(
            client
                .post(first.url(&format!("/api/clients/{cname}/ping")))
                .json(&json!({})),
            200,
        );
        clients.push((cname, format!("04{i:062x}")));
    }
    let created_at = local(today + Days::new(1), 1, 0).timestamp_millis();
    let created = send(
        client.post(first.admin_url(&format!("/admin/jobs/create-sketches?at={created_at}"))),
        200,
    );
    assert_eq!(
        (created["created"].clone(), created["groups"].clone()),
        (json!(6), json!(2))
    );

    // Every member's counts, blinded so that each group's blinds cancel; the last client keeps
    // its sketch for after the restart.
    let mut commands = Vec::new();
    for (cname, key) in &clients {
        let pong = send(
            client.get(first.url(&format!("/api/clients/{cname}/ping"))),
            200,
        );
        let cmd = pong["submit"][0].clone();
        assert_eq!(pong["submit"].as_array().map(Vec::len), Some(1), "{pong}");
        let keys: Vec<String> = serde_json::from_value(cmd["publicKeys"].clone()).unwrap();
        let me = keys.iter().position(|k| k == key).unwrap();
        commands.push((cmd["sketchName"].as_str().unwrap().to_string(), keys, me));
    }
    let mut expected = vec![0i64; 3];
    let mut submissions = Vec::new();
    for (i, (sketch, keys, me)) in commands.iter().enumerate() {
        let counts = vec![(i as i64 + 1) * 3, i as i64 + 1, i as i64 % 2];
        for (e, c) in expected.iter_mut().zip(&counts) {
            *e += c;
        }
        let seed =
            keys.iter().map(|k| k.len() as u64).sum::<u64>() + u64::from(keys[0].as_bytes()[63]);
        let blind = &cancelling_blinds(keys.len(), seed)[*me];
        let encrypted: Vec<String> = counts
            .iter()
            .map(|c| (BigInt::from(*c) + blind).to_string())
            .collect();
        submissions.push((
            sketch.clone(),
            json!({"encryptedValues": encrypted, "rawValues": counts}),
        ));
    }
    let (last_sketch, last_body) = submissions.pop().unwrap();
    for (sketch, body) in &submissions {
        send(
            client
                .patch(first.url(&format!("/api/sketches/{sketch}")))
                .json(body),
            204,
        );
    }
    assert_eq!(first.terminate().code(), Some(0));

    // A new process on the same database finds everything.
    let mut second = start(&db, &mysql_server());
    wait_health(&second, 200, Duration::from_secs(60));
    let again = send(
        client
            .get(second.url(&format!("/api/campaigns/{name}")))
            .bearer_auth(TOKEN),
        200,
    );
    assert_eq!(again, campaign);
    let listed = send(
        client.get(second.url("/api/clients")).bearer_auth(TOKEN),
        200,
    );
    assert_eq!(listed["clients"].as_array().map(Vec::len), Some(6));
    // The history of runs too: the first process's run of create-sketches is listed.
    let jobs = send(
        client
            .get(second.admin_url("/admin/jobs"))
            .header("accept", "application/json"),
        200,
    );
    assert_eq!(jobs["jobs"][1]["job"], json!("create-sketches"));
    let runs = jobs["jobs"][1]["runs"].as_array().unwrap();
    let asked = chrono::DateTime::from_timestamp_millis(created_at)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    assert!(
        runs.iter().any(|r| r["firing"] == json!(asked)
            && r["counts"] == json!({"created": 6, "groups": 2})
            && r["outcome"] == json!("ok")),
        "{jobs}"
    );
    let (first_sketch, first_body) = &submissions[0];
    send(
        client
            .patch(second.url(&format!("/api/sketches/{first_sketch}")))
            .json(first_body),
        409,
    );
    let last_client = &clients[5].0;
    let pong = send(
        client.get(second.url(&format!("/api/clients/{last_client}/ping"))),
        200,
    );
    assert_eq!(pong["submit"][0]["sketchName"], json!(last_sketch));
    send(
        client
            .patch(second.url(&format!("/api/sketches/{last_sketch}")))
            .json(&last_body),
        204,
    );
    let activity = send(
        client
            .get(second.url(&format!("/api/clients/{last_client}/activity")))
            .bearer_auth(TOKEN),
        200,
    );
    assert_eq!(activity["days"].as_array().map(Vec::len), Some(3));

    let at = local(today + Days::new(2), 0, 30).timestamp_millis();
    let aggregated = send(
        client.post(second.admin_url(&format!("/admin/jobs/aggregate-sketches?at={at}"))),
        200,
    );
    assert_eq!(aggregated["aggregated"], json!(1), "{aggregated}");
    let result = send(
        client
            .get(second.url(&format!("/api/campaigns/{name}/results/1")))
            .bearer_auth(TOKEN),
        200,
    );
    assert_eq!(
        result["stats"],
        json!({"activeCount": 6, "submittedCount": 6, "decryptedCount": 6, "rejectedCount": 0})
    );
    assert_eq!(result["decryptedValues"], json!(expected));
    assert_eq!(result["rawValues"], json!(expected));
    assert_eq!(second.terminate().code(), Some(0));
}

/// A loopback TCP proxy to MariaDB, on its own runtime thread, that can be cut and restored.
struct Proxy {
    addr: SocketAddr,
    runtime: tokio::runtime::Runtime,
    stop: Arc<Mutex<Option<tokio::sync::watch::Sender<bool>>>>,
}

impl Proxy {
    fn start() -> Proxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let proxy = Proxy {
            addr: listener.local_addr().unwrap(),
            runtime,
            stop: Arc::new(Mutex::new(None)),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        *self.stop.lock().unwrap() = Some(tx);
        let target = mysql_server();
        self.runtime.spawn(async move {
            let mut stop = rx.clone();
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    accepted = listener.accept() => {
                        let Ok((mut inbound, _)) = accepted else { return };
                        let (target, mut stop) = (target.clone(), rx.clone());
                        tokio::spawn(async move {
                            let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else { return };
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

    fn cut(&self) {
        if let Some(tx) = self.stop.lock().unwrap().take() {
            let _ = tx.send(true);
        }
    }

    fn restore(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match self
                .runtime
                .block_on(tokio::net::TcpListener::bind(self.addr))
            {
                Ok(l) => break l,
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "cannot rebind {}: {e}",
                        self.addr
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        self.serve(listener);
    }
}

#[test]
fn database_lost_while_running_gives_503_with_errors_then_recovers_without_restart() {
    if !available() {
        return;
    }
    let db = Database::new();
    let proxy = Proxy::start();
    let client = http();
    let mut server = start(&db, &proxy.addr.to_string());
    wait_health(&server, 200, Duration::from_secs(60));
    let registered = send(
        client
            .post(server.url("/api/clients"))
            .json(&json!({"publicKey": "04ab", "browser": "chrome"})),
        201,
    );
    let cname = registered["name"].as_str().unwrap().to_string();

    proxy.cut();
    let started = Instant::now();
    let res = client
        .get(server.url(&format!("/api/clients/{cname}/ping")))
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 503);
    let body: Value = res.json().unwrap();
    assert!(
        body["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    let res = client
        .post(server.url("/api/clients"))
        .json(&json!({"publicKey": "04cd", "browser": "chrome"}))
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    wait_health(&server, 503, Duration::from_secs(10));

    proxy.restore();
    wait_health(&server, 200, Duration::from_secs(30));
    send(
        client.get(server.url(&format!("/api/clients/{cname}/ping"))),
        200,
    );
    let listed = send(
        client.get(server.url("/api/clients")).bearer_auth(TOKEN),
        200,
    );
    assert_eq!(
        listed["clients"].as_array().map(Vec::len),
        Some(1),
        "the refused registration left nothing behind"
    );
    assert_eq!(server.terminate().code(), Some(0));
    assert!(!server.output().contains("panicked"), "{}", server.output());
}

#[test]
fn two_processes_on_one_database_run_each_missed_job_firing_exactly_once() {
    if !available() {
        return;
    }
    let db = Database::new();
    // Both start at once on a database that has never run a job: each catches up the four
    // missed firings, and claims decide who runs them.
    let mut a = start(&db, &mysql_server());
    let mut b = start(&db, &mysql_server());
    wait_health(&a, 200, Duration::from_secs(60));
    wait_health(&b, 200, Duration::from_secs(60));
    // A claim that failed while the database was still being prepared is retried after 30 s.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done: Vec<(String, Option<String>)> = db
            .conn()
            .query("SELECT job, DATE_FORMAT(completedFiring, '%Y-%m-%d %H:%i') FROM jobs WHERE completedFiring IS NOT NULL")
            .unwrap_or_default();
        if done.len() == 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "jobs not all completed: {done:?}\nA:\n{}\nB:\n{}",
            a.output(),
            b.output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Give the loser time to look (it would run right after the winner if claims did not hold).
    std::thread::sleep(Duration::from_secs(2));
    let finished = |s: &Server, job: &str| {
        s.output()
            .lines()
            .filter(|l| l.contains("job run finished") && l.contains(job))
            .count()
    };
    for job in [
        "create-sketches",
        "aggregate-sketches",
        "prune-clients",
        "collect-garbage",
    ] {
        let (ra, rb) = (finished(&a, job), finished(&b, job));
        assert_eq!(
            ra + rb,
            1,
            "{job}: A ran it {ra} times, B {rb}\nA:\n{}\nB:\n{}",
            a.output(),
            b.output()
        );
    }
    // Each run is in the history both instances share, with the instance that ran it.
    let runs: Vec<(String, String, String)> = db
        .conn()
        .query("SELECT job, instance, outcome FROM job_runs ORDER BY job")
        .unwrap();
    assert_eq!(
        runs.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        vec![
            "aggregate-sketches",
            "collect-garbage",
            "create-sketches",
            "prune-clients"
        ]
    );
    for (job, instance, outcome) in &runs {
        assert_eq!(outcome, "ok", "{job}");
        assert_eq!(instance.split('/').count(), 3, "{job}: {instance}");
    }
    assert_eq!(a.terminate().code(), Some(0));
    assert_eq!(b.terminate().code(), Some(0));
}

#[test]
fn a_refused_mysql_password_is_retried_and_never_printed() {
    if !available() {
        return;
    }
    let db = Database::new();
    let secret = "hunter2-never-in-logs";
    let mut server = Server::start(
        &[
            "-log_level=ALL",
            &format!("-mysql_server={}", mysql_server()),
            "-mysql_user=pdd_no_such_user",
            &format!("-mysql_password={secret}"),
            &db.flag(),
        ],
        &[],
    );
    wait_health(&server, 503, Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(10);
    while server
        .output()
        .matches("mysql storage not ready; retrying")
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "{}", server.output());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(server.terminate().code(), Some(0));
    let output = server.output();
    assert!(output.contains("Access denied"), "{output}");
    assert!(!output.contains(secret), "{output}");
}
