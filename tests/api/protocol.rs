//! The protocol end to end: sketches commanded by ping, submitted once, aggregated and
//! exported, and the collection window.

use serde_json::json;
use warp::http::StatusCode;

use crate::helpers::*;

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
               "stats": {"activeCount": 2, "submittedCount": 2, "decryptedCount": 2,
                         "rejectedCount": 0},
               "decryptedValues": [6, 1, 5], "rawValues": [], "withheld": false})
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

#[tokio::test]
async fn a_rejected_group_is_logged_with_campaign_day_and_group_and_never_a_value() {
    let app = app();
    let logs = capture_logs();
    let campaign = app
        .create_campaign(json!({
            "displayName": "Flu", "startTime": "2018-05-09T00:00:00+01:00", "groupSize": 2,
            "vocabulary": {"queries": [{"exact": "flu"}]}
        }))
        .await;
    let cname = campaign["name"].as_str().unwrap().to_string();
    let mut clients = Vec::new();
    for key in ["04aa", "04bb"] {
        let c = app.register(key).await;
        app.call(request("GET", &format!("/api/clients/{c}/ping")))
            .await;
        clients.push(c);
    }
    let r = app
        .admin(request(
            "POST",
            "/admin/jobs/create-sketches?at=2018-05-11T01:00:00%2B01:00",
        ))
        .await;
    assert_eq!(r.json(), json!({"created": 2, "groups": 1}));
    app.clock.set(utc("2018-05-11T08:00:00Z"));
    for (c, total) in clients.iter().zip(["4611686018427387905", "0"]) {
        let r = app
            .call(request("GET", &format!("/api/clients/{c}/ping")))
            .await;
        let sketch = r.json()["submit"][0]["sketchName"]
            .as_str()
            .unwrap()
            .to_string();
        let r = app
            .call(
                request("PATCH", &format!("/api/sketches/{sketch}"))
                    .json(&json!({"encryptedValues": [total, "0"], "rawValues": [0, 0]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
    let r = app
        .admin(request(
            "POST",
            "/admin/jobs/aggregate-sketches?at=2018-05-11T23:30:00Z",
        ))
        .await;
    assert_eq!(r.json(), json!({"aggregated": 1}));
    let r = app
        .call(private("GET", &format!("/api/campaigns/{cname}/results/1")))
        .await;
    assert_eq!(
        r.json()["stats"],
        json!({"activeCount": 2, "submittedCount": 2, "decryptedCount": 0, "rejectedCount": 2})
    );
    assert_eq!(r.json()["decryptedValues"], json!([]));
    let text = logs.contents();
    let warning: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("group rejected"))
        .collect();
    assert_eq!(warning.len(), 1, "{text}");
    assert!(warning[0].contains("WARN"), "{}", warning[0]);
    assert!(
        warning[0].contains(&format!("campaign={cname}")),
        "{}",
        warning[0]
    );
    assert!(warning[0].contains("day=1") && warning[0].contains("group=0"));
    assert!(!text.contains("4611686018427387905"), "{text}");
    let day = text.lines().find(|l| l.contains("day aggregated")).unwrap();
    assert!(
        day.contains("rejected=2") && day.contains("withheld=false"),
        "{day}"
    );
}

#[tokio::test]
async fn values_of_63_to_65_digits_half_of_them_negative_are_accepted_and_decrypt() {
    // What the real extension sends: 63 to 65 digits, about half of them negative.
    let app = app();
    let campaign = app
        .create_campaign(json!({
            "displayName": "Flu", "startTime": "2018-05-09T00:00:00+01:00", "groupSize": 4,
            "vocabulary": {"queries": [{"exact": "flu"}, {"exact": "cough"}]}
        }))
        .await;
    let cname = campaign["name"].as_str().unwrap().to_string();
    let mut clients = Vec::new();
    for key in ["04a1", "04a2", "04a3", "04a4"] {
        let c = app.register(key).await;
        app.call(request("GET", &format!("/api/clients/{c}/ping")))
            .await;
        clients.push(c);
    }
    let r = app
        .admin(request(
            "POST",
            "/admin/jobs/create-sketches?at=2018-05-11T01:00:00%2B01:00",
        ))
        .await;
    assert_eq!(r.json(), json!({"created": 4, "groups": 1}));
    app.clock.set(utc("2018-05-11T08:00:00Z"));

    // Per position, four blinds that sum to zero: +63, −64, +65 digits and the rest (−65).
    let blinds: Vec<[num_bigint::BigInt; 4]> = (0..3u32)
        .map(|j| {
            let b1 = big(&format!("3{}", "1".repeat(62))) + j;
            let b2 = -big(&format!("7{}", "3".repeat(63))) - j * 7;
            let b3 = big(&format!("2{}", "9".repeat(64))) + j * 11;
            let b4 = -(&b1 + &b2 + &b3);
            [b1, b2, b3, b4]
        })
        .collect();
    let counts = [[5i64, 2, 0], [3, 0, 1], [0, 0, 0], [7, 4, 2]];
    let mut lengths = std::collections::BTreeSet::new();
    let mut negative = 0;
    for (member, client) in clients.iter().enumerate() {
        let r = app
            .call(request("GET", &format!("/api/clients/{client}/ping")))
            .await;
        let sketch = r.json()["submit"][0]["sketchName"]
            .as_str()
            .unwrap()
            .to_string();
        let values: Vec<String> = (0..3)
            .map(|j| (num_bigint::BigInt::from(counts[member][j]) + &blinds[j][member]).to_string())
            .collect();
        for v in &values {
            lengths.insert(v.trim_start_matches('-').len());
            negative += usize::from(v.starts_with('-'));
        }
        let r = app
            .call(
                request("PATCH", &format!("/api/sketches/{sketch}"))
                    .json(&json!({"encryptedValues": values, "rawValues": counts[member]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    }
    assert_eq!(lengths, [63, 64, 65].into());
    assert_eq!(negative, 6, "half of the 12 values");
    let r = app
        .admin(request(
            "POST",
            "/admin/jobs/aggregate-sketches?at=2018-05-11T23:30:00Z",
        ))
        .await;
    assert_eq!(r.json(), json!({"aggregated": 1}));
    let r = app
        .call(private("GET", &format!("/api/campaigns/{cname}/results/1")))
        .await;
    let result = r.json();
    assert_eq!(result["stats"]["decryptedCount"], 4);
    assert_eq!(result["decryptedValues"], json!([15, 6, 3]));
}
