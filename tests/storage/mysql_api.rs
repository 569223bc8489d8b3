//! The HTTP API (warp::test, no socket) over MariaDB: the scenarios of `api_scenarios` on a
//! fresh database each, and a database of the previous server, adopted in place: its
//! campaigns, clients, results and open sketches, then a submission and an aggregation over the
//! folded legacy sums.

use std::sync::Arc;

use num_bigint::BigInt;
use pdd_server::adapters::http::{api_routes, ApiState, Limits};
use pdd_server::adapters::metrics::noop::NoopMetrics;
use pdd_server::domain::crypto;
use pdd_server::domain::service::jobs::JobKind;
use pdd_server::domain::service::{Context, Services};
use pdd_server::domain::time::Calendar;
use pdd_server::ports::Storage;
use pdd_server::testing::mysql::{self as mysql_support, TestDb};
use pdd_server::testing::{context, utc, ManualClock};
use secrecy::SecretString;
use serde_json::{json, Value};
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::mysql::{legacy_rows, LEGACY_DDL};

/// A fresh database per scenario, dropped after it; `None` (skipped) without MariaDB.
async fn scenario_instance() -> Option<(Arc<dyn Storage>, TestDb)> {
    if !mysql_support::available() {
        return None;
    }
    let db = TestDb::new();
    let storage: Arc<dyn Storage> = db.storage(4).await;
    Some((storage, db))
}

api_scenarios!(scenarios, scenario_instance);

const TOKEN: &str = "legacy-test-token-0123456789";

/// The API over `storage` with the default limits, a manual clock at 2018-05-05T08:00Z and
/// the UTC calendar; with its services and clock.
fn api_over(storage: Arc<dyn Storage>) -> (BoxedFilter<(Response,)>, Services, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(utc("2018-05-05T08:00:00Z")));
    let services = Services::new(Context {
        calendar: Calendar::new(chrono_tz::UTC),
        ..context(storage, clock.clone())
    });
    let api = api_routes(ApiState {
        services: services.clone(),
        access_token: SecretString::from(TOKEN),
        metrics: Arc::new(NoopMetrics),
        trusted_proxies: vec![],
        limits: Limits::default(),
    });
    (api, services, clock)
}

