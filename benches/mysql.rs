//! MySQL storage benchmark on a real MariaDB (`PDD_BENCH_MYSQL_SERVER`, default
//! `127.0.0.1:3306`, root, no password): with 100,000 registered clients and 5 campaigns,
//! create-sketches for every client and campaign (beside the time the `mariadb` client takes
//! to insert the same rows from one multi-row INSERT script), then pings/s and submissions/s at
//! 32 concurrent clients through the services. Uses throw-away databases it drops at the end.
//!
//! Run: `cargo bench --bench mysql` (sizes: `PDD_BENCH_CLIENTS`, `PDD_BENCH_OPS`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pdd_server::adapters::random::OsRandom;
use pdd_server::adapters::storage::mysql::{MysqlConfig, MysqlStorage};
use pdd_server::domain::campaign::CampaignInput;
use pdd_server::domain::service::jobs::JobKind;
use pdd_server::domain::service::ping::PingInput;
use pdd_server::domain::service::sketches::SubmissionInput;
use pdd_server::domain::service::{Context, Services};
use pdd_server::domain::time::Calendar;
use pdd_server::ports::ClientStore;
use pdd_server::testing::{campaign_input, context, exact_queries, mysql, utc, ManualClock};
use r2d2_mysql::mysql::prelude::Queryable;
use r2d2_mysql::mysql::{Conn, Params, Value};
use rand::seq::SliceRandom;
use rand::Rng;
use secrecy::SecretString;

const CAMPAIGNS: usize = 5;
const CONCURRENCY: usize = 32;
const QUERIES: usize = 10;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn server() -> String {
    mysql::server_from("PDD_BENCH_MYSQL_SERVER")
}

async fn storage(db: &str) -> Arc<MysqlStorage> {
    let mut config = MysqlConfig::new(&server(), "root", SecretString::from(""), db);
    config.pool_size = CONCURRENCY as u32;
    let s = MysqlStorage::start(config);
    assert!(
        s.wait_ready(Duration::from_secs(120)).await,
        "storage not ready"
    );
    s
}

