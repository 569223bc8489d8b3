//! The admin interface: health, server info and the jobs run on demand.

use serde_json::json;
use warp::http::StatusCode;

use crate::helpers::*;

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
    // Nothing to delete; the clients of the 60 days whose activity is kept counted (none).
    assert_eq!(
        r.json(),
        json!({"orphans": 0, "activity": 0, "clientDays": 60, "jobRuns": 0})
    );
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
    for at in ["8000000000000000", "-1", "0000-01-01T00:00:00Z"] {
        let r = app
            .admin(request(
                "POST",
                &format!("/admin/jobs/prune-clients?at={at}"),
            ))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{at}");
        assert_eq!(
            r.errors(),
            vec!["at: should be between 1970-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z"]
        );
    }
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
