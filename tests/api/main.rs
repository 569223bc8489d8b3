//! Route tests of the public, private and admin HTTP interfaces through `warp::test`.

mod helpers;

use serde_json::json;
use warp::http::StatusCode;

use helpers::*;

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
