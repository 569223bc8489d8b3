//! Load: the nightly peak replayed over loopback HTTP against the server built in process, on
//! memory storage and then on MySQL (when MariaDB answers on 127.0.0.1:3306).
//!
//! Yesterday every client registers and pings; at 01:00 the sketches are created (3 campaigns
//! of 50 queries, groups of 10); then the peak: every client pings (3 commands each) and submits
//! 51 encrypted values of 77 digits per command, some new clients register and ping, and one
//! request in five is invalid (malformed JSON, wrong lengths, unknown names, oversized bodies,
//! wrong tokens, a second submission of an accepted sketch). Afterwards the day is aggregated
//! and checked against the true totals the generator kept: every submission answered 2xx is in
//! the stats and the decrypted sums, none twice, and no invalid request got a 5xx (nor a 2xx).
//!
//! Run: `cargo bench --bench load`. Environment: `PDD_LOAD_CLIENTS` (default 2000),
//! `PDD_LOAD_CONNECTIONS` (concurrent requests, default 32), `PDD_LOAD_STORAGE` (`memory`,
//! `mysql` or `both`, the default), `PDD_LOAD_SECONDS` (time bound of each phase, default 300),
//! `PDD_LOAD_LIMITS` (`on`, the default: the connection limits at their defaults — write
//! timeout, connections per address, unknown-route budget, MySQL request budget; `off`: those
//! turned off; `both`: one run each, to compare). Rate limits are off: every request comes from 127.0.0.1.
//!
//! `PDD_LOAD_INSTANCES=N` (MariaDB only) runs instead the multi-instance mode (see
//! `load/instances.rs`): the built server as 1 and then N processes in testing mode on one
//! database, requests spread round-robin, the nightly jobs firing by themselves; the throughput
//! of both side by side, and every accepted submission and job firing checked to count once.

#[cfg(feature = "mysql")]
#[path = "load/instances.rs"]
mod instances;

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use num_bigint::BigInt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use secrecy::SecretString;
use serde_json::{json, Value};

use pdd_server::app::{Application, Overrides};
use pdd_server::config::Settings;
use pdd_server::domain::crypto::ell;
use pdd_server::testing::bench::env_or;
use pdd_server::testing::{london_at as london, public_key, ManualClock};

const TOKEN: &str = "load-test-token-0a9f3c71";
const CAMPAIGNS: usize = 3;
const QUERIES: usize = 50;
const GROUP_SIZE: usize = 10;
const MYSQL: &str = "127.0.0.1:3306";

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not, and gets a quick run.
    let full = std::env::args().any(|a| a == "--bench");
    let clients = env_or("PDD_LOAD_CLIENTS", if full { 2000 } else { 60 });
    let connections = env_or("PDD_LOAD_CONNECTIONS", 32usize);
    let seconds = env_or("PDD_LOAD_SECONDS", 300u64);
    let storage = std::env::var("PDD_LOAD_STORAGE").unwrap_or_else(|_| "both".into());
    #[cfg(feature = "mysql")]
    if let Some(n) = std::env::var("PDD_LOAD_INSTANCES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        if !mysql_answers() {
            println!("multi-instance mode: no MariaDB answers on {MYSQL}");
            std::process::exit(1);
        }
        if !instances::run(n.max(1), clients, connections) {
            eprintln!("load: FAILED (see above)");
            std::process::exit(1);
        }
        return;
    }
    let limits = std::env::var("PDD_LOAD_LIMITS").unwrap_or_else(|_| "on".into());
    let modes: &[bool] = match limits.as_str() {
        "off" => &[false],
        "both" => &[true, false],
        _ => &[true],
    };
    let mut failed = false;
    for (kind, limits) in ["memory", "mysql"]
        .into_iter()
        .flat_map(|k| modes.iter().map(move |l| (k, *l)))
    {
        if storage != "both" && storage != kind {
            continue;
        }
        if kind == "mysql" && !cfg!(feature = "mysql") {
            println!("\n== mysql storage: skipped, built without the mysql feature");
            continue;
        }
        if kind == "mysql" && !mysql_answers() {
            println!("\n== mysql storage: skipped, no MariaDB answers on {MYSQL}");
            continue;
        }
        let config = Config {
            storage: kind,
            clients,
            connections,
            bound: Duration::from_secs(seconds),
            limits,
        };
        failed |= !run(&config);
    }
    if failed {
        eprintln!("load: FAILED (see above)");
        std::process::exit(1);
    }
}

