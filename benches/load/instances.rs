//! The multi-instance mode of the load bench (`PDD_LOAD_INSTANCES=N`): N processes of the built
//! server in testing mode (a day lasts 5 minutes, the nightly jobs fire by themselves) on one
//! MariaDB database, the client spreading its requests over them round-robin; run once with 1
//! instance and once with N, each on a fresh database, and the throughput printed side by side.
//!
//! Each run: campaigns created, every client registers and pings; once create-sketches has
//! fired (by itself, on whichever instance claimed it) every client pings for its commands and
//! submits each (51 encrypted values and the raw counts). Then, read from the database: every
//! submission answered 2xx is counted exactly once (the sketches marked submitted, the groups'
//! submitted counts, the days' raw sums equal to the true totals), and every job firing was run
//! by exactly one instance (the run history).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use r2d2_mysql::mysql::prelude::Queryable;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use pdd_server::testing::public_key;

use super::{blinds, drop_database, encrypt, run_scripts, Call, Kind, QUERIES, TOKEN};

const CAMPAIGNS: usize = 3;
const GROUP_SIZE: usize = 10;
/// Longest real wait for create-sketches to fire (a testing-mode day is 5 minutes).
const SKETCHES_WITHIN: Duration = Duration::from_secs(420);

struct Instance {
    child: Child,
    http: String,
    admin: String,
}

/// What one run measured and found.
struct RunOutcome {
    requests: usize,
    elapsed: Duration,
    problems: Vec<String>,
}

