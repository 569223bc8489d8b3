//! Render time of each admin console page at production scale, every page reading through the
//! real storage: 100,000 registered clients, 5 campaigns of 90 aggregated days (200 queries
//! each), 90 days of clients counted by the nightly job from their activity (80% of the
//! clients active each day, 200 countries, 40 extension versions), 150 recorded runs of each
//! job, and a full day of metrics history (1440 samples of every API route, status, job and
//! storage series). Each page is asked through the admin filter (`warp::test`, no socket) as
//! HTML and as JSON; prints the median and the slowest of the runs and the size of the answer.
//!
//! Memory storage always. MySQL too when built with the `mysql` feature and MariaDB answers at
//! `PDD_BENCH_MYSQL_SERVER` (default `127.0.0.1:3306`, root, no password), in a throw-away
//! database dropped at the end; there the clients are inserted in bulk, and the activity of
//! each of the first 89 days is a sample of 2,000 clients (the page reads the counted days, not
//! the activity) while the last day has its full 80,000.
//!
//! Run: `cargo bench --bench console` (release build). `PDD_BENCH_CLIENTS=N` scales the clients.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Europe::London;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use pdd_server::adapters::admin::console::Console;
use pdd_server::adapters::admin::{admin_routes_with, AdminState, ServerInfo};
use pdd_server::adapters::metrics::registry::Registry;
use pdd_server::adapters::random::OsRandom;
use pdd_server::adapters::storage::memory::MemoryStorage;
use pdd_server::domain::client::{Activity, Client};
use pdd_server::domain::job::{JobRun, Outcome};
use pdd_server::domain::service::jobs::JobKind;
use pdd_server::domain::service::{Context, Services};
use pdd_server::domain::sketch::{Aggregation, Stats};
use pdd_server::domain::time::Calendar;
use pdd_server::ports::{Metrics, Storage};
use pdd_server::testing::{campaign_input, context, exact_queries, public_key, ManualClock};

const CAMPAIGNS: usize = 5;
const DAYS: i64 = 90;
const QUERIES: usize = 200;
const RUNS_PER_JOB: i64 = 150;
const REPEATS: usize = 30;
/// The MySQL adapter records one latency series (and one error series) per operation.
const STORAGE_OPERATIONS: [&str; 30] = [
    "health",
    "create_campaign",
    "get_campaign",
    "list_campaigns",
    "replace_campaign",
    "delete_campaign",
    "create_client",
    "get_client",
    "replace_client",
    "delete_client",
    "list_clients",
    "count_clients",
    "list_activity",
    "active_clients",
    "activity_times",
    "record_ping",
    "prune_clients",
    "delete_activity_before",
    "get_sketch",
    "create_day_sketches",
    "submit",
    "day_groups",
    "day_raw_sum",
    "count_client_day",
    "client_days",
    "put_aggregation",
    "list_aggregations",
    "job_runs",
    "claim_job",
    "complete_job",
];

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2018-08-10T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

fn calendar() -> Calendar {
    Calendar::new(London)
}

/// The local date of counted day `d` (0 to 89): the last is yesterday.
fn date(d: i64) -> NaiveDate {
    calendar().local_date(now()) - chrono::Duration::days(DAYS - d)
}

fn client_name(i: usize) -> String {
    format!("{i:08x}-0000-4000-8000-000000000000")
}

/// Registered over the 90 days, oldest first.
fn create_time(i: usize, clients: usize) -> DateTime<Utc> {
    now() - chrono::Duration::days(DAYS)
        + chrono::Duration::seconds((i as i64) * DAYS * 86_400 / clients.max(1) as i64)
}

/// 80% of the clients are active on each day.
fn active(i: usize, d: i64) -> bool {
    (i + d as usize) % 10 < 8
}

/// Client `i`'s ping on day `d`: one of 200 countries (unknown for 2%), one of 40 versions.
fn ping(i: usize, d: i64) -> Activity {
    let country = (!i.is_multiple_of(50)).then(|| {
        let c = i % 200;
        format!(
            "{}{}",
            (b'A' + (c / 26) as u8) as char,
            (b'A' + (c % 26) as u8) as char
        )
    });
    Activity {
        client_name: client_name(i),
        time: calendar().at(date(d), NaiveTime::MIN)
            + chrono::Duration::seconds((i % 86_000) as i64),
        country_code: country,
        extension_version: Some(format!("2.{}.{}", (i / 7) % 4, i % 10)),
        timezone: None,
    }
}