fn mysql_answers() -> bool {
    std::net::TcpStream::connect_timeout(&MYSQL.parse().unwrap(), Duration::from_secs(1)).is_ok()
}

struct Config {
    storage: &'static str,
    clients: usize,
    connections: usize,
    bound: Duration,
    /// The connection limits at their defaults, or off.
    limits: bool,
}

// ------------------------------------------------------------------ days

/// Campaign day 0 is the day before yesterday; yesterday is day 1 (registrations and first
/// pings), today day 2 (the peak, submitting day 1's sketches).
struct Days {
    start: DateTime<Utc>,
    yesterday: DateTime<Utc>,
    create_sketches: DateTime<Utc>,
    peak: DateTime<Utc>,
    aggregate: DateTime<Utc>,
}

impl Days {
    fn new() -> Days {
        let today = NaiveDate::from_ymd_opt(2018, 5, 20).unwrap();
        let day = |n: i64| today + chrono::TimeDelta::days(n);
        Days {
            start: london(day(-2), 0, 0),
            yesterday: london(day(-1), 10, 0),
            create_sketches: london(day(0), 1, 0),
            peak: london(day(0), 2, 30),
            aggregate: london(day(1), 0, 30),
        }
    }
}

// ------------------------------------------------------------------ requests

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Register,
    Ping,
    Submit,
    // Invalid traffic, with the status each must get.
    MalformedJson,
    WrongLength,
    UnknownClient,
    UnknownSketch,
    Oversized,
    WrongToken,
    SecondSubmission,
}

impl Kind {
    const INVALID: [Kind; 7] = [
        Kind::MalformedJson,
        Kind::WrongLength,
        Kind::UnknownClient,
        Kind::UnknownSketch,
        Kind::Oversized,
        Kind::WrongToken,
        Kind::SecondSubmission,
    ];

    fn valid(self) -> bool {
        matches!(self, Kind::Register | Kind::Ping | Kind::Submit)
    }

    fn expected(self) -> u16 {
        match self {
            Kind::Register => 201,
            Kind::Ping => 200,
            Kind::Submit => 204,
            Kind::MalformedJson | Kind::WrongLength => 400,
            Kind::UnknownClient | Kind::UnknownSketch => 404,
            Kind::Oversized => 413,
            Kind::WrongToken => 401,
            Kind::SecondSubmission => 409,
        }
    }
}

#[derive(Clone)]
struct Call {
    kind: Kind,
    method: reqwest::Method,
    url: String,
    body: Option<Vec<u8>>,
    bearer: Option<String>,
}

struct Outcome {
    kind: Kind,
    status: u16,
    latency: Duration,
    body: String,
}

#[derive(Default)]
struct Tally {
    outcomes: Vec<(Kind, u16, Duration)>,
    transport_errors: BTreeMap<Kind, usize>,
}

async fn send(http: &reqwest::Client, call: &Call) -> Result<Outcome, reqwest::Error> {
    let mut req = http.request(call.method.clone(), &call.url);
    if let Some(body) = &call.body {
        req = req
            .header("content-type", "application/json")
            .body(body.clone());
    }
    if let Some(token) = &call.bearer {
        req = req.bearer_auth(token);
    }
    let started = Instant::now();
    let res = req.send().await?;
    let status = res.status().as_u16();
    let body = res.text().await?;
    Ok(Outcome {
        kind: call.kind,
        status,
        latency: started.elapsed(),
        body,
    })
}

// ------------------------------------------------------------------ blinding

/// Blinding factors of member `me` of a group, one per value: members' factors sum to 0 mod ℓ,
/// derived from the group's key list so that every member computes its own without talking.
fn blinds(keys: &[String], me: usize, width: usize) -> Vec<BigInt> {
    let l = BigInt::from(ell().clone());
    let factor = |member: usize, k: usize| -> BigInt {
        let mut h = DefaultHasher::new();
        (keys, member, k).hash(&mut h);
        let mut rng = StdRng::seed_from_u64(h.finish());
        let bytes: [u8; 32] = rng.gen();
        BigInt::from_bytes_le(num_bigint::Sign::Plus, &bytes) % &l
    };
    (0..width)
        .map(|k| {
            if me + 1 < keys.len() {
                factor(me, k)
            } else {
                let others: BigInt = (0..keys.len() - 1).map(|m| factor(m, k)).sum();
                (-others % &l + &l) % &l
            }
        })
        .collect()
}

