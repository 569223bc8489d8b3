//! Storage that went away or fails: opaque 503 and 500 answers on every interface, and the
//! cause in the logs only.

use serde_json::json;
use warp::http::StatusCode;

use crate::helpers::*;

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