fn sql_text(v: &Value) -> String {
    match v {
        Value::NULL => "NULL".into(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Bytes(b) => format!(
            "'{}'",
            String::from_utf8_lossy(b)
                .replace('\\', "\\\\")
                .replace('\'', "\\'")
        ),
        Value::Date(y, mo, d, h, mi, s, us) => {
            format!("'{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}'")
        }
        other => panic!("unexpected value {other:?}"),
    }
}

/// One script: the rows of `table` as multi-row INSERTs of 1000 rows in one transaction.
fn insert_script(source: &mut Conn, table: &str, columns: &str, out: &mut String) -> usize {
    let rows: Vec<r2d2_mysql::mysql::Row> = source
        .query(format!("SELECT {columns} FROM {table}"))
        .unwrap();
    let n = rows.len();
    for chunk in rows.chunks(1000) {
        out.push_str(&format!("INSERT INTO {table} ({columns}) VALUES "));
        let values: Vec<String> = chunk
            .iter()
            .map(|r| {
                let cells: Vec<String> = r.clone().unwrap().iter().map(sql_text).collect();
                format!("({})", cells.join(","))
            })
            .collect();
        out.push_str(&values.join(","));
        out.push_str(";\n");
    }
    n
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let clients = env_usize("PDD_BENCH_CLIENTS", 100_000);
    let ops = env_usize("PDD_BENCH_OPS", 20_000);
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (db, db_script) = (
        format!("pdd_bench_{suffix}"),
        format!("pdd_bench_script_{suffix}"),
    );
    println!("MySQL benchmark: {clients} clients, {CAMPAIGNS} campaigns, {CONCURRENCY} concurrent clients");

    let storage = storage(&db).await;
    let clock = Arc::new(ManualClock::new(utc("2018-05-01T12:00:00Z")));
    let services = Services::new(Context {
        random: Arc::new(OsRandom),
        calendar: Calendar::new(chrono_tz::UTC),
        ..context(storage.clone(), clock.clone())
    });

    // Setup (not timed as part of the figures): clients active on day 1 (2018-05-02).
    let setup = Instant::now();
    let mut c = mysql::connect(&server(), Some(&db)).expect("MariaDB reachable");
    let names: Vec<String> = (0..clients)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    for chunk in names.chunks(1000) {
        let mut params = Vec::new();
        let mut activity = Vec::new();
        for (i, n) in chunk.iter().enumerate() {
            params.extend([
                Value::from(n.as_str()),
                Value::from("2018-04-20 10:00:00"),
                Value::from(format!("04{}", "ab".repeat(64))),
                Value::from("chrome"),
            ]);
            activity.extend([
                Value::from(n.as_str()),
                Value::from(format!("2018-05-02 {:02}:{:02}:00", i % 24, i % 60)),
            ]);
        }
        c.exec_drop(
            format!(
                "INSERT INTO clients (name, createTime, publicKey, browser) VALUES {}",
                vec!["(?, ?, ?, ?)"; chunk.len()].join(",")
            ),
            Params::Positional(params),
        )
        .unwrap();
        c.exec_drop(
            format!(
                "INSERT INTO activity (clientName, time) VALUES {}",
                vec!["(?, ?)"; chunk.len()].join(",")
            ),
            Params::Positional(activity),
        )
        .unwrap();
    }
    for i in 0..CAMPAIGNS {
        services
            .campaigns
            .create(CampaignInput {
                grace_delay: Some(1),
                collect_raw: Some(i % 2 == 0),
                ..campaign_input(
                    &format!("Campaign {i}"),
                    exact_queries(QUERIES, |q| format!("query {i}-{q}")),
                    utc("2018-05-01T00:00:00Z"),
                    10,
                )
            })
            .await
            .unwrap();
    }
    println!("setup: {:.1} s", setup.elapsed().as_secs_f64());

    // create-sketches, fired at 2018-05-03 01:00 for day 1.
    let firing = utc("2018-05-03T01:00:00Z");
    clock.set(firing);
    let started = Instant::now();
    let report = services
        .jobs
        .run(JobKind::CreateSketches, firing)
        .await
        .unwrap();
    let job_time = started.elapsed();
    assert!(report.failed.is_empty(), "{report:?}");
    let sketches = report.get("created");
    println!(
        "create-sketches: {sketches} sketches in {} groups for {CAMPAIGNS} campaigns: {:.2} s ({:.0} sketches/s)",
        report.get("groups"),
        job_time.as_secs_f64(),
        sketches as f64 / job_time.as_secs_f64()
    );

    // The same rows from one multi-row INSERT script through the mariadb client.
    drop(storage_for_schema(&db_script).await);
    let mut script = String::from("SET time_zone = '+00:00';\nSTART TRANSACTION;\n");
    insert_script(
        &mut c,
        "sketch_groups",
        "campaignName, day, groupId, publicKeys, queriesCount, submittedCount, encryptedCount, encryptedSum",
        &mut script,
    );
    let rows = insert_script(
        &mut c,
        "sketches",
        "name, createTime, clientName, campaignName, day, `group`, queriesCount, submitted",
        &mut script,
    );
    script.push_str("COMMIT;\n");
    let (host, port) = mysql::host_port(&server());
    let client = std::env::var("MARIADB_CLIENT").unwrap_or_else(|_| "mariadb".into());
    let started = Instant::now();
    let mut child = Command::new(&client)
        .args([
            "-h",
            &host,
            "-P",
            &port.to_string(),
            "-u",
            "root",
            &db_script,
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {client}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let status = child.wait().unwrap();
    let script_time = started.elapsed();
    assert!(status.success(), "{client} failed");
    println!(
        "same rows ({rows} sketches) by one multi-row INSERT script through `{client}`: {:.2} s (the job takes {:.1}x that)",
        script_time.as_secs_f64(),
        job_time.as_secs_f64() / script_time.as_secs_f64()
    );

    // Pings at 2018-05-03 02:00: each client gets one command per campaign.
    clock.set(utc("2018-05-03T02:00:00Z"));
    let names = Arc::new(names);
    let started = Instant::now();
    let per_task = ops / CONCURRENCY;
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (services, names) = (services.clone(), names.clone());
        tasks.push(tokio::spawn(async move {
            let mut commands = 0;
            for _ in 0..per_task {
                let name = names.choose(&mut rand::thread_rng()).unwrap().clone();
                let r = services
                    .ping
                    .ping(&name, PingInput::default())
                    .await
                    .unwrap();
                commands += r.submit.len();
            }
            commands
        }));
    }
    let mut commands = 0;
    for t in tasks {
        commands += t.await.unwrap();
    }
    let elapsed = started.elapsed();
    let pings = per_task * CONCURRENCY;
    println!(
        "pings: {pings} in {:.2} s: {:.0} pings/s ({:.1} commands per ping)",
        elapsed.as_secs_f64(),
        pings as f64 / elapsed.as_secs_f64(),
        commands as f64 / pings as f64
    );

    // Submissions of distinct random sketches (groups of 10 share row locks).
    let mut sketch_names: Vec<String> = c.query("SELECT name FROM sketches").unwrap();
    sketch_names.shuffle(&mut rand::thread_rng());
    sketch_names.truncate(per_task * CONCURRENCY);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in sketch_names.chunks(per_task) {
        let (services, chunk) = (services.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            for name in chunk {
                let (encrypted, raw) = {
                    let mut rng = rand::thread_rng();
                    let encrypted: Vec<String> = (0..=QUERIES)
                        .map(|_| {
                            let digits: String = (0..76)
                                .map(|_| char::from(b'0' + rng.gen_range(0..10)))
                                .collect();
                            format!("{}{digits}", rng.gen_range(1..7))
                        })
                        .collect();
                    let raw: Vec<i64> = (0..=QUERIES).map(|_| rng.gen_range(0..5)).collect();
                    (encrypted, raw)
                };
                services
                    .sketches
                    .submit(
                        &name,
                        SubmissionInput {
                            encrypted_values: Some(encrypted),
                            raw_values: Some(raw),
                        },
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "submissions: {} in {:.2} s: {:.0} submissions/s",
        sketch_names.len(),
        elapsed.as_secs_f64(),
        sketch_names.len() as f64 / elapsed.as_secs_f64()
    );
    println!("statements sent by the storage: {}", storage.statements());
    assert_eq!(storage.count_clients().await.unwrap(), clients as u64);

    drop(services);
    drop(storage);
    for name in [&db, &db_script] {
        mysql::drop_database(&server(), name);
    }
}

/// A database migrated to the current schema, left empty.
async fn storage_for_schema(db: &str) -> Arc<MysqlStorage> {
    storage(db).await
}
