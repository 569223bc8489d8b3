//! A campaign's results and their export as JSON or CSV.

use serde_json::json;
use warp::http::StatusCode;

use crate::helpers::*;
use pdd_server::ports::AggregationStore as _;

/// A campaign (started 9 May, London) with results stored for days 0 and 1.
async fn campaign_with_results(app: &App) -> String {
    let c = app
        .create_campaign(json!({
            "displayName": "Flu", "startTime": "2018-05-09T00:00:00+01:00", "collectRaw": true,
            "vocabulary": {"queries": [{"exact": "flu"}, {"terms": ["flu", "fever"]},
                                       {"exact": "say \"hi\""}]}
        }))
        .await;
    let name = c["name"].as_str().unwrap().to_string();
    for (day, values, raw) in [(0, vec![6, 1, 5, 0], vec![7, 1, 5, 1]), (1, vec![], vec![])] {
        app.storage
            .put_aggregation(&pdd_server::domain::sketch::Aggregation {
                campaign_name: name.clone(),
                day,
                stats: pdd_server::domain::sketch::Stats {
                    active_count: 5,
                    submitted_count: 4,
                    decrypted_count: 3,
                    rejected_count: 0,
                },
                decrypted_values: values,
                raw_values: raw,
                withheld: false,
            })
            .await
            .unwrap();
    }
    name
}

#[tokio::test]
async fn results_list_is_newest_day_first_with_values_emptied_and_a_day_has_its_values() {
    let app = app();
    let name = campaign_with_results(&app).await;
    let r = app
        .call(private("GET", &format!("/api/campaigns/{name}/results")))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let stats =
        json!({"activeCount": 5, "submittedCount": 4, "decryptedCount": 3, "rejectedCount": 0});
    assert_eq!(
        r.json(),
        json!({"results": [
            {"name": format!("{name}-1"), "campaignName": name, "day": 1, "stats": stats,
             "decryptedValues": [], "rawValues": [], "withheld": false},
            {"name": format!("{name}-0"), "campaignName": name, "day": 0, "stats": stats,
             "decryptedValues": [], "rawValues": [], "withheld": false}
        ]})
    );
    let r = app
        .call(private("GET", &format!("/api/campaigns/{name}/results/0")))
        .await;
    assert_eq!(
        r.json(),
        json!({"name": format!("{name}-0"), "campaignName": name, "day": 0, "stats": stats,
               "decryptedValues": [6, 1, 5, 0], "rawValues": [7, 1, 5, 1], "withheld": false})
    );
    let r = app
        .call(private("GET", &format!("/api/campaigns/{name}/results/7")))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .call(private(
            "GET",
            &format!("/api/campaigns/{name}/results/first"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.errors(), vec!["day: should be an integer"]);
    let r = app
        .call(private("GET", "/api/campaigns/nope/results"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn export_as_csv_quotes_per_rfc_4180_and_json_is_the_default() {
    let app = app();
    let name = campaign_with_results(&app).await;
    let csv = "day,query,count\n\
               2018-05-10,_total,0\n\
               2018-05-09,_total,6\n\
               2018-05-09,flu,1\n\
               2018-05-09,\"flu, fever\",5\n";
    for (accept, content_type) in [
        ("text/csv", "text/csv; charset=utf-8"),
        ("application/csv", "application/csv; charset=utf-8"),
        (
            "application/json;q=0.5, text/csv",
            "text/csv; charset=utf-8",
        ),
    ] {
        let r = app
            .call(
                private("GET", &format!("/api/campaigns/{name}/results?export=1"))
                    .header("accept", accept),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{accept}");
        assert_eq!(r.header("content-type"), Some(content_type));
        assert_eq!(r.text(), csv, "{accept}");
    }
    let rows = json!([
        {"date": "2018-05-10", "query": "_total", "count": 0},
        {"date": "2018-05-09", "query": "_total", "count": 6},
        {"date": "2018-05-09", "query": "flu", "count": 1},
        {"date": "2018-05-09", "query": "flu, fever", "count": 5}
    ]);
    for accept in [None, Some("application/json"), Some("*/*")] {
        let mut req = private("GET", &format!("/api/campaigns/{name}/results?export=true"));
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let r = app.call(req).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json(), rows, "{accept:?}");
    }
    let r = app
        .call(
            private("GET", &format!("/api/campaigns/{name}/results/0?export=1"))
                .header("accept", "text/csv"),
        )
        .await;
    assert_eq!(
        r.text(),
        "day,query,count\n2018-05-09,_total,6\n2018-05-09,flu,1\n2018-05-09,\"flu, fever\",5\n"
    );
}

#[tokio::test]
async fn export_in_an_unoffered_format_is_406_and_a_bad_export_flag_is_400() {
    let app = app();
    let name = campaign_with_results(&app).await;
    let r = app
        .call(
            private("GET", &format!("/api/campaigns/{name}/results?export=1"))
                .header("accept", "application/xml"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        r.errors(),
        vec!["export is available as text/csv, application/csv or application/json"]
    );
    let r = app
        .call(private(
            "GET",
            &format!("/api/campaigns/{name}/results?export=yes"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.errors(), vec!["export: should be 1, true, 0 or false"]);
    // export=0 is the plain view.
    let r = app
        .call(private(
            "GET",
            &format!("/api/campaigns/{name}/results?export=0"),
        ))
        .await;
    assert_eq!(r.json()["results"].as_array().unwrap().len(), 2);
}
