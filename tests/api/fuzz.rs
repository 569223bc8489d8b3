//! Property tests of the request-body decoders: arbitrary bytes, arbitrary JSON and valid
//! bodies with one field replaced by arbitrary JSON, sent to every route that reads a body.
//! Whatever comes in, the answer is never a 5xx (nor a panic), and every refusal is a 4xx with
//! an `{"errors": [...]}` body. A bounded number of cases keeps the run to a few seconds.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use warp::http::StatusCode;

use crate::helpers::*;

const CASES: u32 = 128;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        // Failures print their minimal case; no regression files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// An application with one registered client, one campaign and one open sketch, and the
/// routes that read a body aimed at real resources (so decoding is followed by validation).
struct Target {
    rt: tokio::runtime::Runtime,
    app: App,
    routes: Vec<(&'static str, String, bool)>,
}

impl Target {
    fn new() -> Target {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let app = app();
        let (client, campaign, sketch) = rt.block_on(async {
            let campaign = app
                .create_campaign(json!({
                    "displayName": "Flu", "startTime": "2018-05-09T00:00:00+01:00",
                    "groupSize": 2, "collectRaw": true,
                    "vocabulary": {"queries": [{"exact": "flu"}, {"terms": ["a", "b"]}]}
                }))
                .await["name"]
                .as_str()
                .unwrap()
                .to_string();
            let a = app.register("04aa").await;
            let b = app.register("04bb").await;
            for c in [&a, &b] {
                app.call(request("GET", &format!("/api/clients/{c}/ping")))
                    .await;
            }
            app.admin(request(
                "POST",
                "/admin/jobs/create-sketches?at=1526000400000",
            ))
            .await;
            let r = app
                .call(request("GET", &format!("/api/clients/{a}/ping")))
                .await;
            let sketch = r.json()["submit"][0]["sketchName"]
                .as_str()
                .unwrap()
                .to_string();
            (a, campaign, sketch)
        });
        let routes = vec![
            ("POST", "/api/clients".to_string(), false),
            ("PATCH", format!("/api/clients/{client}"), false),
            ("POST", format!("/api/clients/{client}/ping"), false),
            ("PATCH", format!("/api/sketches/{sketch}"), false),
            ("POST", "/api/campaigns".to_string(), true),
            ("PUT", format!("/api/campaigns/{campaign}"), true),
        ];
        Target { rt, app, routes }
    }

    /// Sends `body` to route `i` and checks the answer's shape.
    fn check(&self, i: usize, body: Vec<u8>) -> Result<StatusCode, TestCaseError> {
        let (method, path, private_api) = &self.routes[i % self.routes.len()];
        let req = if *private_api {
            private(method, path)
        } else {
            request(method, path)
        };
        let r = self.rt.block_on(self.app.call(req.body(body)));
        prop_assert!(
            !r.status.is_server_error(),
            "{method} {path}: {} {}",
            r.status,
            r.text()
        );
        if r.status.is_client_error() {
            let body: Value = serde_json::from_slice(&r.body)
                .map_err(|e| TestCaseError::fail(format!("{method} {path}: not JSON: {e}")))?;
            let errors = body
                .as_object()
                .filter(|o| o.len() == 1)
                .and_then(|o| o.get("errors"))
                .and_then(Value::as_array);
            prop_assert!(
                errors.is_some_and(|e| !e.is_empty() && e.iter().all(Value::is_string)),
                "{method} {path}: {} {body}",
                r.status
            );
        } else {
            prop_assert!(r.status.is_success(), "{method} {path}: {}", r.status);
        }
        Ok(r.status)
    }
}

/// Field names the decoders know, so that arbitrary JSON often hits them with the wrong type.
const KNOWN: &[&str] = &[
    "publicKey",
    "browser",
    "externalName",
    "extensionVersion",
    "timezone",
    "encryptedValues",
    "rawValues",
    "displayName",
    "email",
    "notes",
    "vocabulary",
    "queries",
    "exact",
    "terms",
    "startTime",
    "endTime",
    "delay",
    "graceDelay",
    "groupSize",
    "samplingRate",
    "collectEncrypted",
    "collectRaw",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KNOWN).prop_map(str::to_string),
        1 => "[a-zA-Z_]{0,8}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "-?[0-9]{1,110}".prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
        Just(Value::from("2018-05-11T15:00:00+01:00")),
        Just(Value::from("04ab")),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A valid body for each route, in the order of `Target::routes`.
fn valid_bodies() -> Vec<Value> {
    vec![
        json!({"publicKey": "04abcd", "browser": "chrome", "externalName": "x"}),
        json!({"externalName": "panel-3"}),
        json!({"extensionVersion": "1.2.0", "timezone": "Europe/Paris"}),
        json!({"encryptedValues": ["1", "-2", "3"], "rawValues": [4, 5, 6]}),
        json!({"displayName": "Flu", "vocabulary": {"queries": [{"exact": "flu"}]},
               "startTime": "2030-01-01T00:00:00Z", "groupSize": 3, "samplingRate": 0.5}),
        json!({"displayName": "Flu", "startTime": "2018-05-09T00:00:00+01:00", "groupSize": 2,
               "collectRaw": true,
               "vocabulary": {"queries": [{"exact": "flu"}, {"terms": ["a", "b"]}, {"exact": "c"}]}}),
    ]
}

#[test]
fn arbitrary_bytes_to_every_body_route_never_answer_5xx_and_refusals_carry_errors() {
    let target = Target::new();
    proptest!(config(), |(route in 0usize..6, prefix in prop::sample::select(vec!["", "{", "[", "{\"", "\u{feff}"]), bytes in prop::collection::vec(any::<u8>(), 0..256))| {
        let mut body = prefix.as_bytes().to_vec();
        body.extend(bytes);
        target.check(route, body)?;
    });
}

#[test]
fn arbitrary_json_to_every_body_route_never_answers_5xx_and_refusals_carry_errors() {
    let target = Target::new();
    proptest!(config(), |(route in 0usize..6, body in any_json())| {
        target.check(route, serde_json::to_vec(&body).unwrap())?;
    });
}

#[test]
fn valid_bodies_with_one_field_replaced_by_arbitrary_json_never_answer_5xx() {
    let target = Target::new();
    let bodies = valid_bodies();
    // Each valid body is accepted as it is (the submission last: it can be made only once).
    for i in [0, 1, 2, 4, 5, 3] {
        let status = target
            .check(i, serde_json::to_vec(&bodies[i]).unwrap())
            .unwrap();
        assert!(status.is_success(), "route {i}: {status}");
    }
    proptest!(config(), |(route in 0usize..6, field in prop::sample::select(KNOWN), value in any_json())| {
        let mut body = bodies[route].clone();
        body[field] = value;
        target.check(route, serde_json::to_vec(&body).unwrap())?;
    });
}