/// `count + blind` as a decimal of 77 digits (congruent mod ℓ), positive or negative.
fn encrypt(count: i64, blind: &BigInt, rng: &mut StdRng) -> String {
    let l = BigInt::from(ell().clone());
    let x = ((BigInt::from(count) + blind) % &l + &l) % &l;
    let k: u32 = rng.gen_range(2..=12);
    let v = if rng.gen_bool(0.5) {
        x + &l * k
    } else {
        x - &l * (k + 1)
    };
    v.to_string()
}

// ------------------------------------------------------------------ the run

struct Server {
    http: String,
    admin: String,
    stop: tokio_util::sync::CancellationToken,
    thread: std::thread::JoinHandle<()>,
    database: Option<String>,
    clock: Arc<ManualClock>,
}

fn start_server(config: &Config, days: &Days) -> Server {
    let mut settings = Settings::defaults();
    settings.http_port = "127.0.0.1:0".parse().unwrap();
    settings.admin_port = "127.0.0.1:0".parse().unwrap();
    settings.api_access_token = Some(SecretString::from(TOKEN));
    settings.http_rate_limit_register = 0;
    settings.http_rate_limit_ping = 0;
    if !config.limits {
        let long: pdd_server::config::Span = "100.days".parse().unwrap();
        settings.http_write_timeout = long;
        settings.mysql_timeout = long;
        settings.http_max_connections_per_ip = 0;
        settings.http_rate_limit_unknown = 0;
    }
    let database =
        (config.storage == "mysql").then(|| format!("pdd_load_{}", uuid::Uuid::new_v4().simple()));
    if let Some(db) = &database {
        settings.mysql_server = Some(MYSQL.parse().unwrap());
        settings.mysql_database = db.clone();
    }
    let clock = Arc::new(ManualClock::new(days.yesterday));
    let (tx, rx) = std::sync::mpsc::channel();
    // The server on its own runtime, as in production (a multi-threaded one).
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let app = Application::build_with(
                settings,
                Overrides {
                    clock: Some(clock.clone()),
                    ..Overrides::default()
                },
            )
            .await
            .expect("the application builds");
            tx.send((app.http_addr(), app.admin_addr(), app.stop_token(), clock))
                .unwrap();
            app.run_until_stopped().await.unwrap();
        });
    });
    let (http, admin, stop, clock) = rx.recv().unwrap();
    Server {
        http: format!("http://{http}"),
        admin: format!("http://{admin}"),
        stop,
        thread,
        database,
        clock,
    }
}

#[cfg(not(feature = "mysql"))]
fn drop_database(_: &str) {}

#[cfg(feature = "mysql")]
fn drop_database(name: &str) {
    pdd_server::testing::mysql::drop_database(MYSQL, name);
}

/// Runs `calls` (each a sequence run in order) on `connections` concurrent workers, stopping
/// at `deadline`; returns every outcome in the order of `calls`' sequences.
/// Per script, per call: `None` when the time bound came first.
type Results = Vec<Vec<Option<Result<Outcome, String>>>>;