fn day_bounds(d: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    let cal = calendar();
    (
        cal.at(date(d), NaiveTime::MIN),
        cal.at(date(d) + chrono::Duration::days(1), NaiveTime::MIN),
    )
}

/// Campaigns with their aggregated days, job runs, and a day of metrics history: the same on
/// every storage.
async fn campaigns_runs_and_history(
    storage: &Arc<dyn Storage>,
    services: &Services,
    registry: &Registry,
    console: &Console,
    clients: usize,
) {
    for c in 0..CAMPAIGNS {
        let campaign = services
            .campaigns
            .create(campaign_input(
                &format!("Campaign {c} <with> \"markup\""),
                exact_queries(QUERIES, |q| format!("query {q} of {c}")),
                now() - chrono::Duration::days(DAYS + 1),
                50,
            ))
            .await
            .expect("campaign");
        for day in 0..DAYS {
            storage
                .put_aggregation(&Aggregation {
                    campaign_name: campaign.campaign.name.clone(),
                    day,
                    stats: Stats {
                        active_count: clients as u64 * 8 / 10,
                        submitted_count: clients as u64 * 7 / 10,
                        decrypted_count: clients as u64 * 6 / 10,
                        rejected_count: clients as u64 / 10,
                    },
                    decrypted_values: (0..=QUERIES as i64).collect(),
                    raw_values: Vec::new(),
                    withheld: false,
                })
                .await
                .expect("aggregation");
        }
    }
    for job in JobKind::ALL {
        for i in 0..RUNS_PER_JOB {
            let firing = now() - chrono::Duration::days(i + 1);
            storage
                .record_job_run(&JobRun {
                    job: job.name().to_string(),
                    firing,
                    instance: format!("pdd-{}/{}/0a1b2c3d", i % 3, 1000 + i),
                    started: firing + chrono::Duration::seconds(1),
                    duration_ms: 1000 + (i as u64 * 7919) % 60_000,
                    outcome: if i % 17 == 0 {
                        Outcome::Failed
                    } else {
                        Outcome::Ok
                    },
                    counts: [("created", 100_000), ("groups", 2000), ("skipped", 0)]
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                    failed: if i % 17 == 0 {
                        vec!["a-campaign-that-failed".into()]
                    } else {
                        Vec::new()
                    },
                    error: None,
                })
                .await
                .expect("job run");
        }
    }
    let routes = [
        ("/api/clients", "POST", &[201u16, 400, 429][..]),
        ("/api/clients/{name}/ping", "POST", &[200, 404, 429]),
        ("/api/clients/{name}/ping", "GET", &[200, 404]),
        ("/api/clients/{name}", "PATCH", &[200, 404]),
        ("/api/clients/{name}", "DELETE", &[204, 404]),
        ("/api/sketches/{name}", "PATCH", &[204, 404, 409, 410]),
        ("/api/campaigns", "GET", &[200, 401]),
        ("/api/campaigns/{name}/results", "GET", &[200, 404]),
        ("/api/stats", "GET", &[200, 401]),
        ("/api/clients", "GET", &[200]),
        ("unmatched", "GET", &[404]),
    ];
    let ms = Duration::from_millis(2);
    for minute in 0..1440i64 {
        for (route, method, statuses) in routes {
            for status in statuses {
                for _ in 0..(1 + minute % 5) {
                    registry.http_request(route, method, *status, ms);
                }
            }
        }
        for op in STORAGE_OPERATIONS {
            registry.storage_call(op, ms, minute % 97 != 0);
        }
        if minute % 60 == 0 {
            for job in JobKind::ALL {
                registry.job_run(job.name(), true, Duration::from_secs(5), 1000);
            }
        }
        registry.gauges(clients as u64, CAMPAIGNS as u64);
        console.history.record(
            now() - chrono::Duration::minutes(1439 - minute),
            &registry.samples(),
        );
    }
}

