//! Route tests of the public, private and admin HTTP interfaces through `warp::test`.

mod abuse;
mod console;
#[cfg(feature = "sentry")]
mod error_reports;
mod fuzz;
mod helpers;

use serde_json::json;
use warp::http::StatusCode;

use helpers::*;
use pdd_server::adapters::http::{classify, Limits};

// ---------------------------------------------------------------- public: clients

#[tokio::test]
async fn registering_a_client_answers_201_with_a_server_chosen_name_and_ignores_unknown_fields() {
    let app = app();
    let r = app
        .call(request("POST", "/api/clients").json(&json!({
            "publicKey": "04abcd",
            "browser": "firefox",
            "externalName": null,
            "privateKey": "deadbeef",
            "name": "chosen-by-client",
            "settings": {"nested": [1, 2]}
        })))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    let name = body["name"].as_str().unwrap().to_string();
    assert_eq!(name.len(), 36);
    assert_ne!(name, "chosen-by-client");
    assert_eq!(
        body,
        json!({"name": name, "createTime": "2018-05-10T12:00:00.000Z",
               "publicKey": "04abcd", "browser": "firefox"})
    );
    let stored = app.services.clients.get(&name).await.unwrap().client;
    assert_eq!(stored.public_key, "04abcd");
    assert_eq!(stored.external_name, None);
}

