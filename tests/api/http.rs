//! What every route shares: CORS, the access token, 404 and 405 answers, body limits and the
//! route table.

use serde_json::json;
use warp::http::StatusCode;

use crate::helpers::*;
use pdd_server::adapters::http::{classify, Limits};

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

// ---------------------------------------------------------------- auth, 404, 405, 413, limits

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

// ---------------------------------------------------------------- compression

#[tokio::test]
async fn answers_over_1_kib_are_gzipped_when_the_client_accepts_it() {
    use std::io::Read;
    let app = app();
    let queries: Vec<_> = (0..100)
        .map(|i| json!({"exact": format!("a rather long query number {i}")}))
        .collect();
    let name = app
        .create_campaign(json!({
            "displayName": "Flu", "email": "a@b.org", "vocabulary": {"queries": queries},
            "startTime": "2018-05-11T14:00:00.000Z", "endTime": "2018-05-17T00:00:00.000Z",
            "groupSize": 10, "samplingRate": 0.5
        }))
        .await["name"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/campaigns/{name}");
    let plain = app.call(private("GET", &path)).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert!(plain.body.len() > 1024);
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));

    let zipped = app
        .call(private("GET", &path).header("accept-encoding", "br;q=1, gzip;q=0.8"))
        .await;
    assert_eq!(zipped.status, StatusCode::OK);
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert_eq!(zipped.header("vary"), Some("Accept-Encoding"));
    assert!(
        zipped.body.len() < plain.body.len() / 2,
        "{}",
        zipped.body.len()
    );
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&zipped.body[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain.body);

    // Refused gzip, and small answers, go as they are.
    let refused = app
        .call(private("GET", &path).header("accept-encoding", "gzip;q=0"))
        .await;
    assert_eq!(refused.header("content-encoding"), None);
    assert_eq!(refused.body, plain.body);
    let small = app
        .call(request("GET", "/api/clients/nobody/ping").header("accept-encoding", "gzip"))
        .await;
    assert_eq!(small.header("content-encoding"), None);
    assert_eq!(small.header("vary"), Some("Origin"));
}
