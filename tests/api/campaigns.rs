//! Campaigns through the private API: defaults, validation, status, replacement, listing
//! and deletion.

use serde_json::json;
use warp::http::StatusCode;

use crate::helpers::*;

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
            "maxCount": 10000, "minDecryptedCount": 0,
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

#[tokio::test]
async fn the_dashboards_stop_sends_the_whole_campaign_with_a_late_end_and_stops_it_now() {
    // "Stop campaign" PUTs the campaign as the dashboard holds it, with "endTime" set to the
    // browser's clock cut to the second: it always arrives a little in the past.
    let app = app();
    let created = app
        .create_campaign(json!({
            "displayName": "Flu 2018", "email": "a@b.org", "startTime": "2018-05-01T00:00:00Z",
            "groupSize": 2, "vocabulary": {"queries": [{"exact": "flu"}, {"terms": ["flu", "fever"]}]}
        }))
        .await;
    let name = created["name"].as_str().unwrap().to_string();
    app.clock.set(utc("2018-05-10T22:09:10.734Z"));
    let r = app
        .call(private("GET", &format!("/api/campaigns/{name}")))
        .await;
    let mut whole = r.json();
    assert_eq!(whole["active"], true);
    whole["endTime"] = json!("2018-05-10T22:09:10+00:00");
    let r = app
        .call(private("PUT", &format!("/api/campaigns/{name}")).json(&whole))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let stopped = r.json();
    assert_eq!(stopped["endTime"], "2018-05-10T22:09:10.734Z");
    assert_eq!(
        (
            &stopped["started"],
            &stopped["completed"],
            &stopped["active"]
        ),
        (&json!(true), &json!(true), &json!(false))
    );
    let stored = app.services.campaigns.get(&name).await.unwrap();
    assert_eq!(
        stored.campaign.end_time,
        Some(utc("2018-05-10T22:09:10.734Z"))
    );
}

#[tokio::test]
async fn an_end_more_than_ten_minutes_in_the_past_is_still_refused() {
    let app = app();
    let created = app
        .create_campaign(json!({"displayName": "Flu", "startTime": "2018-05-01T00:00:00Z"}))
        .await;
    let name = created["name"].as_str().unwrap().to_string();
    let mut whole = created.clone();
    // Now is 12:00:00.000: ten minutes exactly is taken as now, a millisecond more is not.
    whole["endTime"] = json!("2018-05-10T11:49:59.999Z");
    let r = app
        .call(private("PUT", &format!("/api/campaigns/{name}")).json(&whole))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.errors(), vec!["endTime: cannot be set in the past"]);
    whole["endTime"] = json!("2018-05-10T11:50:00Z");
    let r = app
        .call(private("PUT", &format!("/api/campaigns/{name}")).json(&whole))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["endTime"], "2018-05-10T12:00:00.000Z");
}