/// The admin filter over `storage` with everything above in it.
async fn admin_over(
    storage: Arc<dyn Storage>,
    kind: &str,
    clients: usize,
) -> BoxedFilter<(Response,)> {
    let registry = Arc::new(Registry::new());
    let clock = Arc::new(ManualClock::new(now()));
    let services = Services::new(Context {
        metrics: registry.clone(),
        random: Arc::new(OsRandom),
        calendar: calendar(),
        ..context(storage.clone(), clock.clone())
    });
    let console = Console::basic(&services);
    campaigns_runs_and_history(&storage, &services, &registry, &console, clients).await;
    admin_routes_with(
        AdminState {
            services,
            storage,
            clock,
            registry,
            info: ServerInfo {
                version: "0.1.0".into(),
                build: "release [bench]".into(),
                start_time: now() - chrono::Duration::days(1),
                storage: kind.into(),
                geocoder: "none".into(),
                metrics: "registry".into(),
            },
        },
        console,
    )
}

async fn memory(clients: usize) -> (BoxedFilter<(Response,)>, Duration) {
    let memory = Arc::new(MemoryStorage::new());
    let storage: Arc<dyn Storage> = memory.clone();
    for i in 0..clients {
        storage
            .create_client(&Client {
                name: client_name(i),
                create_time: create_time(i, clients),
                public_key: public_key(i),
                browser: "firefox".into(),
                external_name: None,
            })
            .await
            .expect("client");
    }
    // Each day's pings, counted, then deleted (as they would be after 61 days) so that memory
    // holds one day at a time.
    let mut last = Duration::ZERO;
    for d in 0..DAYS {
        for i in (0..clients).filter(|i| active(*i, d)) {
            storage.record_ping(&ping(i, d)).await.expect("ping");
        }
        let (from, to) = day_bounds(d);
        let started = Instant::now();
        storage
            .count_client_day(date(d), from, to)
            .await
            .expect("count day");
        last = started.elapsed();
        if d < DAYS - 1 {
            storage.delete_activity_before(to).await.expect("delete");
        }
    }
    (admin_over(storage, "memory", clients).await, last)
}

async fn measure(admin: &BoxedFilter<(Response,)>, path: &str, accept: &str) {
    let mut times = Vec::with_capacity(REPEATS);
    let mut bytes = 0;
    for _ in 0..REPEATS {
        let started = Instant::now();
        let res = warp::test::request()
            .method("GET")
            .path(path)
            .header("accept", accept)
            .reply(admin)
            .await;
        times.push(started.elapsed());
        assert_eq!(res.status(), 200, "{path}");
        bytes = res.body().len();
    }
    times.sort();
    let kind = if accept.contains("json") {
        "JSON"
    } else {
        "HTML"
    };
    println!(
        "{:<32} {kind}  median {:>8.2?}  slowest {:>8.2?}  {:>8} bytes",
        if path.starts_with("/admin/campaigns/") {
            "/admin/campaigns/{name}"
        } else {
            path
        },
        times[times.len() / 2],
        times[times.len() - 1],
        bytes
    );
}

