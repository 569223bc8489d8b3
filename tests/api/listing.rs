//! The private API's views of clients: the paged client list, a client's details, activity
//! and stats.

use serde_json::json;
use warp::http::StatusCode;

use crate::helpers::*;

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

/// Registers `n` clients through the service, one millisecond apart; their names newest first.
async fn many_clients(app: &App, n: usize) -> Vec<String> {
    let mut names = Vec::new();
    for i in 0..n {
        let input = pdd_server::domain::client::ClientInput {
            public_key: Some(format!("{i:04x}")),
            browser: Some("chrome".into()),
            external_name: None,
        };
        names.push(app.services.clients.register(input).await.unwrap().name);
        app.clock.advance(chrono::Duration::milliseconds(1));
    }
    names.reverse();
    names
}

#[tokio::test]
async fn the_dashboards_client_list_without_limit_is_every_client_newest_first() {
    // The dashboard calls GET /api/clients without `limit` and reads only `clients`: with 1,004
    // clients it showed 1,000.
    let app = app();
    let names = many_clients(&app, 1004).await;
    let r = app.call(private("GET", "/api/clients")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body.as_object().unwrap().len(), 1, "only `clients`");
    let listed: Vec<&str> = body["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, names);
    assert_eq!(
        body["clients"][1003],
        json!({"name": names[1003], "createTime": "2018-05-10T12:00:00.000Z",
               "publicKey": "0000", "browser": "chrome"})
    );
    // With `limit`, one page as before.
    let r = app.call(private("GET", "/api/clients?limit=1000")).await;
    let page = r.json();
    assert_eq!(page["clients"].as_array().unwrap().len(), 1000);
    let token = page["nextPageToken"].as_str().unwrap().to_string();
    // Without `limit` but with a token: every client after it.
    let r = app
        .call(private(
            "GET",
            &format!("/api/clients?pageToken={}", urlencode(&token)),
        ))
        .await;
    let rest = r.json();
    assert_eq!(rest["clients"].as_array().unwrap().len(), 4);
    assert_eq!(rest["clients"][0]["name"], names[1000]);
    assert_eq!(rest.get("nextPageToken"), None);
}

#[tokio::test]
async fn an_empty_client_list_is_an_empty_array() {
    let app = app();
    let r = app.call(private("GET", "/api/clients")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), r#"{"clients":[]}"#);
}

#[tokio::test]
async fn a_storage_failure_in_the_middle_of_the_client_list_aborts_the_answer() {
    use hyper::body::Body as _;
    let app = app();
    many_clients(&app, 2500).await;
    // The first page fails: an ordinary error answer.
    app.storage.fail_client_lists_after(0);
    let r = app.call(private("GET", "/api/clients")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.errors(), vec!["service unavailable, try again later"]);
    // The second page fails: the answer has begun, so its body ends in an error, never in a
    // valid-looking document.
    app.storage.fail_client_lists_after(1);
    let res = private("GET", "/api/clients")
        .filter(&app.api)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body();
    let mut received = Vec::new();
    let error = loop {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            Some(Ok(frame)) => received.extend_from_slice(frame.data_ref().unwrap()),
            Some(Err(e)) => break e,
            None => panic!("the body ended normally after a failure"),
        }
    };
    assert!(received.starts_with(br#"{"clients":[{"name":""#));
    assert!(serde_json::from_slice::<serde_json::Value>(&received).is_err());
    assert!(!error.to_string().is_empty());
}
