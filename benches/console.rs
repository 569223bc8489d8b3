//! Render time of each admin console page at production scale: 100,000 registered clients in
//! memory storage, 5 campaigns of 90 aggregated days (200 queries each), a full day of metrics
//! history (1440 samples of every API route, status and job series), 90 days of client figures
//! with 200 countries and 40 extension versions, 100 runs per job. Each page is asked through
//! the admin filter (`warp::test`, no socket) as HTML and as JSON; prints the median and the
//! slowest of the runs, and the size of the answer.
//!
//! Run: `cargo bench --bench console` (release build). `PDD_BENCH_CLIENTS=N` scales the clients.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::London;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use pdd_server::adapters::admin::console::Console;
use pdd_server::adapters::admin::pages::clients::{ClientDay, ClientFigures, ClientSource};
use pdd_server::adapters::admin::pages::jobs::{JobHistory, JobRun, Outcome};
use pdd_server::adapters::admin::{admin_routes_with, AdminState, ServerInfo};
use pdd_server::adapters::geocoder::none::NoGeocoder;
use pdd_server::adapters::metrics::registry::Registry;
use pdd_server::adapters::random::OsRandom;
use pdd_server::adapters::storage::memory::MemoryStorage;
use pdd_server::domain::campaign::{CampaignInput, QueryInput};
use pdd_server::domain::client::Client;
use pdd_server::domain::grouping::GroupStrategy;
use pdd_server::domain::service::jobs::JobKind;
use pdd_server::domain::service::ServiceError;
use pdd_server::domain::service::{Context, Services};
use pdd_server::domain::sketch::{Aggregation, Stats};
use pdd_server::domain::time::Calendar;
use pdd_server::ports::{AggregationStore, ClientStore, Metrics};
use pdd_server::testing::ManualClock;

const CAMPAIGNS: usize = 5;
const DAYS: i64 = 90;
const QUERIES: usize = 200;
const RUNS: usize = 30;
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
    "delete_sketches_before",
    "delete_orphan_sketches",
    "put_aggregation",
    "list_aggregations",
    "get_aggregation",
    "claim_job",
    "complete_job",
];

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2018-08-10T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

/// What the clients page would read: 90 days, 200 countries, 40 versions.
struct Clients(u64);

#[async_trait]
impl ClientSource for Clients {
    async fn client_figures(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<ClientFigures, ServiceError> {
        let n = self.0;
        Ok(ClientFigures {
            registered: n,
            days: from
                .iter_days()
                .take_while(|d| *d <= to)
                .enumerate()
                .map(|(i, date)| ClientDay {
                    date,
                    registrations: n / 90 + i as u64,
                    active: n * 8 / 10 + (i as u64 * 37) % 1000,
                })
                .collect(),
            countries: (0..200)
                .map(|i| (Some(format!("C{i:03}")), n / (i + 2)))
                .collect(),
            extension_versions: (0..40)
                .map(|i| (Some(format!("2.{}.{}", i / 10, i % 10)), n / (i + 3)))
                .collect(),
        })
    }
}

/// A hundred runs of each job.
struct Runs;

#[async_trait]
impl JobHistory for Runs {
    async fn job_runs(&self, job: JobKind, limit: usize) -> Result<Vec<JobRun>, ServiceError> {
        Ok((0..limit as i64)
            .map(|i| {
                let firing = now() - chrono::Duration::days(i + 1);
                JobRun {
                    job,
                    firing,
                    instance: format!("instance-{}", i % 3),
                    started: firing + chrono::Duration::seconds(1),
                    duration_ms: 1000 + (i as u64 * 7919) % 60_000,
                    outcome: if i % 17 == 0 {
                        Outcome::Failed
                    } else {
                        Outcome::Ok
                    },
                    counts: BTreeMap::from([
                        ("created".to_string(), 100_000),
                        ("groups".to_string(), 2000),
                    ]),
                    failed: Vec::new(),
                    error: None,
                }
            })
            .collect())
    }
}

async fn build(clients: usize) -> (BoxedFilter<(Response,)>, usize) {
    let storage = Arc::new(MemoryStorage::new());
    let registry = Arc::new(Registry::new());
    let clock = Arc::new(ManualClock::new(now()));
    let services = Services::new(Context {
        storage: storage.clone(),
        geocoder: Arc::new(NoGeocoder),
        metrics: registry.clone(),
        clock: clock.clone(),
        random: Arc::new(OsRandom),
        calendar: Calendar::new(London),
        strategy: GroupStrategy::Naive,
        prune_threshold: chrono::Duration::days(15),
    });
    for i in 0..clients {
        storage
            .create_client(&Client {
                name: format!("{i:08x}-0000-4000-8000-000000000000"),
                create_time: now() - chrono::Duration::seconds(i as i64),
                public_key: format!("04{i:062x}"),
                browser: "firefox".into(),
                external_name: None,
            })
            .await
            .expect("client");
    }
    for c in 0..CAMPAIGNS {
        let campaign = services
            .campaigns
            .create(CampaignInput {
                display_name: Some(format!("Campaign {c} <with> \"markup\"")),
                vocabulary: Some(
                    (0..QUERIES)
                        .map(|q| QueryInput {
                            exact: Some(format!("query {q} of {c}")),
                            terms: None,
                        })
                        .collect(),
                ),
                start_time: Some(now() - chrono::Duration::days(DAYS + 1)),
                group_size: Some(50),
                ..CampaignInput::default()
            })
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
    // A day of metrics: every API route with its usual statuses, the jobs, some storage calls.
    let console = Console::basic(&services);
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
    let series = console.history.series();
    let console = Console {
        clients: Some(Arc::new(Clients(clients as u64))),
        jobs: Some(Arc::new(Runs)),
        ..console
    };
    let admin = admin_routes_with(
        AdminState {
            services,
            storage: storage.clone(),
            clock: clock.clone(),
            registry,
            info: ServerInfo {
                version: "0.1.0".into(),
                build: "release [bench]".into(),
                start_time: now() - chrono::Duration::days(1),
                storage: "memory".into(),
                geocoder: "none".into(),
                metrics: "registry".into(),
            },
        },
        console,
    );
    (admin, series)
}

async fn measure(admin: &BoxedFilter<(Response,)>, path: &str, accept: &str) {
    let mut times = Vec::with_capacity(RUNS);
    let mut bytes = 0;
    for _ in 0..RUNS {
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

async fn run(clients: usize) {
    let started = Instant::now();
    let (admin, series) = build(clients).await;
    println!(
        "{clients} clients, {CAMPAIGNS} campaigns of {DAYS} days ({QUERIES} queries), \
         1440 history samples of {series} series; built in {:.1?}; {RUNS} runs per page",
        started.elapsed()
    );
    let campaign = warp::test::request()
        .path("/admin/campaigns")
        .header("accept", "application/json")
        .reply(&admin)
        .await;
    let list: serde_json::Value = serde_json::from_slice(campaign.body()).expect("json");
    let first = list["campaigns"][0]["name"]
        .as_str()
        .expect("a campaign")
        .to_string();
    let one = format!("/admin/campaigns/{first}");
    println!("(/admin/campaigns/{{name}} is {one})");
    for path in [
        "/admin",
        "/admin/metrics",
        "/admin/campaigns",
        &one,
        "/admin/clients",
        "/admin/jobs",
        "/admin/logging",
    ] {
        measure(&admin, path, "text/html").await;
        measure(&admin, path, "application/json").await;
    }
}

fn main() {
    let clients: usize = std::env::var("PDD_BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run(clients));
}