async fn pages(admin: &BoxedFilter<(Response,)>) {
    let list = warp::test::request()
        .path("/admin/campaigns")
        .header("accept", "application/json")
        .reply(admin)
        .await;
    let list: serde_json::Value = serde_json::from_slice(list.body()).expect("json");
    let first = list["campaigns"][0]["name"].as_str().expect("a campaign");
    let one = format!("/admin/campaigns/{first}");
    let clients = warp::test::request()
        .path("/admin/clients")
        .header("accept", "application/json")
        .reply(admin)
        .await;
    let clients: serde_json::Value = serde_json::from_slice(clients.body()).expect("json");
    println!(
        "(the clients page: {} days counted, {} countries and {} versions listed)",
        clients["days"].as_array().map_or(0, Vec::len),
        clients["countries"].as_array().map_or(0, Vec::len),
        clients["extensionVersions"].as_array().map_or(0, Vec::len),
    );
    for path in [
        "/admin",
        "/admin/metrics",
        "/admin/campaigns",
        &one,
        "/admin/clients",
        "/admin/jobs",
        "/admin/logging",
    ] {
        measure(admin, path, "text/html").await;
        measure(admin, path, "application/json").await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let clients: usize = std::env::var("PDD_BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!(
        "{clients} clients, {CAMPAIGNS} campaigns of {DAYS} days ({QUERIES} queries), {DAYS} \
         days of clients counted, {RUNS_PER_JOB} runs per job, 1440 history samples; \
         {REPEATS} requests per page and format"
    );
    let started = Instant::now();
    let (admin, count_last) = memory(clients).await;
    println!(
        "== memory storage (built in {:.1?}; counting a day of {} active clients took {:.1?})",
        started.elapsed(),
        clients * 8 / 10,
        count_last
    );
    pages(&admin).await;
    #[cfg(feature = "mysql")]
    mysql::run(clients).await;
}

#[cfg(feature = "mysql")]
mod mysql {
    //! The same on MySQL, in a throw-away database.

    use super::*;
    use pdd_server::adapters::storage::mysql::{MysqlConfig, MysqlStorage};
    use pdd_server::testing;
    use r2d2_mysql::mysql::prelude::Queryable;
    use r2d2_mysql::mysql::{Conn, Params, Value};
    use secrecy::SecretString;

    fn server() -> String {
        testing::mysql::server_from("PDD_BENCH_MYSQL_SERVER")
    }

    fn time(t: DateTime<Utc>) -> Value {
        Value::from(t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
    }

    /// Rows of `width` values as multi-row INSERTs of 1000 rows.
    fn insert(c: &mut Conn, head: &str, width: usize, rows: impl Iterator<Item = Vec<Value>>) {
        let rows: Vec<Vec<Value>> = rows.collect();
        let row = format!("({})", vec!["?"; width].join(", "));
        for chunk in rows.chunks(1000) {
            c.exec_drop(
                format!("{head} {}", vec![row.as_str(); chunk.len()].join(", ")),
                Params::Positional(chunk.concat()),
            )
            .expect("insert");
        }
    }

    /// Counts each day through the port, as collect-garbage does; returns how long the last (full)
    /// day took.
    async fn count_days(
        storage: &Arc<dyn Storage>,
        last_day_activity: impl std::future::Future<Output = ()>,
    ) -> Duration {
        for d in 0..DAYS - 1 {
            let (from, to) = day_bounds(d);
            storage
                .count_client_day(date(d), from, to)
                .await
                .expect("count day");
        }
        last_day_activity.await;
        let (from, to) = day_bounds(DAYS - 1);
        let started = Instant::now();
        storage
            .count_client_day(date(DAYS - 1), from, to)
            .await
            .expect("count day");
        started.elapsed()
    }

    fn activity_rows(d: i64, sample: bool, clients: usize) -> impl Iterator<Item = Vec<Value>> {
        (0..clients)
            .filter(move |i| active(*i, d) && (!sample || i % (clients / 2000).max(1) == 0))
            .map(move |i| {
                let a = ping(i, d);
                vec![
                    Value::from(a.client_name),
                    time(a.time),
                    a.country_code.map_or(Value::NULL, Value::from),
                    a.extension_version.map_or(Value::NULL, Value::from),
                ]
            })
    }

    pub async fn run(clients: usize) {
        if testing::mysql::connect(&server(), None).is_err() {
            println!("== MySQL: no server at {:?}: skipped", server());
            return;
        }
        let db = format!("pdd_console_bench_{}", uuid::Uuid::new_v4().simple());
        let started = Instant::now();
        let storage = MysqlStorage::start(MysqlConfig::new(
            &server(),
            "root",
            SecretString::from(""),
            &db,
        ));
        assert!(storage.wait_ready(Duration::from_secs(120)).await);
        let mut c = testing::mysql::connect(&server(), Some(&db)).expect("database");
        insert(
            &mut c,
            "INSERT INTO clients (name, createTime, publicKey, browser) VALUES",
            4,
            (0..clients).map(|i| {
                vec![
                    Value::from(client_name(i)),
                    time(create_time(i, clients)),
                    Value::from(public_key(i)),
                    Value::from("firefox"),
                ]
            }),
        );
        for d in 0..DAYS - 1 {
            insert(
                &mut c,
                "INSERT INTO activity (clientName, time, countryCode, extensionVersion) VALUES",
                4,
                activity_rows(d, true, clients),
            );
        }
        let dynamic: Arc<dyn Storage> = storage.clone();
        let count_last = count_days(&dynamic, async {
            insert(
                &mut c,
                "INSERT INTO activity (clientName, time, countryCode, extensionVersion) VALUES",
                4,
                activity_rows(DAYS - 1, false, clients),
            );
        })
        .await;
        let admin = admin_over(dynamic, "mysql", clients).await;
        println!(
            "== MySQL storage (built in {:.1?}; counting a day of {} active clients took {:.1?})",
            started.elapsed(),
            clients * 8 / 10,
            count_last
        );
        pages(&admin).await;
        drop(admin);
        drop(storage);
        testing::mysql::drop_database(&server(), &db);
    }
}
