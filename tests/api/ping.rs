//! A client's ping: the active vocabulary, the next ping time, the activity it records and
//! the country of its address.

use serde_json::json;
use warp::http::StatusCode;

use crate::helpers::*;

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

#[tokio::test]
async fn a_ping_whose_body_is_null_is_a_ping_without_fields() {
    // Found by Schemathesis: `null` means absent, also for a whole optional body.
    let app = app();
    let name = app.register("04ab").await;
    let r = app
        .call(request("POST", &format!("/api/clients/{name}/ping")).body("null"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let details = app.services.clients.get(&name).await.unwrap();
    let latest = details.latest_activity.unwrap();
    assert_eq!((latest.extension_version, latest.timezone), (None, None));
}