async fn run_scripts(
    http: &reqwest::Client,
    scripts: Vec<Vec<Call>>,
    connections: usize,
    deadline: Instant,
) -> (Results, Duration) {
    let total = scripts.len();
    let queue = Arc::new(Mutex::new(
        scripts.into_iter().enumerate().collect::<Vec<_>>(),
    ));
    queue.lock().unwrap().reverse();
    let results: Arc<Mutex<Results>> =
        Arc::new(Mutex::new((0..total).map(|_| Vec::new()).collect()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (queue, results, http) = (queue.clone(), results.clone(), http.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let Some((i, script)) = queue.lock().unwrap().pop() else {
                    return;
                };
                let mut out = Vec::with_capacity(script.len());
                for call in &script {
                    if Instant::now() >= deadline {
                        out.push(None);
                        continue;
                    }
                    out.push(Some(send(&http, call).await.map_err(|e| format!("{e:?}"))));
                }
                results.lock().unwrap()[i] = out;
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed();
    let results = Arc::try_unwrap(results)
        .ok()
        .expect("workers done")
        .into_inner()
        .unwrap();
    (results, elapsed)
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn report(phase: &str, tally: &Tally, elapsed: Duration) {
    let n = tally.outcomes.len();
    let invalid = tally.outcomes.iter().filter(|o| !o.0.valid()).count();
    println!(
        "{phase}: {n} requests ({invalid} invalid, {:.1}%) in {:.2} s: {:.0} requests/s",
        100.0 * invalid as f64 / n.max(1) as f64,
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    let line = |label: &str, mut v: Vec<Duration>| {
        v.sort();
        if !v.is_empty() {
            println!(
                "  {label:<26} {:>6} requests  p50 {:>8.2?}  p99 {:>8.2?}  max {:>8.2?}",
                v.len(),
                quantile(&v, 0.5),
                quantile(&v, 0.99),
                v[v.len() - 1]
            );
        }
    };
    line("all", tally.outcomes.iter().map(|o| o.2).collect());
    let mut by_kind: BTreeMap<Kind, Vec<Duration>> = BTreeMap::new();
    for o in &tally.outcomes {
        by_kind.entry(o.0).or_default().push(o.2);
    }
    for (kind, v) in by_kind {
        line(&format!("{kind:?}"), v);
    }
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for o in &tally.outcomes {
        *by_status.entry(o.1).or_default() += 1;
    }
    let statuses: Vec<String> = by_status.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    println!("  statuses   {}", statuses.join(", "));
    if !tally.transport_errors.is_empty() {
        // An oversized body is answered 413 (Connection: close) before it is read, and the
        // connection closed: a client still writing it may see the reset before the answer.
        println!("  transport errors {:?}", tally.transport_errors);
    }
}

/// One client of the simulation.
struct Browser {
    key: String,
    name: String,
}

/// A sketch command as the generator will answer it.
struct Task {
    campaign: usize,
    sketch: String,
    keys: Vec<String>,
    me: usize,
}

fn run(config: &Config) -> bool {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let days = Days::new();
    let server = start_server(config, &days);
    println!(
        "\n== {} storage, limits {}: {} clients, {CAMPAIGNS} campaigns of {QUERIES} queries, groups of {GROUP_SIZE}, {} concurrent requests",
        config.storage,
        if config.limits { "on" } else { "off" },
        config.clients,
        config.connections
    );
    let ok = rt.block_on(drive(config, &server, &days));
    server.stop.cancel();
    server.thread.join().unwrap();
    if let Some(db) = &server.database {
        drop_database(db);
    }
    ok
}

async fn drive(config: &Config, server: &Server, days: &Days) -> bool {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(config.connections)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut rng = StdRng::seed_from_u64(2018);
    let mut problems: Vec<String> = Vec::new();

    // Storage ready (MySQL connects and migrates in the background).
    let ready_by = Instant::now() + Duration::from_secs(120);
    loop {
        let health = http.get(format!("{}/health", server.admin)).send().await;
        if health.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(Instant::now() < ready_by, "storage not ready within 120 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The dashboard's campaigns.
    let mut campaigns = Vec::new();
    for c in 0..CAMPAIGNS {
        let queries: Vec<Value> = (0..QUERIES)
            .map(|q| {
                if q % 3 == 0 {
                    json!({"terms": [format!("symptom {c}-{q}"), "fever"]})
                } else {
                    json!({"exact": format!("query {c}-{q}")})
                }
            })
            .collect();
        let res = http
            .post(format!("{}/api/campaigns", server.http))
            .bearer_auth(TOKEN)
            .json(&json!({
                "displayName": format!("Load {c}"),
                "vocabulary": {"queries": queries},
                "startTime": days.start.to_rfc3339(),
                "groupSize": GROUP_SIZE,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201);
        let body: Value = res.json().await.unwrap();
        campaigns.push(body["name"].as_str().unwrap().to_string());
    }

    // Yesterday: every client registers and pings.
    let deadline = Instant::now() + config.bound;
    let mut browsers: Vec<Browser> = (0..config.clients)
        .map(|i| Browser {
            key: public_key(i),
            name: String::new(),
        })
        .collect();
    let registrations: Vec<Vec<Call>> = browsers
        .iter()
        .map(|b| {
            vec![Call {
                kind: Kind::Register,
                method: reqwest::Method::POST,
                url: format!("{}/api/clients", server.http),
                body: Some(
                    serde_json::to_vec(&json!({"publicKey": b.key, "browser": "chrome",
                                               "privateKey": "local state, ignored"}))
                    .unwrap(),
                ),
                bearer: None,
            }]
        })
        .collect();
    let (results, elapsed_register) =
        run_scripts(&http, registrations, config.connections, deadline).await;
    let mut setup = Tally::default();
    for (b, r) in browsers.iter_mut().zip(results) {
        let r = r.into_iter().next().flatten().expect("registered in time");
        let o = r.unwrap_or_else(|e| panic!("registration failed: {e}"));
        setup.outcomes.push((o.kind, o.status, o.latency));
        assert_eq!(o.status, 201, "{}", o.body);
        let v: Value = serde_json::from_str(&o.body).unwrap();
        b.name = v["name"].as_str().unwrap().to_string();
    }
    let pings: Vec<Vec<Call>> = browsers
        .iter()
        .map(|b| vec![ping_call(server, &b.name, true)])
        .collect();
    let (results, elapsed_ping) = run_scripts(&http, pings, config.connections, deadline).await;
    for r in results.into_iter().flatten().flatten() {
        let o = r.unwrap_or_else(|e| panic!("ping failed: {e}"));
        assert_eq!(o.status, 200, "{}", o.body);
        setup.outcomes.push((o.kind, o.status, o.latency));
    }
    report(
        "setup (yesterday: registrations, then first pings)",
        &setup,
        elapsed_register + elapsed_ping,
    );

    // 01:00: the sketches of yesterday.
    let res = http
        .post(format!(
            "{}/admin/jobs/create-sketches?at={}",
            server.admin,
            days.create_sketches.timestamp_millis()
        ))
        .send()
        .await
        .unwrap();
    let created: Value = res.json().await.unwrap();
    println!("create-sketches: {created}");
    if created["created"] != json!(config.clients * CAMPAIGNS) {
        problems.push(format!(
            "created {created}, expected {} sketches",
            config.clients * CAMPAIGNS
        ));
    }
    server.clock.set(days.peak);

    // The peak, first half: every client pings and learns its commands (with some invalid
    // traffic and new registrations mixed in).
    let deadline = Instant::now() + config.bound;
    let mut peak = Tally::default();
    let mut scripts: Vec<Vec<Call>> = browsers
        .iter()
        .enumerate()
        .map(|(i, b)| vec![ping_call(server, &b.name, i % 2 == 0)])
        .collect();
    let newcomers = config.clients / 20;
    for i in 0..newcomers {
        let key = format!("04{:0128x}", (i as u128 + 7) * 0x5851_f42d_4c95_7f2d);
        scripts.push(vec![Call {
            kind: Kind::Register,
            method: reqwest::Method::POST,
            url: format!("{}/api/clients", server.http),
            body: Some(
                serde_json::to_vec(&json!({"publicKey": key, "browser": "firefox"})).unwrap(),
            ),
            bearer: None,
        }]);
    }
    let invalid_first = (config.clients + newcomers) / 4;
    for i in 0..invalid_first {
        scripts.push(vec![invalid_call(
            server,
            Kind::INVALID[i % 7],
            &mut rng,
            None,
        )]);
    }
    scripts.shuffle(&mut rng);
    let (results, elapsed_first) =
        run_scripts(&http, scripts.clone(), config.connections, deadline).await;
    let mut tasks: Vec<Task> = Vec::new();
    let mut registered_today = 0usize;
    let key_of: HashMap<&str, &str> = browsers
        .iter()
        .map(|b| (b.name.as_str(), b.key.as_str()))
        .collect();
    let campaign_index: HashMap<&str, usize> = campaigns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    for (script, result) in scripts.iter().zip(results) {
        for (call, r) in script.iter().zip(result) {
            let Some(r) = r else { continue };
            match r {
                Err(e) => {
                    eprintln!(
                        "transport error {:?} {} {}: {e}",
                        call.kind, call.method, call.url
                    );
                    *peak.transport_errors.entry(call.kind).or_default() += 1;
                }
                Ok(o) => {
                    peak.outcomes.push((o.kind, o.status, o.latency));
                    if o.kind == Kind::Register && o.status == 201 {
                        registered_today += 1;
                    }
                    if o.kind == Kind::Ping && o.status == 200 {
                        let name = call.url.rsplit('/').nth(1).unwrap_or_default();
                        let v: Value = serde_json::from_str(&o.body).unwrap();
                        for cmd in v["submit"].as_array().into_iter().flatten() {
                            let keys: Vec<String> =
                                serde_json::from_value(cmd["publicKeys"].clone()).unwrap();
                            let mine = key_of.get(name).copied().unwrap_or_default();
                            let me = keys.iter().position(|k| k == mine).expect("own key");
                            let sketch = cmd["sketchName"].as_str().unwrap().to_string();
                            let campaign = sketch_campaign(cmd, &campaign_index);
                            tasks.push(Task {
                                campaign,
                                sketch,
                                keys,
                                me,
                            });
                        }
                    }
                }
            }
        }
    }

    // The peak, second half: every command answered with 51 encrypted values, with invalid
    // submissions before (wrong lengths, malformed) and after (a second submission) some.
    let width = QUERIES + 1;
    let mut truth: Vec<Vec<i64>> = Vec::new();
    let mut scripts: Vec<Vec<Call>> = Vec::new();
    for (t, task) in tasks.iter().enumerate() {
        let counts: Vec<i64> = {
            let per_query: Vec<i64> = (0..QUERIES).map(|_| rng.gen_range(0..5)).collect();
            let total = per_query.iter().sum::<i64>() + rng.gen_range(0..200);
            std::iter::once(total).chain(per_query).collect()
        };
        let b = blinds(&task.keys, task.me, width);
        let encrypted: Vec<String> = counts
            .iter()
            .zip(&b)
            .map(|(c, blind)| encrypt(*c, blind, &mut rng))
            .collect();
        truth.push(counts.clone());
        let body = serde_json::to_vec(&json!({"encryptedValues": encrypted, "rawValues": counts}))
            .unwrap();
        let submit = Call {
            kind: Kind::Submit,
            method: reqwest::Method::PATCH,
            url: format!("{}/api/sketches/{}", server.http, task.sketch),
            body: Some(body),
            bearer: None,
        };
        let mut script = Vec::new();
        // One invalid request per four submissions, as in the first half: one in five overall.
        match t % 12 {
            0 => script.push(invalid_call(
                server,
                Kind::WrongLength,
                &mut rng,
                Some(&task.sketch),
            )),
            4 => script.push(invalid_call(
                server,
                Kind::MalformedJson,
                &mut rng,
                Some(&task.sketch),
            )),
            _ => {}
        }
        script.push(submit.clone());
        if t % 12 == 8 {
            script.push(Call {
                kind: Kind::SecondSubmission,
                ..submit
            });
        }
        scripts.push(script);
    }
    let second_half_invalid = scripts.iter().map(|s| s.len() - 1).sum::<usize>();
    let total_valid_so_far = peak.outcomes.iter().filter(|o| o.0.valid()).count() + tasks.len();
    let total_invalid_so_far = peak.outcomes.len()
        - peak.outcomes.iter().filter(|o| o.0.valid()).count()
        + second_half_invalid;
    // Top up the invalid share to 20% with standalone ones.
    let wanted_invalid = (total_valid_so_far as f64 * 0.25).round() as usize;
    for i in 0..wanted_invalid.saturating_sub(total_invalid_so_far) {
        scripts.push(vec![invalid_call(
            server,
            Kind::INVALID[(i * 3) % 7],
            &mut rng,
            None,
        )]);
    }
    let order: Vec<usize> = {
        let mut o: Vec<usize> = (0..scripts.len()).collect();
        o.shuffle(&mut rng);
        o
    };
    let shuffled: Vec<Vec<Call>> = order.iter().map(|&i| scripts[i].clone()).collect();
    let (results, elapsed_second) =
        run_scripts(&http, shuffled, config.connections, deadline).await;
    let mut accepted = vec![false; tasks.len()];
    let mut unexpected: BTreeMap<(Kind, u16), usize> = BTreeMap::new();
    let mut not_run = 0usize;
    for (&i, result) in order.iter().zip(results) {
        for (call, r) in scripts[i].iter().zip(result) {
            let Some(r) = r else {
                not_run += 1;
                continue;
            };
            match r {
                Err(e) => {
                    if call.kind.valid() {
                        eprintln!(
                            "transport error {:?} {} {}: {e}",
                            call.kind, call.method, call.url
                        );
                    }
                    *peak.transport_errors.entry(call.kind).or_default() += 1
                }
                Ok(o) => {
                    peak.outcomes.push((o.kind, o.status, o.latency));
                    if o.kind == Kind::Submit && (200..300).contains(&o.status) && i < tasks.len() {
                        accepted[i] = true;
                    }
                }
            }
        }
    }
    for (kind, status, _) in &peak.outcomes {
        if *status != kind.expected() {
            *unexpected.entry((*kind, *status)).or_default() += 1;
        }
    }
    report(
        "peak (today: pings, submissions, new registrations, 20% invalid)",
        &peak,
        elapsed_first + elapsed_second,
    );
    if not_run > 0 {
        println!("  {not_run} requests not sent: the time bound was reached");
    }

    // Invariants of the traffic itself.
    let server_errors: Vec<_> = peak.outcomes.iter().filter(|o| o.1 >= 500).collect();
    if !server_errors.is_empty() {
        problems.push(format!("{} answers were 5xx", server_errors.len()));
    }
    let invalid_2xx = peak
        .outcomes
        .iter()
        .filter(|o| !o.0.valid() && (200..300).contains(&o.1))
        .count();
    if invalid_2xx > 0 {
        problems.push(format!("{invalid_2xx} invalid requests were answered 2xx"));
    }
    if !unexpected.is_empty() {
        // Not all are faults (e.g. an oversized body cut while sent), but all must be 4xx.
        println!("  answers other than the expected one: {unexpected:?}");
    }
    let valid_transport: usize = peak
        .transport_errors
        .iter()
        .filter(|(k, _)| k.valid())
        .map(|(_, n)| n)
        .sum();
    if valid_transport > 0 {
        problems.push(format!(
            "{valid_transport} valid requests failed in transport"
        ));
    }

    // Aggregate day 1 and compare with the truth.
    let res = http
        .post(format!(
            "{}/admin/jobs/aggregate-sketches?at={}",
            server.admin,
            days.aggregate.timestamp_millis()
        ))
        .send()
        .await
        .unwrap();
    let aggregated: Value = res.json().await.unwrap();
    println!("aggregate-sketches: {aggregated}");
    // Per campaign: groups by key list, members accepted, sums of complete groups.
    let mut groups: BTreeMap<(usize, Vec<String>), (usize, Vec<i64>)> = BTreeMap::new();
    let mut submitted = [0u64; CAMPAIGNS];
    for (t, task) in tasks.iter().enumerate() {
        let g = groups
            .entry((task.campaign, task.keys.clone()))
            .or_insert((0, vec![0; width]));
        if accepted[t] {
            submitted[task.campaign] += 1;
            g.0 += 1;
            for (s, c) in g.1.iter_mut().zip(&truth[t]) {
                *s += c;
            }
        }
    }
    let mut complete_groups = 0usize;
    for (c, name) in campaigns.iter().enumerate() {
        let mut decrypted_count = 0u64;
        let mut values = vec![0i64; width];
        for ((campaign, keys), (n, sums)) in &groups {
            if *campaign == c && *n == keys.len() {
                complete_groups += 1;
                decrypted_count += keys.len() as u64;
                for (v, s) in values.iter_mut().zip(sums) {
                    *v += s;
                }
            }
        }
        let res = http
            .get(format!("{}/api/campaigns/{name}/results/1", server.http))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let result: Value = res.json().await.unwrap();
        let expected_stats = json!({
            "activeCount": config.clients,
            "submittedCount": submitted[c],
            "decryptedCount": decrypted_count,
            // Every member is honest here: no group is implausible.
            "rejectedCount": 0,
        });
        if result["stats"] != expected_stats {
            problems.push(format!(
                "campaign {c}: stats {} but the accepted submissions say {expected_stats}",
                result["stats"]
            ));
        }
        let expected_values = if decrypted_count == 0 {
            json!([])
        } else {
            json!(values)
        };
        if result["decryptedValues"] != expected_values {
            problems.push(format!(
                "campaign {c}: decrypted values differ from the true totals of its complete groups"
            ));
        }
    }
    let stats: Value = http
        .get(format!("{}/api/stats", server.http))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expected_stats =
        json!({"activeCampaigns": CAMPAIGNS, "activeClients": config.clients + registered_today});
    if stats != expected_stats {
        problems.push(format!("stats {stats}, expected {expected_stats}"));
    }
    println!(
        "checks: {} submissions accepted ({} groups complete), per-campaign stats and decrypted sums equal the true totals: {}; no 5xx: {}; no invalid request accepted: {}",
        accepted.iter().filter(|a| **a).count(),
        complete_groups,
        if problems.iter().any(|p| p.starts_with("campaign")) { "NO" } else { "yes" },
        if server_errors.is_empty() { "yes" } else { "NO" },
        if invalid_2xx == 0 { "yes" } else { "NO" },
    );
    for p in &problems {
        println!("  PROBLEM: {p}");
    }
    problems.is_empty()
}

fn sketch_campaign(cmd: &Value, campaigns: &HashMap<&str, usize>) -> usize {
    // A command names its sketch, not its campaign: the vocabulary tells which one it is
    // (each campaign's queries carry its index).
    let first = cmd["vocabulary"]["queries"][0]["terms"][0]
        .as_str()
        .or_else(|| cmd["vocabulary"]["queries"][0]["exact"].as_str())
        .unwrap_or_default();
    let index = first
        .split_whitespace()
        .nth(1)
        .and_then(|cq| cq.split('-').next())
        .and_then(|c| c.parse::<usize>().ok())
        .expect("campaign index in the query text");
    debug_assert!(index < campaigns.len());
    index
}

fn ping_call(server: &Server, name: &str, post: bool) -> Call {
    let url = format!("{}/api/clients/{name}/ping", server.http);
    if post {
        Call {
            kind: Kind::Ping,
            method: reqwest::Method::POST,
            url,
            body: Some(br#"{"extensionVersion": "2.1.0", "timezone": "Europe/London"}"#.to_vec()),
            bearer: None,
        }
    } else {
        Call {
            kind: Kind::Ping,
            method: reqwest::Method::GET,
            url,
            body: None,
            bearer: None,
        }
    }
}

/// One invalid request of `kind`; `sketch` is a real sketch to aim wrong lengths and malformed
/// JSON at (before its valid submission), else an invented name is used.
fn invalid_call(server: &Server, kind: Kind, rng: &mut StdRng, sketch: Option<&str>) -> Call {
    let unknown = uuid::Uuid::new_v4().to_string();
    let sketch_url = format!(
        "{}/api/sketches/{}",
        server.http,
        sketch.unwrap_or(&unknown)
    );
    let call = |method: reqwest::Method, url: String, body: Option<Vec<u8>>, bearer| Call {
        kind,
        method,
        url,
        body,
        bearer,
    };
    match kind {
        Kind::MalformedJson => {
            let bodies: [&[u8]; 4] = [
                br#"{"encryptedValues": ["1", "2""#,
                b"encryptedValues=1,2,3",
                br#"{"publicKey": "04ab", "browser": }"#,
                br#"[{"publicKey": "04ab"}]"#,
            ];
            let body = bodies[rng.gen_range(0..bodies.len())].to_vec();
            if sketch.is_some() || rng.gen_bool(0.5) {
                call(reqwest::Method::PATCH, sketch_url, Some(body), None)
            } else {
                call(
                    reqwest::Method::POST,
                    format!("{}/api/clients", server.http),
                    Some(body),
                    None,
                )
            }
        }
        Kind::WrongLength => {
            let n = if rng.gen_bool(0.5) {
                QUERIES
            } else {
                QUERIES + 2
            };
            let values: Vec<String> = (0..n)
                .map(|i| format!("-{}", "7".repeat(70 + i % 7)))
                .collect();
            let body = serde_json::to_vec(&json!({"encryptedValues": values})).unwrap();
            // Aimed at a real sketch only when given one: an unknown sketch is 404 first.
            match sketch {
                Some(_) => call(reqwest::Method::PATCH, sketch_url, Some(body), None),
                None => Call {
                    kind: Kind::UnknownSketch,
                    ..call(reqwest::Method::PATCH, sketch_url, Some(body), None)
                },
            }
        }
        Kind::UnknownClient => call(
            if rng.gen_bool(0.5) {
                reqwest::Method::GET
            } else {
                reqwest::Method::POST
            },
            format!("{}/api/clients/{unknown}/ping", server.http),
            None,
            None,
        ),
        Kind::UnknownSketch => call(
            reqwest::Method::PATCH,
            sketch_url,
            Some(br#"{"encryptedValues": ["1"], "rawValues": [1]}"#.to_vec()),
            None,
        ),
        Kind::Oversized => {
            let body = format!(
                r#"{{"encryptedValues": ["{}"]}}"#,
                "9".repeat(2 * 1024 * 1024 + 10)
            );
            call(
                reqwest::Method::PATCH,
                sketch_url,
                Some(body.into_bytes()),
                None,
            )
        }
        Kind::WrongToken => call(
            reqwest::Method::GET,
            format!("{}/api/campaigns", server.http),
            None,
            Some(format!("{TOKEN}-wrong")),
        ),
        Kind::SecondSubmission => Call {
            // Standalone, there is nothing accepted to repeat: an unknown sketch instead.
            kind: Kind::UnknownSketch,
            ..call(
                reqwest::Method::PATCH,
                sketch_url,
                Some(br#"{"encryptedValues": []}"#.to_vec()),
                None,
            )
        },
        Kind::Register | Kind::Ping | Kind::Submit => unreachable!("valid kinds"),
    }
}