#[tokio::test]
async fn registering_without_required_fields_answers_400_with_every_field_error() {
    let app = app();
    let r = app
        .call(request("POST", "/api/clients").json(&json!({"publicKey": "zz"})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.errors(),
        vec!["publicKey: should be hexadecimal", "browser: is required"]
    );
}

#[tokio::test]
async fn malformed_json_answers_400_naming_the_body_with_the_parser_message() {
    let app = app();
    let r = app.call(request("POST", "/api/clients").body("x")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.errors(), vec!["body: expected value at line 1 column 1"]);
    let r = app
        .call(request("POST", "/api/clients").body(r#"{"publicKey": 4}"#))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.errors(),
        vec!["body: invalid type: integer `4`, expected a string at line 1 column 15"]
    );
}

#[tokio::test]
async fn json_is_read_whatever_the_content_type_and_unknown_fields_nested_up_to_32_levels_are_skipped(
) {
    let app = app();
    let r = app
        .call(
            request("POST", "/api/clients")
                .header("content-type", "text/plain;charset=UTF-8")
                .body(r#"{"publicKey": "04", "browser": "chrome"}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    // The extension's whole local state may come along: nested, but not without end.
    let nested = |levels: usize| {
        format!(
            r#"{{"publicKey": "04", "browser": "chrome", "x": {}"[[{{"{}}}"#,
            "[".repeat(levels - 1),
            "]".repeat(levels - 1)
        )
    };
    let r = app
        .call(request("POST", "/api/clients").body(nested(32)))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["browser"], "chrome");
    for levels in [33, 100_000] {
        let r = app
            .call(request("POST", "/api/clients").body(nested(levels)))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.errors(), vec!["body: nested deeper than 32 levels"]);
    }
}

#[tokio::test]
async fn updating_a_client_sets_its_external_name_and_unknown_clients_are_404() {
    let app = app();
    let name = app.register("04ab").await;
    let r = app
        .call(
            request("PATCH", &format!("/api/clients/{name}"))
                .json(&json!({"externalName": "panel-17", "browser": "ignored"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"name": name, "createTime": "2018-05-10T12:00:00.000Z", "publicKey": "04ab",
               "browser": "firefox", "externalName": "panel-17"})
    );
    let r = app
        .call(request("PATCH", "/api/clients/nobody").json(&json!({})))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.errors(), vec!["not found"]);
}

#[tokio::test]
async fn deleting_a_client_answers_204_and_its_ping_then_404() {
    let app = app();
    let name = app.register("04ab").await;
    let r = app
        .call(request("DELETE", &format!("/api/clients/{name}")))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.body.is_empty());
    let r = app
        .call(request("GET", &format!("/api/clients/{name}/ping")))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.errors(), vec!["not found"]);
    let r = app
        .call(request("DELETE", &format!("/api/clients/{name}")))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- public: ping

#[tokio::test]
async fn ping_answers_the_active_vocabulary_and_next_ping_time_and_records_activity() {
    let app = app();
    app.create_campaign(json!({
        "displayName": "Flu", "startTime": "2018-05-09T00:00:00+01:00",
        "vocabulary": {"queries": [{"exact": "flu"}, {"terms": ["flu", "fever"]}]}
    }))
    .await;
    let name = app.register("04ab").await;
    let r = app
        .call(
            request("POST", &format!("/api/clients/{name}/ping"))
                .json(&json!({"extensionVersion": "1.0.3", "timezone": "Europe/Paris", "x": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let body = r.json();
    assert_eq!(body["submit"], json!([]));
    assert_eq!(
        body["vocabulary"],
        json!({"queries": [{"exact": "flu"}, {"terms": ["flu", "fever"]}]})
    );
    // 02:00 London time the next day, plus a spread under an hour.
    let next = utc(body["nextPingTime"].as_str().unwrap());
    assert!(next >= utc("2018-05-11T01:00:00Z") && next < utc("2018-05-11T02:00:00Z"));
    assert!(body["nextPingTime"].as_str().unwrap().ends_with(":00.000Z"));
    let activity = app
        .services
        .clients
        .activity(Some(&name), None)
        .await
        .unwrap();
    assert_eq!(activity.len(), 1);
    assert_eq!(activity[0].country_code.as_deref(), Some("GB"));
    assert_eq!(activity[0].extension_version.as_deref(), Some("1.0.3"));
    assert_eq!(activity[0].timezone.as_deref(), Some("Europe/Paris"));
}

#[tokio::test]
async fn ping_by_get_or_with_an_empty_body_records_activity_without_fields() {
    let app = app();
    let name = app.register("04ab").await;
    for req in [
        request("GET", &format!("/api/clients/{name}/ping")),
        request("POST", &format!("/api/clients/{name}/ping")),
    ] {
        let r = app.call(req).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["submit"], json!([]));
        assert_eq!(r.json()["vocabulary"], json!({"queries": []}));
    }
    let activity = app
        .services
        .clients
        .activity(Some(&name), None)
        .await
        .unwrap();
    assert_eq!(activity.len(), 2);
    assert!(activity
        .iter()
        .all(|a| a.extension_version.is_none() && a.timezone.is_none()));
}

#[tokio::test]
async fn ping_of_an_unknown_client_is_404_and_bad_fields_are_400() {
    let app = app();
    let r = app
        .call(request("POST", "/api/clients/nobody/ping").json(&json!({})))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.errors(), vec!["not found"]);
    let name = app.register("04ab").await;
    let r = app
        .call(
            request("POST", &format!("/api/clients/{name}/ping"))
                .json(&json!({"extensionVersion": "v".repeat(51)})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.errors(),
        vec!["extensionVersion: should be at most 50 characters"]
    );
}

#[tokio::test]
async fn ping_country_comes_from_forwarded_address_only_behind_a_trusted_proxy() {
    let app = app();
    let name = app.register("04ab").await;
    let path = format!("/api/clients/{name}/ping");
    // Through the trusted proxy: the right-most untrusted forwarded address (a spoofed
    // left-most one is not believed).
    let r = app
        .call(
            warp::test::request()
                .method("GET")
                .path(&path)
                .remote_addr(PROXY.parse().unwrap())
                .header("x-forwarded-for", "198.51.100.20, 203.0.113.7"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // From an untrusted peer the header is ignored: the peer's own country.
    let r = app
        .call(request("GET", &path).header("x-forwarded-for", "203.0.113.7"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let countries: Vec<Option<String>> = app
        .services
        .clients
        .activity(Some(&name), None)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.country_code)
        .collect();
    assert_eq!(countries, vec![Some("FR".into()), Some("GB".into())]);
}

// ---------------------------------------------------------------- the protocol end to end

fn big(digits: &str) -> num_bigint::BigInt {
    digits.parse().unwrap()
}

#[tokio::test]
async fn full_protocol_sketches_are_commanded_submitted_once_aggregated_and_exported() {
    let app = app();
    // Started yesterday (London): day 0 is 9 May, day 1 is 10 May (today).
    let campaign = app
        .create_campaign(json!({
            "displayName": "Flu", "startTime": "2018-05-09T00:00:00+01:00", "groupSize": 2,
            "vocabulary": {"queries": [{"exact": "flu"}, {"terms": ["flu", "fever"]}]}
        }))
        .await;
    let cname = campaign["name"].as_str().unwrap().to_string();
    let a = app.register("04aa").await;
    let b = app.register("04bb").await;
    for c in [&a, &b] {
        let r = app
            .call(request("GET", &format!("/api/clients/{c}/ping")))
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // create-sketches as of 01:00 London tomorrow makes the sketches of today (day 1).
    let r = app
        .admin(request(
            "POST",
            "/admin/jobs/create-sketches?at=2018-05-11T01:00:00%2B01:00",
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), json!({"created": 2, "groups": 1}));

    app.clock.set(utc("2018-05-11T08:00:00Z"));
    let mut sketches = Vec::new();
    let mut keys = Vec::new();
    for c in [&a, &b] {
        let r = app
            .call(request("GET", &format!("/api/clients/{c}/ping")))
            .await;
        let body = r.json();
        let submit = body["submit"].as_array().unwrap();
        assert_eq!(submit.len(), 1);
        let cmd = &submit[0];
        assert_eq!(cmd["startTime"], "2018-05-09T23:00:00.000Z");
        assert_eq!(cmd["endTime"], "2018-05-10T23:00:00.000Z");
        assert_eq!(cmd["round"], 1);
        assert_eq!(cmd["collectEncrypted"], true);
        assert_eq!(cmd["collectRaw"], false);
        assert_eq!(
            cmd["vocabulary"],
            json!({"queries": [{"exact": "flu"}, {"terms": ["flu", "fever"]}]})
        );
        sketches.push(cmd["sketchName"].as_str().unwrap().to_string());
        keys.push(cmd["publicKeys"].clone());
    }
    assert_eq!(keys[0], keys[1]);
    let mut group_keys: Vec<String> = serde_json::from_value(keys[0].clone()).unwrap();
    group_keys.sort();
    assert_eq!(group_keys, vec!["04aa", "04bb"]);

    // Blinds that cancel: a adds them, b subtracts them.
    let blind = big("31415926535897932384626433832795028841971693993751058209749445923078164");
    let counts_a = [4i64, 1, 3];
    let counts_b = [2i64, 0, 2];
    let values_a: Vec<String> = counts_a
        .iter()
        .map(|c| (num_bigint::BigInt::from(*c) + &blind).to_string())
        .collect();
    let values_b: Vec<String> = counts_b
        .iter()
        .map(|c| (num_bigint::BigInt::from(*c) - &blind).to_string())
        .collect();
    let submit = |sketch: &str, values: &[String]| {
        request("PATCH", &format!("/api/sketches/{sketch}"))
            .json(&json!({"encryptedValues": values, "rawValues": [9, 9, 9]}))
    };
    let r = app.call(submit(&sketches[0], &values_a)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let r = app.call(submit(&sketches[0], &values_a)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.errors(), vec!["sketch already submitted"]);
    let r = app.call(submit(&sketches[1], &values_b[..2])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.errors(), vec!["encryptedValues: should have 3 elements"]);
    let r = app.call(submit(&sketches[1], &values_b)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    let r = app
        .admin(request(
            "POST",
            "/admin/jobs/aggregate-sketches?at=2018-05-11T23:30:00Z",
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), json!({"aggregated": 1}));

    let r = app
        .call(private("GET", &format!("/api/campaigns/{cname}/results/1")))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"name": format!("{cname}-1"), "campaignName": cname, "day": 1,
               "stats": {"activeCount": 2, "submittedCount": 2, "decryptedCount": 2},
               "decryptedValues": [6, 1, 5], "rawValues": []})
    );
    let r = app
        .call(
            private("GET", &format!("/api/campaigns/{cname}/results?export=1"))
                .header("accept", "text/csv"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        r.text(),
        "day,query,count\n2018-05-10,_total,6\n2018-05-10,flu,1\n2018-05-10,\"flu, fever\",5\n"
    );

    let r = app.call(submit("no-such-sketch", &values_b)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let s = app.registry.snapshot();
    assert_eq!(s.get("pdd_sketches_accepted_total"), Some(&2.0));
    assert_eq!(
        s.get(r#"pdd_sketches_rejected_total{reason="already_submitted"}"#),
        Some(&1.0)
    );
    assert_eq!(
        s.get(r#"pdd_sketches_rejected_total{reason="not_found"}"#),
        Some(&1.0)
    );
}

/// Two clients active today, and their sketches of today created; returns the sketch names.
async fn two_open_sketches(app: &App) -> Vec<String> {
    app.create_campaign(json!({
        "displayName": "Flu", "startTime": "2018-05-09T00:00:00+01:00", "groupSize": 2,
        "vocabulary": {"queries": [{"exact": "flu"}]}
    }))
    .await;
    let clients = [app.register("04aa").await, app.register("04bb").await];
    for c in &clients {
        app.call(request("GET", &format!("/api/clients/{c}/ping")))
            .await;
    }
    let r = app
        .admin(request(
            "POST",
            "/admin/jobs/create-sketches?at=1526000400000",
        ))
        .await;
    assert_eq!(r.json(), json!({"created": 2, "groups": 1}));
    let mut names = Vec::new();
    for c in &clients {
        let r = app
            .call(request("GET", &format!("/api/clients/{c}/ping")))
            .await;
        names.push(
            r.json()["submit"][0]["sketchName"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    names
}

#[tokio::test]
async fn submitting_after_the_collection_window_closed_answers_410() {
    let app = app();
    let sketches = two_open_sketches(&app).await;
    // Day 1 (10 May) stays open until its aggregation on day 3 (12 May, London).
    app.clock.set(utc("2018-05-11T22:59:59Z"));
    let body = json!({"encryptedValues": ["1", "-1"]});
    let r = app
        .call(request("PATCH", &format!("/api/sketches/{}", sketches[0])).json(&body))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    app.clock.set(utc("2018-05-11T23:00:00Z"));
    let r = app
        .call(request("PATCH", &format!("/api/sketches/{}", sketches[1])).json(&body))
        .await;
    assert_eq!(r.status, StatusCode::GONE);
    assert_eq!(
        r.errors(),
        vec!["the collection window of this sketch has closed"]
    );
}

// ---------------------------------------------------------------- storage down

#[tokio::test]
async fn storage_unavailable_answers_503_with_an_opaque_message_on_every_interface() {
    let app = app();
    let name = app.register("04ab").await;
    app.storage.set_down(true);
    for (r, what) in [
        (
            app.call(request("GET", &format!("/api/clients/{name}/ping")))
                .await,
            "ping",
        ),
        (
            app.call(private("GET", "/api/campaigns")).await,
            "campaigns",
        ),
        (
            app.call(
                request("POST", "/api/clients").json(&json!({"publicKey": "04", "browser": "x"})),
            )
            .await,
            "register",
        ),
    ] {
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{what}");
        assert_eq!(
            r.errors(),
            vec!["service unavailable, try again later"],
            "{what}"
        );
        assert!(!r.text().contains("3306"), "{what}");
    }
    let r = app.admin(request("GET", "/health")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.errors(), vec!["storage: does not answer"]);
    app.storage.set_down(false);
    let r = app.admin(request("GET", "/health")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), "OK");
}

#[tokio::test]
async fn a_storage_fault_answers_500_with_an_opaque_message_and_logs_its_cause() {
    let app = app();
    let logs = capture_logs();
    app.storage.set_broken(true);
    let r = app.call(private("GET", "/api/stats")).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.errors(), vec!["internal server error"]);
    assert!(!r.text().contains("deadlock"));
    let text = logs.contents();
    let cause: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("deadlock found (errno 1213)"))
        .collect();
    assert_eq!(cause.len(), 1, "{text}");
    assert!(cause[0].contains("ERROR"), "{text}");
    app.storage.set_broken(false);
    app.storage.set_down(true);
    let r = app.call(private("GET", "/api/stats")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let text = logs.contents();
    assert!(
        text.lines()
            .any(|l| l.contains("ERROR") && l.contains("connection refused")),
        "{text}"
    );
}

// ---------------------------------------------------------------- logs and metrics

#[tokio::test]
async fn each_request_is_logged_once_with_its_route_pattern_and_never_names_tokens_or_bodies() {
    let app = app();
    let logs = capture_logs();
    let name = app.register("04c0ffee").await;
    let r = app
        .call(
            request("POST", &format!("/api/clients/{name}/ping"))
                .json(&json!({"extensionVersion": "9.9.9-secret-body"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call(request("GET", &format!("/api/stats?access_token={TOKEN}")))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call(request("GET", "/api/stats?access_token=wrong-guess"))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app.call(request("GET", "/secret-path/with-name")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let text = logs.contents();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("request")).collect();
    assert_eq!(lines.len(), 5, "{text}");
    let expect = [
        ("POST", "/api/clients", 201),
        ("POST", "/api/clients/{name}/ping", 200),
        ("GET", "/api/stats", 200),
        ("GET", "/api/stats", 401),
        ("GET", "unmatched", 404),
    ];
    for (line, (method, route, status)) in lines.iter().zip(expect) {
        assert!(line.contains(&format!("method={method}")), "{line}");
        assert!(
            line.contains(&format!("route=\"{route}\""))
                || line.contains(&format!("route={route}")),
            "{line}"
        );
        assert!(line.contains(&format!("status={status}")), "{line}");
        assert!(line.contains("latency_ms="), "{line}");
    }
    for secret in [
        name.as_str(),
        TOKEN,
        "wrong-guess",
        "04c0ffee",
        "secret-body",
        "secret-path",
        "access_token",
    ] {
        assert!(!text.contains(secret), "{secret} in logs:\n{text}");
    }
    let s = app.registry.snapshot();
    assert_eq!(
        s.get(r#"pdd_http_requests_total{route="/api/clients/{name}/ping",method="POST",status="200"}"#),
        Some(&1.0)
    );
    assert_eq!(
        s.get(r#"pdd_http_requests_total{route="/api/stats",method="GET",status="401"}"#),
        Some(&1.0)
    );
    assert_eq!(
        s.get(r#"pdd_http_requests_total{route="unmatched",method="GET",status="404"}"#),
        Some(&1.0)
    );
}

// ---------------------------------------------------------------- CORS

#[tokio::test]
async fn public_routes_echo_the_origin_and_private_routes_send_no_cors_headers() {
    let app = app();
    let r = app
        .call(
            request("POST", "/api/clients")
                .header("origin", "moz-extension://abc")
                .json(&json!({"publicKey": "04", "browser": "firefox"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("moz-extension://abc")
    );
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, POST, PUT, PATCH, DELETE")
    );
    // Errors of public routes carry them too, so the extension can read `errors`.
    let r = app
        .call(request("GET", "/api/clients/nobody/ping").header("origin", "https://x.org"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://x.org")
    );
    // The private API, even on a path it shares with a public route.
    for req in [
        private("GET", "/api/clients"),
        private("GET", "/api/clients/nobody"),
        private("GET", "/api/campaigns"),
    ] {
        let r = app.call(req.header("origin", "https://x.org")).await;
        assert!(r.status.is_success() || r.status == StatusCode::NOT_FOUND);
        assert_eq!(r.header("access-control-allow-origin"), None);
        assert_eq!(r.header("access-control-allow-methods"), None);
    }
}

#[tokio::test]
async fn options_on_a_public_path_answers_the_preflight_with_the_requested_headers() {
    let app = app();
    for path in [
        "/api/clients",
        "/api/clients/abc",
        "/api/clients/abc/ping",
        "/api/sketches/abc",
    ] {
        let r = app
            .call(
                request("OPTIONS", path)
                    .header("origin", "chrome-extension://xyz")
                    .header("access-control-request-method", "PATCH")
                    .header("access-control-request-headers", "content-type, x-custom"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("chrome-extension://xyz")
        );
        assert_eq!(
            r.header("access-control-allow-methods"),
            Some("GET, POST, PUT, PATCH, DELETE")
        );
        assert_eq!(
            r.header("access-control-allow-headers"),
            Some("content-type, x-custom")
        );
    }
    // Not on a private-only path.
    let r = app
        .call(request("OPTIONS", "/api/campaigns").header("origin", "https://x.org"))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

// ---------------------------------------------------------------- auth, 404, 405, 413

#[tokio::test]
async fn private_routes_take_the_token_from_the_header_or_the_query() {
    let app = app();
    for req in [
        request("GET", "/api/stats").header("authorization", format!("Bearer {TOKEN}")),
        request("GET", "/api/stats").header("authorization", format!("bearer {TOKEN}")),
        request("GET", &format!("/api/stats?access_token={TOKEN}")),
    ] {
        let r = app.call(req).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json(), json!({"activeCampaigns": 0, "activeClients": 0}));
    }
}

#[tokio::test]
async fn missing_or_wrong_token_answers_401_with_www_authenticate() {
    let app = app();
    for req in [
        request("GET", "/api/campaigns"),
        request("GET", "/api/campaigns").header("authorization", "Bearer wrong"),
        request("GET", "/api/campaigns").header("authorization", format!("Basic {TOKEN}")),
        request("GET", "/api/campaigns?access_token=wrong"),
        request("GET", &format!("/api/campaigns?access_token={TOKEN}x")),
        request("POST", "/api/campaigns").json(&json!({"displayName": "x"})),
        request("GET", "/api/clients"),
        request("GET", "/api/clients/abc"),
        request("DELETE", "/api/campaigns/abc"),
    ] {
        let r = app.call(req).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert_eq!(r.json(), json!({"errors": ["unauthorized"]}));
    }
    assert!(app.services.campaigns.list(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn unknown_routes_answer_404_json_even_without_a_token() {
    let app = app();
    for path in [
        "/",
        "/api",
        "/api/nope",
        "/api/campaigns/abc/nope",
        "/api/clients/abc/ping/more",
        "/api/clients//ping",
        "/admin/ping",
    ] {
        let r = app.call(request("GET", path)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json(), json!({"errors": ["not found"]}), "{path}");
    }
}

#[tokio::test]
async fn a_wrong_method_on_a_known_path_answers_405_json_with_allow() {
    let app = app();
    for (method, path, allow) in [
        ("DELETE", "/api/stats", "GET"),
        ("PUT", "/api/clients", "POST, GET, OPTIONS"),
        ("POST", "/api/campaigns/abc", "GET, PUT, DELETE"),
        ("GET", "/api/sketches/abc", "PATCH, OPTIONS"),
    ] {
        let r = app.call(request(method, path)).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(r.json(), json!({"errors": ["method not allowed"]}));
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
    }
}

#[tokio::test]
async fn oversized_bodies_answer_413_with_the_limit() {
    let app = app_with(Limits {
        public_body_bytes: 100,
        private_body_bytes: 300,
        ..Limits::unlimited_rates()
    });
    let big_key = "ab".repeat(60);
    let r = app
        .call(
            request("POST", "/api/clients")
                .json(&json!({"publicKey": big_key, "browser": "firefox"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.errors(), vec!["body: should be at most 100 bytes"]);
    // The rest of the body is not read: the connection cannot serve another request.
    assert_eq!(r.header("connection"), Some("close"));
    // The private limit is the larger one.
    let campaign = json!({"displayName": "x".repeat(150)});
    let r = app
        .call(private("POST", "/api/campaigns").json(&campaign))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let campaign = json!({"displayName": "x", "notes": "n".repeat(300)});
    let r = app
        .call(private("POST", "/api/campaigns").json(&campaign))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.errors(), vec!["body: should be at most 300 bytes"]);
    // A body longer than its declared length is cut at the limit too.
    let r = app
        .call(
            request("PATCH", "/api/sketches/abc")
                .header("content-length", "2")
                .body(format!("{{\"rawValues\": [{}]}}", "1,".repeat(60) + "1")),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.errors(), vec!["body: should be at most 100 bytes"]);
}

#[tokio::test]
async fn default_limits_hold_a_10000_query_vocabulary_and_a_10001_value_submission() {
    let app = app();
    let limits = Limits::default();
    assert!(limits.public_body_bytes < limits.private_body_bytes);
    let queries: Vec<_> = (0..10_000)
        .map(|i| json!({"terms": [format!("influenza symptoms {i}"), format!("fever remedy {i}"), "x".repeat(200)]}))
        .collect();
    let body =
        serde_json::to_vec(&json!({"displayName": "Big", "vocabulary": {"queries": queries}}))
            .unwrap();
    assert!(body.len() > 2_000_000);
    let r = app.call(private("POST", "/api/campaigns").body(body)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        r.json()["vocabulary"]["queries"].as_array().unwrap().len(),
        10_000
    );
    let encrypted: Vec<String> = (0..10_001)
        .map(|_| format!("-{}", "9".repeat(100)))
        .collect();
    let raw: Vec<i64> = vec![i64::MAX; 10_001];
    let body =
        serde_json::to_vec(&json!({"encryptedValues": encrypted, "rawValues": raw})).unwrap();
    assert!(body.len() > 1_200_000);
    let r = app
        .call(request("PATCH", "/api/sketches/unknown").body(body))
        .await;
    // Read and parsed whole: the sketch is unknown, not the body too large.
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_route_table_used_for_labels_and_cors_agrees_with_the_routing() {
    let app = app();
    let paths = [
        "/api/clients",
        "/api/clients/",
        "/api/clients//",
        "/api/clients/a",
        "/api/clients/a/",
        "/api/clients/a/ping",
        "/api/clients/a/ping/",
        "/api/clients//ping",
        "/api/clients/a/activity",
        "/api/clients/a/b",
        "/api/sketches/a",
        "/api/sketches",
        "/api/campaigns",
        "/api/campaigns/a",
        "/api/campaigns/a/results",
        "/api/campaigns/a/results/3",
        "/api/campaigns/a/results/3/x",
        "/api/activity",
        "/api/stats",
        "/api/stats/x",
        "/api",
        "/",
    ];
    for path in paths {
        // No route has TRACE: 405 when some route has the path, 404 otherwise.
        let r = app.call(request("TRACE", path)).await;
        let known = classify(&warp::http::Method::TRACE, path).pattern.is_some();
        let expected = if known {
            StatusCode::METHOD_NOT_ALLOWED
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(r.status, expected, "{path}");
    }
}

// ---------------------------------------------------------------- campaigns

#[tokio::test]
async fn creating_a_campaign_applies_defaults_and_writes_times_in_utc_with_milliseconds() {
    let app = app();
    let r = app
        .call(private("POST", "/api/campaigns").json(&json!({
            "displayName": "Flu 2018",
            "email": "a@b.org",
            "notes": null,
            "startTime": "2018-05-11T15:00:00+01:00",
            "endTime": 1526515200000i64,
            "samplingRate": 0.5,
            "name": "ignored", "createTime": "2000-01-01T00:00:00Z", "started": true,
            "unknown": [1, {"x": 2}]
        })))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let body = r.json();
    let name = body["name"].as_str().unwrap().to_string();
    assert_eq!(name.len(), 36);
    assert_eq!(
        body,
        json!({
            "name": name, "createTime": "2018-05-10T12:00:00.000Z", "displayName": "Flu 2018",
            "email": "a@b.org", "vocabulary": {"queries": []},
            "startTime": "2018-05-11T14:00:00.000Z", "endTime": "2018-05-17T00:00:00.000Z",
            "delay": 0, "graceDelay": 0, "groupSize": 10, "samplingRate": 0.5,
            "collectEncrypted": true, "collectRaw": false,
            "started": false, "completed": false, "active": false
        })
    );
    let r = app
        .call(private("GET", &format!("/api/campaigns/{name}")))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), body);
}

#[tokio::test]
async fn invalid_campaigns_answer_400_with_every_field_error() {
    let app = app();
    let r = app
        .call(private("POST", "/api/campaigns").json(&json!({
            "displayName": " ", "groupSize": 1, "samplingRate": 2,
            "vocabulary": {"queries": [{"exact": "a,b"}, {}]}
        })))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.errors(),
        vec![
            "displayName: should not be empty",
            "groupSize: should be at least 2",
            "samplingRate: should be between 0 and 1",
            "vocabulary.queries.0.exact: should not contain a comma",
            "vocabulary.queries.1: should specify a query",
        ]
    );
    let r = app
        .call(
            private("POST", "/api/campaigns").body(r#"{"displayName": "x", "startTime": "soon"}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.errors(),
        vec![
            "body: invalid value: string \"soon\", expected an RFC 3339 time or an integer of \
             epoch milliseconds at line 1 column 40"
        ]
    );
}

#[tokio::test]
async fn started_completed_and_active_follow_the_services_clock() {
    let app = app();
    let c = app
        .create_campaign(
            json!({"displayName": "x", "startTime": "2018-05-10T13:00:00Z",
                                "endTime": "2018-05-10T15:00:00Z"}),
        )
        .await;
    let path = format!("/api/campaigns/{}", c["name"].as_str().unwrap());
    let flags = |v: &serde_json::Value| {
        (
            v["started"].clone(),
            v["completed"].clone(),
            v["active"].clone(),
        )
    };
    assert_eq!(flags(&c), (json!(false), json!(false), json!(false)));
    app.clock.set(utc("2018-05-10T13:00:00Z"));
    let r = app.call(private("GET", &path)).await;
    assert_eq!(flags(&r.json()), (json!(true), json!(false), json!(true)));
    app.clock.set(utc("2018-05-10T15:00:00Z"));
    let r = app.call(private("GET", &path)).await;
    assert_eq!(flags(&r.json()), (json!(true), json!(true), json!(false)));
}

#[tokio::test]
async fn replacing_a_campaign_keeps_name_and_create_time_and_applies_update_rules() {
    let app = app();
    let c = app
        .create_campaign(
            json!({"displayName": "Old", "startTime": "2018-05-09T00:00:00Z",
                                "vocabulary": {"queries": [{"exact": "flu"}]}}),
        )
        .await;
    let name = c["name"].as_str().unwrap();
    app.clock.set(utc("2018-05-11T12:00:00Z"));
    let path = format!("/api/campaigns/{name}");
    let mut edited = c.clone();
    edited["displayName"] = json!("New");
    edited["name"] = json!("other");
    edited["createTime"] = json!("2001-01-01T00:00:00.000Z");
    edited["vocabulary"] = json!({"queries": [{"exact": "flu"}, {"terms": ["a", "b"]}]});
    let r = app.call(private("PUT", &path).json(&edited)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let body = r.json();
    assert_eq!(body["name"], json!(name));
    assert_eq!(body["createTime"], json!("2018-05-10T12:00:00.000Z"));
    assert_eq!(body["displayName"], json!("New"));
    assert_eq!(
        body["vocabulary"],
        json!({"queries": [{"exact": "flu"}, {"terms": ["a", "b"]}]})
    );
    assert_eq!(body["active"], json!(true));
    // Once started, the start and group size are frozen and queries cannot be removed.
    let mut bad = body.clone();
    bad["groupSize"] = json!(5);
    bad["vocabulary"] = json!({"queries": []});
    let r = app.call(private("PUT", &path).json(&bad)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.errors(),
        vec![
            "groupSize: cannot be changed once the campaign has started",
            "vocabulary.queries: existing queries cannot be removed or changed"
        ]
    );
    let r = app
        .call(private("PUT", "/api/campaigns/nope").json(&json!({"displayName": "x"})))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn campaign_list_is_newest_first_with_vocabulary_emptied_and_filters_active() {
    let app = app();
    let older = app
        .create_campaign(
            json!({"displayName": "Active", "startTime": "2018-05-01T00:00:00Z",
                                "vocabulary": {"queries": [{"exact": "flu"}]}}),
        )
        .await;
    app.clock.advance(chrono::Duration::seconds(1));
    let newer = app
        .create_campaign(json!({"displayName": "Draft",
                                "vocabulary": {"queries": [{"exact": "cold"}]}}))
        .await;
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["displayName"].as_str().unwrap().to_string())
            .collect()
    };
    let r = app.call(private("GET", "/api/campaigns")).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.json();
    assert_eq!(names(&body), vec!["Draft", "Active"]);
    let mut expected_newer = newer.clone();
    expected_newer["vocabulary"] = json!({"queries": []});
    assert_eq!(body["campaigns"][0], expected_newer);
    assert_eq!(body["campaigns"][1]["vocabulary"], json!({"queries": []}));
    assert_eq!(body["campaigns"][1]["name"], older["name"]);
    let r = app.call(private("GET", "/api/campaigns?active=true")).await;
    assert_eq!(names(&r.json()), vec!["Active"]);
    let r = app
        .call(private("GET", "/api/campaigns?active=false"))
        .await;
    assert_eq!(names(&r.json()), vec!["Draft"]);
    let r = app
        .call(private("GET", "/api/campaigns?active=maybe"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.errors(), vec!["active: should be true or false"]);
}

#[tokio::test]
async fn deleting_an_active_campaign_needs_force_else_409() {
    let app = app();
    let c = app
        .create_campaign(json!({"displayName": "x", "startTime": "2018-05-01T00:00:00Z"}))
        .await;
    let path = format!("/api/campaigns/{}", c["name"].as_str().unwrap());
    let r = app.call(private("DELETE", &path)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.errors(),
        vec!["campaign is active; delete it with force=true"]
    );
    let r = app
        .call(private("DELETE", &format!("{path}?force=yes")))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.errors(), vec!["force: should be true or false"]);
    let r = app
        .call(private("DELETE", &format!("{path}?force=true")))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.call(private("GET", &path)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.call(private("DELETE", &path)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- results and export

/// A campaign (started 9 May, London) with results stored for days 0 and 1.
async fn campaign_with_results(app: &App) -> String {
    let c = app
        .create_campaign(json!({
            "displayName": "Flu", "startTime": "2018-05-09T00:00:00+01:00", "collectRaw": true,
            "vocabulary": {"queries": [{"exact": "flu"}, {"terms": ["flu", "fever"]},
                                       {"exact": "say \"hi\""}]}
        }))
        .await;
    let name = c["name"].as_str().unwrap().to_string();
    for (day, values, raw) in [(0, vec![6, 1, 5, 0], vec![7, 1, 5, 1]), (1, vec![], vec![])] {
        app.storage
            .put_aggregation(&pdd_server::domain::sketch::Aggregation {
                campaign_name: name.clone(),
                day,
                stats: pdd_server::domain::sketch::Stats {
                    active_count: 5,
                    submitted_count: 4,
                    decrypted_count: 3,
                },
                decrypted_values: values,
                raw_values: raw,
            })
            .await
            .unwrap();
    }
    name
}

use pdd_server::ports::Storage as _;

#[tokio::test]
async fn results_list_is_newest_day_first_with_values_emptied_and_a_day_has_its_values() {
    let app = app();
    let name = campaign_with_results(&app).await;
    let r = app
        .call(private("GET", &format!("/api/campaigns/{name}/results")))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let stats = json!({"activeCount": 5, "submittedCount": 4, "decryptedCount": 3});
    assert_eq!(
        r.json(),
        json!({"results": [
            {"name": format!("{name}-1"), "campaignName": name, "day": 1, "stats": stats,
             "decryptedValues": [], "rawValues": []},
            {"name": format!("{name}-0"), "campaignName": name, "day": 0, "stats": stats,
             "decryptedValues": [], "rawValues": []}
        ]})
    );
    let r = app
        .call(private("GET", &format!("/api/campaigns/{name}/results/0")))
        .await;
    assert_eq!(
        r.json(),
        json!({"name": format!("{name}-0"), "campaignName": name, "day": 0, "stats": stats,
               "decryptedValues": [6, 1, 5, 0], "rawValues": [7, 1, 5, 1]})
    );
    let r = app
        .call(private("GET", &format!("/api/campaigns/{name}/results/7")))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .call(private(
            "GET",
            &format!("/api/campaigns/{name}/results/first"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.errors(), vec!["day: should be an integer"]);
    let r = app
        .call(private("GET", "/api/campaigns/nope/results"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn export_as_csv_quotes_per_rfc_4180_and_json_is_the_default() {
    let app = app();
    let name = campaign_with_results(&app).await;
    let csv = "day,query,count\n\
               2018-05-10,_total,0\n\
               2018-05-09,_total,6\n\
               2018-05-09,flu,1\n\
               2018-05-09,\"flu, fever\",5\n";
    for (accept, content_type) in [
        ("text/csv", "text/csv; charset=utf-8"),
        ("application/csv", "application/csv; charset=utf-8"),
        (
            "application/json;q=0.5, text/csv",
            "text/csv; charset=utf-8",
        ),
    ] {
        let r = app
            .call(
                private("GET", &format!("/api/campaigns/{name}/results?export=1"))
                    .header("accept", accept),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{accept}");
        assert_eq!(r.header("content-type"), Some(content_type));
        assert_eq!(r.text(), csv, "{accept}");
    }
    let rows = json!([
        {"date": "2018-05-10", "query": "_total", "count": 0},
        {"date": "2018-05-09", "query": "_total", "count": 6},
        {"date": "2018-05-09", "query": "flu", "count": 1},
        {"date": "2018-05-09", "query": "flu, fever", "count": 5}
    ]);
    for accept in [None, Some("application/json"), Some("*/*")] {
        let mut req = private("GET", &format!("/api/campaigns/{name}/results?export=true"));
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let r = app.call(req).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json(), rows, "{accept:?}");
    }
    let r = app
        .call(
            private("GET", &format!("/api/campaigns/{name}/results/0?export=1"))
                .header("accept", "text/csv"),
        )
        .await;
    assert_eq!(
        r.text(),
        "day,query,count\n2018-05-09,_total,6\n2018-05-09,flu,1\n2018-05-09,\"flu, fever\",5\n"
    );
}

#[tokio::test]
async fn export_in_an_unoffered_format_is_406_and_a_bad_export_flag_is_400() {
    let app = app();
    let name = campaign_with_results(&app).await;
    let r = app
        .call(
            private("GET", &format!("/api/campaigns/{name}/results?export=1"))
                .header("accept", "application/xml"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        r.errors(),
        vec!["export is available as text/csv, application/csv or application/json"]
    );
    let r = app
        .call(private(
            "GET",
            &format!("/api/campaigns/{name}/results?export=yes"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.errors(), vec!["export: should be 1, true, 0 or false"]);
    // export=0 is the plain view.
    let r = app
        .call(private(
            "GET",
            &format!("/api/campaigns/{name}/results?export=0"),
        ))
        .await;
    assert_eq!(r.json()["results"].as_array().unwrap().len(), 2);
}

// ---------------------------------------------------------------- clients, activity, stats

#[tokio::test]
async fn client_list_pages_newest_first_with_a_next_page_token() {
    let app = app();
    let mut names = Vec::new();
    for key in ["01", "02", "03"] {
        names.push(app.register(key).await);
        app.clock.advance(chrono::Duration::seconds(1));
    }
    let listed = |v: &serde_json::Value| -> Vec<String> {
        v["clients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    let r = app.call(private("GET", "/api/clients?limit=2")).await;
    assert_eq!(r.status, StatusCode::OK);
    let page = r.json();
    assert_eq!(listed(&page), vec![names[2].clone(), names[1].clone()]);
    assert_eq!(
        page["clients"][0],
        json!({"name": names[2], "createTime": "2018-05-10T12:00:02.000Z",
               "publicKey": "03", "browser": "firefox"})
    );
    let token = page["nextPageToken"].as_str().unwrap();
    let r = app
        .call(private(
            "GET",
            &format!("/api/clients?limit=2&pageToken={}", urlencode(token)),
        ))
        .await;
    let page = r.json();
    assert_eq!(listed(&page), vec![names[0].clone()]);
    assert_eq!(page.get("nextPageToken"), None);
    let r = app.call(private("GET", "/api/clients")).await;
    assert_eq!(listed(&r.json()).len(), 3);
    for bad in ["0", "10001", "ten", "-1"] {
        let r = app
            .call(private("GET", &format!("/api/clients?limit={bad}")))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.errors(), vec!["limit: should be between 1 and 10000"]);
    }
    let r = app
        .call(private("GET", "/api/clients?pageToken=junk"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.errors(), vec!["pageToken: is not a valid page token"]);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_client_shows_what_its_latest_ping_told() {
    let app = app();
    let name = app.register("04ab").await;
    let path = format!("/api/clients/{name}");
    let r = app.call(private("GET", &path)).await;
    assert_eq!(
        r.json(),
        json!({"name": name, "createTime": "2018-05-10T12:00:00.000Z", "publicKey": "04ab",
               "browser": "firefox"})
    );
    app.call(
        request("POST", &format!("{path}/ping"))
            .json(&json!({"extensionVersion": "1.0", "timezone": "Europe/Paris"})),
    )
    .await;
    app.clock.advance(chrono::Duration::minutes(1));
    app.call(request("POST", &format!("{path}/ping")).json(&json!({"extensionVersion": "1.1"})))
        .await;
    let r = app.call(private("GET", &path)).await;
    assert_eq!(
        r.json(),
        json!({"name": name, "createTime": "2018-05-10T12:00:00.000Z", "publicKey": "04ab",
               "browser": "firefox", "countryCode": "GB", "extensionVersion": "1.1"})
    );
    let r = app.call(private("GET", "/api/clients/nobody")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn activity_lists_pings_oldest_first_and_tail_keeps_the_last_days() {
    let app = app();
    let a = app.register("0a").await;
    let b = app.register("0b").await;
    // 10 May 12:00 UTC, then 11 May 08:00 UTC (both London days).
    app.call(request("GET", &format!("/api/clients/{a}/ping")))
        .await;
    app.clock.set(utc("2018-05-11T08:00:00Z"));
    app.call(request("POST", &format!("/api/clients/{b}/ping")).json(&json!({"timezone": "UTC"})))
        .await;
    app.call(request("GET", &format!("/api/clients/{a}/ping")))
        .await;
    let r = app.call(private("GET", "/api/activity")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"days": [
            {"clientName": a, "time": "2018-05-10T12:00:00.000Z", "countryCode": "GB"},
            {"clientName": a, "time": "2018-05-11T08:00:00.000Z", "countryCode": "GB"},
            {"clientName": b, "time": "2018-05-11T08:00:00.000Z", "countryCode": "GB",
             "timezone": "UTC"}
        ]})
    );
    let r = app.call(private("GET", "/api/activity?tail=1")).await;
    assert_eq!(r.json()["days"].as_array().unwrap().len(), 2);
    let r = app
        .call(private("GET", &format!("/api/clients/{a}/activity?tail=2")))
        .await;
    assert_eq!(r.json()["days"].as_array().unwrap().len(), 2);
    let r = app
        .call(private("GET", &format!("/api/clients/{a}/activity?tail=1")))
        .await;
    assert_eq!(
        r.json(),
        json!({"days": [{"clientName": a, "time": "2018-05-11T08:00:00.000Z", "countryCode": "GB"}]})
    );
    let r = app.call(private("GET", "/api/activity?tail=x")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.errors(), vec!["tail: should be a positive integer"]);
    let r = app.call(private("GET", "/api/activity?tail=0")).await;
    assert_eq!(r.errors(), vec!["tail: should be at least 1"]);
    let r = app
        .call(private("GET", "/api/clients/nobody/activity"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn stats_count_active_campaigns_and_registered_clients() {
    let app = app();
    app.create_campaign(json!({"displayName": "a", "startTime": "2018-05-01T00:00:00Z"}))
        .await;
    app.create_campaign(
        json!({"displayName": "b", "startTime": "2018-05-01T00:00:00Z",
                               "endTime": "2018-05-02T00:00:00Z"}),
    )
    .await;
    app.create_campaign(json!({"displayName": "c"})).await;
    app.register("01").await;
    app.register("02").await;
    let r = app.call(private("GET", "/api/stats")).await;
    assert_eq!(r.json(), json!({"activeCampaigns": 1, "activeClients": 2}));
    let s = app.registry.snapshot();
    assert_eq!(s.get("pdd_clients"), Some(&2.0));
    assert_eq!(s.get("pdd_active_campaigns"), Some(&1.0));
}

// ---------------------------------------------------------------- admin

#[tokio::test]
async fn admin_health_ping_and_server_info() {
    let app = app();
    let r = app.admin(request("GET", "/health")).await;
    assert_eq!((r.status, r.text()), (StatusCode::OK, "OK".to_string()));
    let r = app.admin(request("GET", "/admin/ping")).await;
    assert_eq!((r.status, r.text()), (StatusCode::OK, "pong".to_string()));
    app.clock.advance(chrono::Duration::seconds(90));
    let r = app.admin(request("GET", "/admin/server_info")).await;
    assert_eq!(
        r.json(),
        json!({"version": "1.2.3", "build": "abc1234", "startTime": "2018-05-10T12:00:00.000Z",
               "uptimeSeconds": 90, "storage": "memory", "geocoder": "map",
               "metrics": "registry"})
    );
}

#[tokio::test]
async fn admin_metrics_are_served_as_flat_json_and_prometheus_text() {
    let app = app();
    let name = app.register("04ab").await;
    app.call(request("GET", &format!("/api/clients/{name}/ping")))
        .await;
    let r = app.admin(request("GET", "/admin/metrics.json")).await;
    assert_eq!(r.status, StatusCode::OK);
    let m = r.json();
    assert_eq!(m["pdd_pings_total"], json!(1.0));
    assert_eq!(m["pdd_clients_registered_total"], json!(1.0));
    assert_eq!(
        m[r#"pdd_http_requests_total{route="/api/clients/{name}/ping",method="GET",status="200"}"#],
        json!(1.0)
    );
    assert!(m.as_object().unwrap().values().all(|v| v.is_number()));
    let r = app.admin(request("GET", "/metrics")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = r.text();
    assert!(text.contains("# TYPE pdd_http_requests_total counter\n"));
    assert!(text.contains("# TYPE pdd_http_request_duration_seconds histogram\n"));
    assert!(text.contains(
        "pdd_http_requests_total{route=\"/api/clients\",method=\"POST\",status=\"201\"} 1\n"
    ));
    assert!(text.contains(
        "pdd_http_request_duration_seconds_count{route=\"/api/clients\",method=\"POST\"} 1\n"
    ));
    assert!(text.contains(
        "pdd_http_request_duration_seconds_bucket{route=\"/api/clients\",method=\"POST\",le=\"+Inf\"} 1\n"
    ));
    let samples = parse_prometheus(&text).unwrap();
    let find = |name: &str, route: &str| {
        samples
            .iter()
            .find(|s| s.name == name && s.label("route") == Some(route))
            .map(|s| s.value)
    };
    assert_eq!(
        find("pdd_http_requests_total", "/api/clients/{name}/ping"),
        Some(1.0)
    );
    assert_eq!(
        find("pdd_http_request_duration_seconds_count", "/api/clients"),
        Some(1.0)
    );
    assert_eq!(
        samples
            .iter()
            .filter(|s| s.name == "pdd_http_request_duration_seconds_bucket"
                && s.label("route") == Some("/api/clients"))
            .count(),
        17
    );
}

#[test]
fn the_prometheus_checker_refuses_malformed_text() {
    for bad in [
        "pdd_x 1\n",
        "# TYPE x counter\nx{a=\"b\" 1\n",
        "# TYPE x counter\nx{a=\"b\\q\"} 1\n",
        "# TYPE x counter\nx 1 2 3\n",
        "# TYPE x histogram\nx_bucket{le=\"1\"} 2\nx_bucket{le=\"+Inf\"} 1\nx_count 1\n",
        "# TYPE x histogram\nx_bucket{le=\"1\"} 1\nx_count 1\n",
    ] {
        assert!(parse_prometheus(bad).is_err(), "{bad}");
    }
    let ok =
        parse_prometheus("# HELP x h\n# TYPE x counter\nx{r=\"/a/{n}\",q=\"\\\"\"} 1\n").unwrap();
    assert_eq!(ok[0].label("r"), Some("/a/{n}"));
    assert_eq!(ok[0].label("q"), Some("\""));
}

#[tokio::test]
async fn admin_jobs_run_as_of_the_given_time_and_report_what_they_did() {
    let app = app();
    let r = app
        .admin(request("POST", "/admin/jobs/prune-clients"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"pruned": 0}));
    app.register("01").await;
    // As of 20 days later the client, never seen, is pruned.
    let r = app
        .admin(request(
            "POST",
            "/admin/jobs/prune-clients?at=2018-05-30T12:00:00Z",
        ))
        .await;
    assert_eq!(r.json(), json!({"pruned": 1}));
    let r = app
        .admin(request("POST", "/admin/jobs/collect-garbage"))
        .await;
    assert_eq!(r.json(), json!({"orphans": 0, "activity": 0}));
    let r = app
        .admin(request("POST", "/admin/jobs/create-sketches"))
        .await;
    assert_eq!(r.json(), json!({}));
    let r = app.admin(request("POST", "/admin/jobs/make-coffee")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.errors(),
        vec!["unknown job; jobs are aggregate-sketches, create-sketches, prune-clients, collect-garbage"]
    );
    // A `+` offset typed unencoded in the URL arrives as a space: still understood.
    let r = app
        .admin(request(
            "POST",
            "/admin/jobs/prune-clients?at=2018-05-30T13:00:00+01:00",
        ))
        .await;
    assert_eq!(r.json(), json!({"pruned": 0}));
    let r = app
        .admin(request("POST", "/admin/jobs/prune-clients?at=tomorrow"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.errors(),
        vec!["at: should be an RFC 3339 time or epoch milliseconds"]
    );
    let r = app.admin(request("GET", "/admin/jobs/prune-clients")).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("allow"), Some("POST"));
    assert_eq!(r.errors(), vec!["method not allowed"]);
    let r = app.admin(request("GET", "/api/stats")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.errors(), vec!["not found"]);
    app.storage.set_down(true);
    let r = app
        .admin(request("POST", "/admin/jobs/prune-clients"))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let s = app.registry.snapshot();
    assert_eq!(
        s.get(r#"pdd_job_runs_total{job="prune-clients",status="ok"}"#),
        Some(&3.0)
    );
    assert_eq!(
        s.get(r#"pdd_job_runs_total{job="prune-clients",status="failed"}"#),
        Some(&1.0)
    );
}