async fn call(
    api: &BoxedFilter<(Response,)>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = warp::test::request()
        .method(method)
        .path(path)
        .header("authorization", format!("Bearer {TOKEN}"))
        .remote_addr("127.0.0.1:5000".parse().unwrap());
    if let Some(b) = body {
        req = req.header("content-type", "application/json").json(&b);
    }
    let res = req.reply(api).await;
    let status = res.status().as_u16();
    let json = serde_json::from_slice(res.body()).unwrap_or(Value::Null);
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_database_adopted_in_place_is_served_by_the_api() {
    if !mysql_support::available() {
        return;
    }
    let db = TestDb::new();
    db.exec(LEGACY_DDL);
    db.exec(&legacy_rows(&BigInt::from(crypto::ell().clone())));
    let storage = db.storage(4).await;
    let (api, services, clock) = api_over(storage);

    let (status, flu) = call(&api, "GET", "/api/campaigns/flu", None).await;
    assert_eq!(status, 200);
    assert_eq!(flu["displayName"], "Flu watch");
    assert_eq!(flu["createTime"], "2018-04-20T12:00:00.000Z");
    assert_eq!(flu["startTime"], "2018-05-01T00:00:00.000Z");
    assert_eq!(
        flu["vocabulary"],
        json!({"queries": [{"exact": "flu"}, {"terms": ["fever", "cough"]}, {"exact": "sore throat"}]})
    );
    assert_eq!(flu["collectRaw"], true);
    assert_eq!(flu["active"], true);

    let (status, results) = call(&api, "GET", "/api/campaigns/flu/results/0", None).await;
    assert_eq!(status, 200);
    assert_eq!(results["decryptedValues"], json!([3, 1, 0]));
    assert_eq!(results["stats"]["decryptedCount"], 2);
    // Columns added since read as their defaults: nothing rejected, nothing withheld.
    assert_eq!(results["stats"]["rejectedCount"], 0);
    assert_eq!(results["withheld"], false);
    assert_eq!(flu["maxCount"], 10_000);
    assert_eq!(flu["minDecryptedCount"], 0);

    let (status, y) = call(&api, "GET", "/api/clients/y", None).await;
    assert_eq!(status, 200);
    assert_eq!(y["externalName"], "panel-7");
    assert_eq!(y["countryCode"], "GB");
    assert_eq!(y["createTime"], "2018-04-02T09:30:15.000Z");
    let (_, list) = call(&api, "GET", "/api/clients", None).await;
    assert_eq!(list["clients"].as_array().map(Vec::len), Some(4));

    // w's legacy sketch is open: its ping gets it, with its group's keys in client-name order.
    let (status, ping) = call(&api, "GET", "/api/clients/w/ping", None).await;
    assert_eq!(status, 200);
    let commands = ping["submit"].as_array().unwrap();
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0]["sketchName"], "s-w");
    assert_eq!(commands[0]["round"], 3);
    assert_eq!(commands[0]["publicKeys"], json!(["04dd", "04cc"]));
    assert_eq!(
        commands[0]["vocabulary"],
        json!({"queries": [{"exact": "flu"}, {"terms": ["fever", "cough"]}]})
    );

    // z sent (9, 9, 9) with its blind; w's blind cancels it and w's counts are (1, 1, 0).
    let (status, _) = call(
        &api,
        "PATCH",
        "/api/sketches/s-w",
        Some(json!({"encryptedValues": ["-8", "-8", "-9"], "rawValues": [1, 1, 0]})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &api,
        "PATCH",
        "/api/sketches/s-x",
        Some(json!({"encryptedValues": ["1", "1", "1"], "rawValues": [1, 1, 1]})),
    )
    .await;
    assert_eq!(status, 409, "a legacy submitted sketch stays submitted");

    // Day 3 is due at 2018-05-07 00:30 (2 + delay 1 days later).
    let at = utc("2018-05-07T00:30:00Z");
    clock.set(at);
    let report = services
        .jobs
        .run(JobKind::AggregateSketches, at)
        .await
        .unwrap();
    assert!(report.failed.is_empty());
    let (status, day3) = call(&api, "GET", "/api/campaigns/flu/results/3", None).await;
    assert_eq!(status, 200);
    assert_eq!(day3["decryptedValues"], json!([4, 2, 0]));
    assert_eq!(day3["rawValues"], json!([9, 7, 5]));
    assert_eq!(
        day3["stats"],
        json!({"activeCount": 4, "submittedCount": 4, "decryptedCount": 4, "rejectedCount": 0})
    );
    assert_eq!(day3["withheld"], false);
    // The old server's result of day 0 is outside the grace window: untouched.
    let (_, day0) = call(&api, "GET", "/api/campaigns/flu/results/0", None).await;
    assert_eq!(day0["decryptedValues"], json!([3, 1, 0]));
    assert_eq!(day0["stats"]["activeCount"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unlimited_client_list_reads_every_client_from_mysql_in_order() {
    if !mysql_support::available() {
        return;
    }
    let db = TestDb::new();
    let storage = db.storage(4).await;
    let (api, services, clock) = api_over(storage);
    // 2,345 clients over three pages of the stream, several of them created in the same
    // millisecond (the keyset then orders by name).
    let mut expected = Vec::new();
    for i in 0..2345u32 {
        let input = pdd_server::domain::client::ClientInput {
            public_key: Some(format!("{i:04x}")),
            browser: Some("firefox".into()),
            external_name: None,
        };
        let client = services.clients.register(input).await.unwrap();
        expected.push((client.create_time, client.name));
        if i % 3 == 0 {
            clock.advance(chrono::Duration::milliseconds(1));
        }
    }
    expected.sort();
    expected.reverse();
    let (status, body) = call(&api, "GET", "/api/clients", None).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_object().unwrap().len(), 1, "only `clients`");
    let listed: Vec<&str> = body["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let names: Vec<&str> = expected.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(listed, names);
}
