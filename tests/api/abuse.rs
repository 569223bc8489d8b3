//! Hostile input: rate limits on registration and ping, bounded arrays, oversized and deeply
//! nested bodies.

use serde_json::json;
use warp::http::StatusCode;

use crate::helpers::*;
use pdd_server::adapters::http::{Limits, Rate};

fn limited(register: Rate, ping: Rate) -> App {
    app_with(Limits {
        register_rate: register,
        ping_rate: ping,
        ..Limits::default()
    })
}

fn from(addr: &str, method: &str, path: &str) -> warp::test::RequestBuilder {
    warp::test::request()
        .method(method)
        .path(path)
        .remote_addr(addr.parse().unwrap())
}

fn registration() -> serde_json::Value {
    json!({"publicKey": "04ab", "browser": "firefox"})
}

#[tokio::test]
async fn registrations_beyond_the_burst_answer_429_with_retry_after_and_cors() {
    let app = limited(
        Rate {
            per_minute: 1,
            burst: 2,
        },
        Rate::OFF,
    );
    for _ in 0..2 {
        let r = app
            .call(request("POST", "/api/clients").json(&registration()))
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let r = app
        .call(
            request("POST", "/api/clients")
                .header("origin", "moz-extension://abc")
                .json(&registration()),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // One registration a minute: the next one in (just under) 60 s, rounded up.
    assert_eq!(r.header("retry-after"), Some("60"));
    assert_eq!(
        r.errors(),
        vec!["too many requests from this address: retry in 60 s"]
    );
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("moz-extension://abc")
    );
    // Refused before anything was stored.
    assert_eq!(
        app.services
            .clients
            .list(None, None)
            .await
            .unwrap()
            .clients
            .len(),
        2
    );
    // Another address has its own allowance.
    let r = app
        .call(from("203.0.113.50:1234", "POST", "/api/clients").json(&registration()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let s = app.registry.snapshot();
    assert_eq!(
        s.get(r#"pdd_http_requests_total{route="/api/clients",method="POST",status="429"}"#),
        Some(&1.0)
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_bucket() {
    let app = limited(
        Rate {
            per_minute: 1,
            burst: 1,
        },
        Rate::OFF,
    );
    let via_proxy = |client: &str| {
        from(PROXY, "POST", "/api/clients")
            .header("x-forwarded-for", client)
            .json(&registration())
    };
    assert_eq!(
        app.call(via_proxy("203.0.113.1")).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.call(via_proxy("203.0.113.2")).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.call(via_proxy("203.0.113.1")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A spoofed left part does not buy a new bucket: the right-most untrusted address counts.
    assert_eq!(
        app.call(via_proxy("192.0.2.99, 203.0.113.2")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // An IPv6 client counts by its /64.
    assert_eq!(
        app.call(via_proxy("2001:db8:0:1::1")).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.call(via_proxy("2001:db8:0:1::2")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn get_and_post_pings_share_one_allowance_per_address_and_other_routes_are_not_limited() {
    let app = limited(
        Rate::OFF,
        Rate {
            per_minute: 2,
            burst: 3,
        },
    );
    let name = app.register("04ab").await;
    let ping = format!("/api/clients/{name}/ping");
    assert_eq!(app.call(request("GET", &ping)).await.status, StatusCode::OK);
    assert_eq!(
        app.call(request("POST", &ping)).await.status,
        StatusCode::OK
    );
    // An unknown client's ping counts too (it is checked before anything is looked up).
    assert_eq!(
        app.call(request("GET", "/api/clients/nobody/ping"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = app.call(request("POST", &ping)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.header("retry-after"), Some("30"));
    let r = app.call(request("GET", &ping)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Registration, client updates and submissions are not limited by the ping allowance.
    assert_eq!(
        app.call(request("PATCH", &format!("/api/clients/{name}")).json(&json!({})))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.call(request("PATCH", "/api/sketches/none").json(&json!({})))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Only the two pings that got through were recorded.
    let activity = app
        .services
        .clients
        .activity(Some(&name), None)
        .await
        .unwrap();
    assert_eq!(activity.len(), 2);
}

#[tokio::test]
async fn value_arrays_longer_than_any_vocabulary_are_refused_while_read() {
    let app = app();
    let too_many: Vec<i64> = vec![0; 10_002];
    let r = app
        .call(request("PATCH", "/api/sketches/unknown").json(&json!({"rawValues": too_many})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let errors = r.errors();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("body: rawValues: should have at most 10001 elements at line 1"),
        "{errors:?}"
    );
    // The longest array of tiny elements the body limit lets through is still refused.
    let body = format!(
        r#"{{"encryptedValues": [{}]}}"#,
        vec![r#""""#; 600_000].join(",")
    );
    assert!(body.len() < Limits::default().public_body_bytes as usize);
    let r = app
        .call(request("PATCH", "/api/sketches/unknown").body(body))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.errors()[0].starts_with("body: encryptedValues: should have at most 10001"));
    let queries = vec![json!({"exact": "q"}); 10_001];
    let r = app
        .call(
            private("POST", "/api/campaigns")
                .json(&json!({"displayName": "x", "vocabulary": {"queries": queries}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.errors()[0].starts_with("body: vocabulary.queries: should have at most 10000 elements"),
        "{:?}",
        r.errors()
    );
}

#[tokio::test]
async fn bodies_nested_too_deep_are_refused_on_every_body_route() {
    let app = app();
    let name = app.register("04ab").await;
    let deep = format!(r#"{{"x": {}{}}}"#, "[".repeat(40), "]".repeat(40));
    for (method, path, private_api) in [
        ("POST", "/api/clients".to_string(), false),
        ("PATCH", format!("/api/clients/{name}"), false),
        ("POST", format!("/api/clients/{name}/ping"), false),
        ("PATCH", "/api/sketches/s".to_string(), false),
        ("POST", "/api/campaigns".to_string(), true),
        ("PUT", "/api/campaigns/c".to_string(), true),
    ] {
        let req = if private_api {
            private(method, &path)
        } else {
            request(method, &path)
        };
        let r = app.call(req.body(deep.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{method} {path}");
        assert_eq!(
            r.errors(),
            vec!["body: nested deeper than 32 levels"],
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn arrays_of_fields_in_place_of_objects_are_refused() {
    let app = app();
    let r = app
        .call(private("POST", "/api/campaigns").body(r#"["Flu", "a@b.org"]"#))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.errors(),
        vec!["body: invalid type: sequence, expected a JSON object at line 1 column 0"]
    );
    let r = app
        .call(request("POST", "/api/clients").body(r#"["04ab", "firefox"]"#))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .call(
            private("POST", "/api/campaigns")
                .body(r#"{"displayName": "x", "vocabulary": {"queries": [["flu"]]}}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.services.campaigns.list(None).await.unwrap().len(), 0);
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_count_against_one_budget_per_address() {
    let app = app_with(Limits {
        unknown_route_rate: Rate {
            per_minute: 1,
            burst: 3,
        },
        ..Limits::unlimited_rates()
    });
    for path in ["/nothing", "/api/nothing", "/api/clients/a/b/c"] {
        let r = app.call(from("192.0.2.9:1000", "GET", path)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = app.call(from("192.0.2.9:1000", "GET", "/nothing")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.header("retry-after"), Some("60"));
    assert_eq!(
        r.errors(),
        vec!["too many requests from this address: retry in 60 s"]
    );
    // A wrong method on a known path too; it has no Allow header then.
    let r = app
        .call(from("192.0.2.9:1000", "DELETE", "/api/clients"))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.header("allow"), None);
    // Known routes answer as usual, a 404 of theirs is not counted, and another address has
    // its own budget.
    let r = app
        .call(from("192.0.2.9:1000", "GET", "/api/clients/nobody/ping"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .call(from("192.0.2.10:1000", "DELETE", "/api/clients"))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}