pub fn run(instances: usize, clients: usize, connections: usize) -> bool {
    let mut outcomes = Vec::new();
    let mut sizes = vec![1];
    if instances > 1 {
        sizes.push(instances);
    }
    for &n in &sizes {
        println!(
            "\n== {n} instance(s) on one MariaDB database (testing mode): {clients} clients, {CAMPAIGNS} campaigns of {QUERIES} queries, groups of {GROUP_SIZE}, {connections} concurrent requests round-robin"
        );
        let outcome = run_one(n, clients, connections);
        for p in &outcome.problems {
            println!("  PROBLEM: {p}");
        }
        outcomes.push((n, outcome));
    }
    println!("\n== instances side by side (pings and submissions of the peak)");
    for (n, o) in &outcomes {
        println!(
            "  {n} instance(s): {} requests in {:.2} s: {:.0} requests/s; checks {}",
            o.requests,
            o.elapsed.as_secs_f64(),
            o.requests as f64 / o.elapsed.as_secs_f64().max(1e-9),
            if o.problems.is_empty() {
                "passed"
            } else {
                "FAILED"
            }
        );
    }
    println!(
        "  load average now: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    outcomes.iter().all(|(_, o)| o.problems.is_empty())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn spawn(i: usize, database: &str, logs: &Path) -> Instance {
    let (http, admin) = (free_port(), free_port());
    let log = std::fs::File::create(logs.join(format!("instance-{i}.log"))).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_pdd-server"))
        .args([
            "-testing_mode".to_string(),
            "-mysql_server=127.0.0.1:3306".to_string(),
            format!("-mysql_database={database}"),
            format!("-http.port=127.0.0.1:{http}"),
            format!("-admin.port=127.0.0.1:{admin}"),
            format!("-api.access_token={TOKEN}"),
            "-http.rate_limit.register=0".to_string(),
            "-http.rate_limit.ping=0".to_string(),
            "-log_level=WARN".to_string(),
        ])
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .expect("the server starts");
    Instance {
        child,
        http: format!("http://127.0.0.1:{http}"),
        admin: format!("http://127.0.0.1:{admin}"),
    }
}

fn stop(instances: Vec<Instance>) {
    for mut i in instances {
        // SAFETY: kill only sends a signal to the process we started.
        unsafe { libc::kill(i.child.id() as i32, libc::SIGTERM) };
        let _ = i.child.wait();
    }
}

fn run_one(n: usize, clients: usize, connections: usize) -> RunOutcome {
    let database = format!("pdd_instances_{}", uuid::Uuid::new_v4().simple());
    let logs = tempfile::tempdir().expect("temp dir");
    let instances: Vec<Instance> = (0..n).map(|i| spawn(i, &database, logs.path())).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = rt.block_on(drive(&instances, &database, clients, connections));
    stop(instances);
    if !outcome.problems.is_empty() {
        for entry in std::fs::read_dir(logs.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(10).collect();
            println!("  {:?} (last lines):", entry.file_name());
            for l in tail.into_iter().rev() {
                println!("    {l}");
            }
        }
    }
    drop_database(&database);
    outcome
}

fn ping(instance: &Instance, name: &str) -> Call {
    Call {
        kind: Kind::Ping,
        method: reqwest::Method::POST,
        url: format!("{}/api/clients/{name}/ping", instance.http),
        body: Some(br#"{"extensionVersion":"1.2.0","timezone":"Europe/London"}"#.to_vec()),
        bearer: None,
    }
}

async fn drive(
    instances: &[Instance],
    database: &str,
    clients: usize,
    connections: usize,
) -> RunOutcome {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client");
    let mut problems = Vec::new();
    let no_deadline = Instant::now() + Duration::from_secs(3600);
    let ready_by = Instant::now() + Duration::from_secs(120);
    for i in instances {
        loop {
            let health = http.get(format!("{}/health", i.admin)).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(Instant::now() < ready_by, "instance not ready within 120 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let at = |k: usize| &instances[k % instances.len()];

    // Campaigns (started a day ago, collecting raw counts too), clients registered and pinging.
    let start = chrono::Utc::now() - chrono::Duration::days(1);
    let mut campaigns = Vec::new();
    for c in 0..CAMPAIGNS {
        let queries: Vec<Value> = (0..QUERIES)
            .map(|q| json!({"exact": format!("query {c}-{q}")}))
            .collect();
        let res = http
            .post(format!("{}/api/campaigns", at(c).http))
            .bearer_auth(TOKEN)
            .json(&json!({
                "displayName": format!("Instances {c}"),
                "vocabulary": {"queries": queries},
                "startTime": start.to_rfc3339(),
                "groupSize": GROUP_SIZE,
                "collectRaw": true,
            }))
            .send()
            .await
            .expect("campaign created");
        assert_eq!(res.status().as_u16(), 201);
        let body: Value = res.json().await.expect("json");
        campaigns.push(body["name"].as_str().expect("name").to_string());
    }
    let keys: Vec<String> = (0..clients).map(public_key).collect();
    let registrations: Vec<Vec<Call>> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            vec![Call {
                kind: Kind::Register,
                method: reqwest::Method::POST,
                url: format!("{}/api/clients", at(i).http),
                body: Some(
                    serde_json::to_vec(&json!({"publicKey": key, "browser": "chrome"}))
                        .expect("json"),
                ),
                bearer: None,
            }]
        })
        .collect();
    let (results, _) = run_scripts(&http, registrations, connections, no_deadline).await;
    let mut names = Vec::with_capacity(clients);
    for r in results.into_iter().flatten().flatten() {
        let o = r.expect("registered");
        assert_eq!(o.status, 201, "{}", o.body);
        let v: Value = serde_json::from_str(&o.body).expect("json");
        names.push(v["name"].as_str().expect("name").to_string());
    }
    let pings: Vec<Vec<Call>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| vec![ping(at(i + 1), n)])
        .collect();
    let (results, _) = run_scripts(&http, pings, connections, no_deadline).await;
    for r in results.into_iter().flatten().flatten() {
        assert_eq!(r.expect("pinged").status, 200);
    }
    println!("  {} clients registered and pinged", names.len());

    // Wait for create-sketches to fire on its own (at 01:00 of the next testing-mode day).
    let waited = Instant::now();
    loop {
        let res = http
            .post(ping(at(0), &names[0]).url)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("ping");
        let v: Value = res.json().await.expect("json");
        if v["submit"].as_array().is_some_and(|s| !s.is_empty()) {
            break;
        }
        if waited.elapsed() > SKETCHES_WITHIN {
            problems.push("create-sketches did not fire within 7 minutes".to_string());
            return RunOutcome {
                requests: 0,
                elapsed: Duration::ZERO,
                problems,
            };
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!(
        "  create-sketches fired by itself after {:.0} s",
        waited.elapsed().as_secs_f64()
    );

    // The peak: every client pings for its commands, then submits each.
    let peak_started = Instant::now();
    let pings: Vec<Vec<Call>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| vec![ping(at(i), n)])
        .collect();
    let (results, _) = run_scripts(&http, pings, connections, no_deadline).await;
    let mut requests = names.len();
    // Per command: sketch, group keys, own position, campaign index.
    let mut tasks: Vec<(String, Vec<String>, usize, usize)> = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        let Some(Some(Ok(o))) = r.into_iter().next() else {
            problems.push(format!("ping of client {i} failed"));
            continue;
        };
        if o.status != 200 {
            problems.push(format!("ping answered {}", o.status));
            continue;
        }
        let v: Value = serde_json::from_str(&o.body).expect("json");
        for cmd in v["submit"].as_array().into_iter().flatten() {
            let keys_of: Vec<String> =
                serde_json::from_value(cmd["publicKeys"].clone()).expect("keys");
            let me = keys_of
                .iter()
                .position(|k| *k == keys[i])
                .expect("own key in the group");
            let sketch = cmd["sketchName"].as_str().expect("name").to_string();
            // Each campaign's queries carry its index: "query {c}-{q}".
            let campaign = cmd["vocabulary"]["queries"][0]["exact"]
                .as_str()
                .and_then(|q| q.strip_prefix("query "))
                .and_then(|cq| cq.split('-').next())
                .and_then(|c| c.parse::<usize>().ok())
                .expect("campaign index in the query text");
            tasks.push((sketch, keys_of, me, campaign));
        }
    }
    let width = QUERIES + 1;
    let mut rng = StdRng::seed_from_u64(15);
    let mut truth: Vec<Vec<i64>> = Vec::new();
    let submissions: Vec<Vec<Call>> = tasks
        .iter()
        .enumerate()
        .map(|(t, (sketch, keys_of, me, _))| {
            let per_query: Vec<i64> = (0..QUERIES).map(|_| rng.gen_range(0..5)).collect();
            let total = per_query.iter().sum::<i64>() + rng.gen_range(0..200);
            let counts: Vec<i64> = std::iter::once(total).chain(per_query).collect();
            let b = blinds(keys_of, *me, width);
            let encrypted: Vec<String> = counts
                .iter()
                .zip(&b)
                .map(|(c, blind)| encrypt(*c, blind, &mut rng))
                .collect();
            let body =
                serde_json::to_vec(&json!({"encryptedValues": encrypted, "rawValues": counts}))
                    .expect("json");
            truth.push(counts);
            vec![Call {
                kind: Kind::Submit,
                method: reqwest::Method::PATCH,
                url: format!("{}/api/sketches/{sketch}", at(t).http),
                body: Some(body),
                bearer: None,
            }]
        })
        .collect();
    requests += submissions.len();
    let (results, _) = run_scripts(&http, submissions, connections, no_deadline).await;
    let elapsed = peak_started.elapsed();
    let mut accepted = vec![false; tasks.len()];
    for (t, r) in results.into_iter().enumerate() {
        match r.into_iter().next().flatten() {
            Some(Ok(o)) if (200..300).contains(&o.status) => accepted[t] = true,
            Some(Ok(o)) => problems.push(format!("submission answered {}: {}", o.status, o.body)),
            _ => problems.push("submission failed in transport".to_string()),
        }
    }
    let n_accepted = accepted.iter().filter(|a| **a).count();
    println!(
        "  peak: {} pings, {} submissions ({n_accepted} accepted) in {:.2} s: {:.0} requests/s",
        names.len(),
        tasks.len(),
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64()
    );

    // What the database holds.
    let mut expected_raw: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (t, (_, _, _, campaign)) in tasks.iter().enumerate() {
        if accepted[t] {
            let sum = expected_raw
                .entry(campaigns[*campaign].clone())
                .or_insert_with(|| vec![0; width]);
            for (s, c) in sum.iter_mut().zip(&truth[t]) {
                *s += c;
            }
        }
    }
    problems.extend(check_database(
        database,
        n_accepted,
        &expected_raw,
        instances.len(),
    ));
    RunOutcome {
        requests,
        elapsed,
        problems,
    }
}

fn check_database(
    database: &str,
    accepted: usize,
    expected_raw: &BTreeMap<String, Vec<i64>>,
    instances: usize,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut conn =
        pdd_server::testing::mysql::connect(super::MYSQL, Some(database)).expect("mysql");
    let submitted: u64 = conn
        .query_first("SELECT COUNT(*) FROM sketches WHERE submitted = 1")
        .expect("count")
        .unwrap_or(0);
    let counted: u64 = conn
        .query_first("SELECT COALESCE(SUM(submittedCount), 0) FROM sketch_groups")
        .expect("sum")
        .unwrap_or(0);
    if submitted != accepted as u64 || counted != accepted as u64 {
        problems.push(format!(
            "{accepted} submissions accepted, but {submitted} sketches marked submitted and {counted} counted in the groups"
        ));
    }
    let raw: Vec<(String, String)> = conn
        .query("SELECT campaignName, rawValues FROM day_raw_sums")
        .expect("raw sums");
    let found: BTreeMap<String, Vec<i64>> = raw
        .into_iter()
        .map(|(c, v)| {
            let values = v
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (c, values)
        })
        .collect();
    let raw_ok = found == *expected_raw;
    if !raw_ok {
        problems.push("the days' raw sums differ from the true totals".to_string());
    }
    let runs: Vec<(String, String, u64, String)> = conn
        .query(
            "SELECT job, CAST(firing AS CHAR), COUNT(*), GROUP_CONCAT(DISTINCT instance) \
             FROM job_runs GROUP BY job, firing ORDER BY firing, job",
        )
        .expect("runs");
    let twice: Vec<_> = runs.iter().filter(|r| r.2 != 1).collect();
    if !twice.is_empty() {
        problems.push(format!("firings run more than once: {twice:?}"));
    }
    let mut by_instance: BTreeMap<String, usize> = BTreeMap::new();
    for r in &runs {
        *by_instance.entry(r.3.clone()).or_default() += 1;
    }
    println!(
        "  database: {submitted} sketches submitted, {counted} counted in the groups (accepted {accepted}); raw sums equal the true totals: {}; {} job firings, each run once: {}; runs per instance ({instances} running): {by_instance:?}",
        if raw_ok { "yes" } else { "NO" },
        runs.len(),
        if twice.is_empty() { "yes" } else { "NO" },
    );
    problems
}
