//! Logs and metrics: one log line per request that never names tokens or bodies, the
//! request counters, and the metrics served as flat JSON and Prometheus text.

use serde_json::json;
use warp::http::StatusCode;

use crate::helpers::*;

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
        // The same histogram rules with `_sum` present, so that each rule alone refuses.
        "# TYPE x histogram\nx_bucket{le=\"1\"} 2\nx_bucket{le=\"+Inf\"} 1\nx_sum 1\nx_count 1\n",
        "# TYPE x histogram\nx_bucket{le=\"1\"} 1\nx_sum 1\nx_count 1\n",
        "# TYPE x histogram\nx_bucket{le=\"1\"} 1\nx_bucket{le=\"+Inf\"} 1\nx_sum 1\nx_count 2\n",
        "# TYPE x counter\n# TYPE x counter\nx 1\n",
        "# TYPE x counter\nx 1\n# TYPE y counter\ny 1\nx{a=\"b\"} 2\n",
        "# TYPE x counter\nx 1\nx 2\n",
        "# TYPE x counter\nx one\n",
        "# TYPE x counter\nx{1a=\"b\"} 1\n",
    ] {
        assert!(parse_prometheus(bad).is_err(), "{bad}");
    }
    let ok =
        parse_prometheus("# HELP x h\n# TYPE x counter\nx{r=\"/a/{n}\",q=\"\\\"\"} 1\n").unwrap();
    assert_eq!(ok[0].label("r"), Some("/a/{n}"));
    assert_eq!(ok[0].label("q"), Some("\""));
    let histogram = parse_prometheus(
        "# TYPE h histogram\nh_bucket{r=\"a\",le=\"0.5\"} 1\nh_bucket{r=\"a\",le=\"+Inf\"} 2\n\
         h_sum{r=\"a\"} 0.75\nh_count{r=\"a\"} 2\n",
    )
    .unwrap();
    let lines: Vec<(&str, Option<&str>, f64)> = histogram
        .iter()
        .map(|s| (s.name.as_str(), s.label("le"), s.value))
        .collect();
    assert_eq!(
        lines,
        [
            ("h_bucket", Some("0.5"), 1.0),
            ("h_bucket", Some("+Inf"), 2.0),
            ("h_sum", None, 0.75),
            ("h_count", None, 2.0)
        ]
    );
    assert!(histogram.iter().all(|s| s.label("r") == Some("a")));
}
