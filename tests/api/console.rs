//! The operator's console on the admin port: every page as HTML with a strict CSP and as the
//! same model in JSON, user-given text shown as text, charts with their points, the log level
//! and run-now forms, pages offered only when their source is.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::NaiveDate;
use serde_json::json;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::helpers::*;
use pdd_server::adapters::admin::console::Console;
use pdd_server::adapters::admin::pages::clients::{ClientFigures, ClientSource};
use pdd_server::adapters::admin::pages::jobs::JobHistory;
use pdd_server::adapters::admin::pages::logging::LogLevelControl;
use pdd_server::adapters::admin::{admin_routes_with, AdminState, ServerInfo};
use pdd_server::config::LogLevel;
use pdd_server::domain::client::ClientDay;
use pdd_server::domain::job::{JobRun, Outcome};
use pdd_server::domain::service::jobs::JobKind;
use pdd_server::domain::service::ServiceError;
use pdd_server::domain::sketch::{Aggregation, Stats};
use pdd_server::ports::AggregationStore;

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

struct Level(Mutex<LogLevel>);

impl LogLevelControl for Level {
    fn level(&self) -> LogLevel {
        *self.0.lock().unwrap()
    }
    fn set_level(&self, level: LogLevel) -> Result<(), String> {
        *self.0.lock().unwrap() = level;
        Ok(())
    }
}

struct Clients;

#[async_trait]
impl ClientSource for Clients {
    async fn client_figures(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<ClientFigures, ServiceError> {
        Ok(ClientFigures {
            registered: 3,
            days: from
                .iter_days()
                .take_while(|d| *d <= to)
                .map(|date| ClientDay {
                    date,
                    registrations: 1,
                    active: 2,
                })
                .collect(),
            breakdown_date: Some(to),
            countries: vec![(Some("GB".into()), 2), (None, 1)],
            extension_versions: vec![(Some("1.2.0".into()), 3)],
        })
    }
}

struct Runs;

#[async_trait]
impl JobHistory for Runs {
    async fn job_runs(&self, job: JobKind, limit: usize) -> Result<Vec<JobRun>, ServiceError> {
        let firing = utc("2018-05-10T00:00:00Z");
        Ok((0..3.min(limit))
            .map(|i| JobRun {
                job: job.name().to_string(),
                firing: firing - chrono::Duration::days(i as i64),
                instance: "instance-1".into(),
                started: firing - chrono::Duration::days(i as i64),
                duration_ms: 100 * (i as u64 + 1),
                outcome: Outcome::Ok,
                counts: BTreeMap::from([("items".to_string(), 5)]),
                failed: Vec::new(),
                error: None,
            })
            .collect())
    }
}

/// The admin routes of `app` with `console` instead of the default one.
fn admin_with(app: &App, console: Console) -> BoxedFilter<(Response,)> {
    admin_routes_with(
        AdminState {
            services: app.services.clone(),
            storage: app.storage.clone(),
            clock: app.clock.clone(),
            registry: app.registry.clone(),
            info: ServerInfo {
                version: "1.2.3".into(),
                build: "abc1234".into(),
                start_time: utc(START),
                storage: "memory".into(),
                geocoder: "map".into(),
                metrics: "registry".into(),
            },
        },
        console,
    )
}

fn full_console(app: &App) -> Console {
    let mut console = Console::basic(&app.services);
    console.logging = Some(Arc::new(Level(Mutex::new(LogLevel::Info))));
    console.clients = Some(Arc::new(Clients));
    console.jobs = Some(Arc::new(Runs));
    console
}

fn assert_page(r: &Reply) {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_page_headers(r);
}

/// A page of the console, whatever its status.
fn assert_page_headers(r: &Reply) {
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(
        r.header("content-security-policy"),
        Some(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'"
        )
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let html = r.text();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script"), "{html}");
    assert!(
        !html.contains("style=\""),
        "inline styles are refused by the CSP"
    );
    assert!(
        !html.contains(" src=\"") && !html.contains(" href=\"http"),
        "nothing fetched from elsewhere"
    );
}

#[tokio::test]
async fn every_page_answers_html_with_a_strict_csp_and_the_same_model_as_json() {
    let app = app();
    let admin = admin_with(&app, full_console(&app));
    for path in [
        "/admin",
        "/admin/jobs",
        "/admin/campaigns",
        "/admin/clients",
        "/admin/logging",
        "/admin/metrics",
    ] {
        let html = send(&admin, request("GET", path)).await;
        assert_page(&html);
        // Each page's navigation links every page.
        for link in ["/admin/jobs", "/admin/clients", "/admin/logging"] {
            assert!(html.text().contains(&format!("href=\"{link}\"")), "{path}");
        }
        let browser = send(&admin, request("GET", path).header("accept", BROWSER)).await;
        assert_eq!(
            browser.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        let json = send(
            &admin,
            request("GET", path).header("accept", "application/json"),
        )
        .await;
        assert_eq!(json.status, StatusCode::OK);
        assert_eq!(json.header("content-type"), Some("application/json"));
        assert_eq!(json.header("vary"), Some("Accept"));
        assert!(json.json().is_object(), "{path}");
    }
    let css = send(&admin, request("GET", "/admin/static/admin.css")).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css.text().contains("svg.chart"));
    let json = send(
        &admin,
        request("GET", "/admin").header("accept", "application/json"),
    )
    .await
    .json();
    assert_eq!(json["version"], "1.2.3");
    assert_eq!(
        json["storage"],
        json!({"kind": "memory", "reachable": true})
    );
    assert_eq!(json["scheduler"]["timeZone"], "Europe/London");
    assert_eq!(
        json["scheduler"]["jobs"][1],
        json!({"job": "create-sketches", "localTime": "01:00",
               "nextFiring": "2018-05-11T00:00:00.000Z",
               "nextFiringLocal": "2018-05-11 01:00:00 BST"})
    );
}

#[tokio::test]
async fn pages_without_a_source_are_neither_routed_nor_linked() {
    let app = app();
    let console = Console {
        jobs: None,
        clients: None,
        ..Console::basic(&app.services)
    };
    let admin = admin_with(&app, console);
    for path in ["/admin/jobs", "/admin/clients"] {
        let r = send(&admin, request("GET", path)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = send(&admin, request("GET", "/admin")).await;
    assert_page(&r);
    let html = r.text();
    assert!(html.contains("href=\"/admin/campaigns\""));
    assert!(!html.contains("href=\"/admin/jobs\"") && !html.contains("href=\"/admin/clients\""));
    // No log control in an application built in code: the page says so, the POST is refused.
    let r = app.admin(request("GET", "/admin/logging")).await;
    assert_page(&r);
    assert!(r.text().contains("cannot be changed from here"));
    let r = app
        .admin(request("POST", "/admin/logging?level=DEBUG"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.admin(request("DELETE", "/admin/logging")).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("allow"), Some("GET, POST"));
}

#[tokio::test]
async fn a_campaign_named_like_a_script_shows_as_text() {
    let app = app();
    let campaign = app
        .create_campaign(json!({
            "displayName": "<script>alert(1)</script>",
            "startTime": "2018-05-09T00:00:00+01:00",
            "vocabulary": {"queries": [{"exact": "<img src=x onerror=alert(2)>"},
                                       {"terms": ["\"quoted\"", "a&b"]}]}
        }))
        .await;
    let name = campaign["name"].as_str().unwrap();
    for path in [
        "/admin/campaigns".to_string(),
        format!("/admin/campaigns/{name}"),
    ] {
        let r = app.admin(request("GET", &path)).await;
        assert_page(&r);
        let html = r.text();
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<img"));
        let json = app
            .admin(request("GET", &path).header("accept", "application/json"))
            .await
            .json();
        let shown = if path.ends_with("campaigns") {
            json["campaigns"][0]["displayName"].clone()
        } else {
            json["displayName"].clone()
        };
        assert_eq!(shown, "<script>alert(1)</script>");
    }
    let html = app
        .admin(request("GET", &format!("/admin/campaigns/{name}")))
        .await
        .text();
    assert!(html.contains("<li>&lt;img src=x onerror=alert(2)&gt;</li>"));
    assert!(html.contains("<li>&quot;quoted&quot;, a&amp;b</li>"));
    assert!(html.contains("<title>Campaign &lt;script&gt;alert(1)&lt;/script&gt; · "));
}

#[tokio::test]
async fn a_campaign_page_charts_and_lists_each_aggregated_day_and_no_value() {
    let app = app();
    let campaign = app
        .create_campaign(json!({
            "displayName": "Flu", "startTime": "2018-05-01T00:00:00+01:00",
            "vocabulary": {"queries": [{"exact": "flu"}]}
        }))
        .await;
    let name = campaign["name"].as_str().unwrap().to_string();
    for day in 0..4i64 {
        app.storage
            .put_aggregation(&Aggregation {
                campaign_name: name.clone(),
                day,
                stats: Stats {
                    active_count: 100 + day as u64,
                    submitted_count: 90 + day as u64,
                    decrypted_count: 80 + day as u64,
                    rejected_count: 2 * day as u64,
                },
                decrypted_values: vec![987_654_321, 1],
                raw_values: vec![123_456_789],
                withheld: false,
            })
            .await
            .unwrap();
    }
    let r = app
        .admin(request("GET", &format!("/admin/campaigns/{name}")))
        .await;
    assert_page(&r);
    let html = r.text();
    // Four series (active, submitted, decrypted, rejected) of four days.
    assert_eq!(html.matches("<circle class=\"pt\"").count(), 16);
    assert!(html.contains("data-x=\"2018-05-04\" data-y=\"103\""));
    assert!(!html.contains("987654321") && !html.contains("987,654,321"));
    assert!(!html.contains("123456789") && !html.contains("123,456,789"));
    let json = app
        .admin(
            request("GET", &format!("/admin/campaigns/{name}"))
                .header("accept", "application/json"),
        )
        .await
        .json();
    assert_eq!(
        json["days"][3],
        json!({"day": 3, "date": "2018-05-04", "active": 103, "submitted": 93, "decrypted": 83,
               "rejected": 6})
    );
    assert!(!json.to_string().contains("987654321"));
    let list = app
        .admin(request("GET", "/admin/campaigns").header("accept", "application/json"))
        .await
        .json();
    assert_eq!(list["campaigns"][0]["state"], "active");
    assert_eq!(list["campaigns"][0]["daysAggregated"], 4);
    assert_eq!(
        list["campaigns"][0]["submittedPerDay"],
        json!([90, 91, 92, 93])
    );
    let r = app.admin(request("GET", "/admin/campaigns/nope")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_overview_draws_the_api_traffic_of_the_last_hour_from_the_history() {
    let app = app();
    let console = Console::basic(&app.services);
    let history = console.history.clone();
    let admin = admin_with(&app, console);
    let start = utc(START);
    history.record(
        start - chrono::Duration::minutes(3),
        &app.registry.samples(),
    );
    for minute in (0..3).rev() {
        app.register("04ab").await;
        app.call(request("GET", "/api/stats")).await;
        history.record(
            start - chrono::Duration::minutes(minute),
            &app.registry.samples(),
        );
    }
    let r = send(&admin, request("GET", "/admin")).await;
    assert_page(&r);
    let html = r.text();
    // Three minutes of three lines (requests, 4xx, 5xx).
    assert_eq!(html.matches("<circle class=\"pt\"").count(), 9);
    assert!(html.contains("data-x=\"13:00\" data-y=\"2\""));
    assert_eq!(html.matches("<rect class=\"bar").count(), 4);
    let json = send(
        &admin,
        request("GET", "/admin").header("accept", "application/json"),
    )
    .await
    .json();
    assert_eq!(json["traffic"]["requests"], json!([2.0, 2.0, 2.0]));
    assert_eq!(json["traffic"]["clientErrors"], json!([1.0, 1.0, 1.0]));
    assert_eq!(json["traffic"]["routes"][0]["route"], "/api/clients");
    assert_eq!(json["traffic"]["routes"][1]["route"], "/api/stats");
    assert_eq!(json["traffic"]["routes"][1]["clientErrors"], 3.0);
    let r = send(&admin, request("GET", "/admin/metrics")).await;
    assert_page(&r);
    let html = r.text();
    assert!(html.contains("<h2>pdd_clients_registered_total</h2>"));
    assert!(html.matches("<svg class=\"spark\"").count() >= 10);
}

#[tokio::test]
async fn the_log_level_changes_by_form_and_by_script_from_this_origin_only() {
    let app = app();
    let console = full_console(&app);
    let level = console.logging.clone().unwrap();
    let admin = admin_with(&app, console);
    let r = send(
        &admin,
        request("POST", "/admin/logging")
            .header("accept", BROWSER)
            .header("host", "127.0.0.1:9990")
            .header("origin", "http://127.0.0.1:9990")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("level=DEBUG"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), Some("/admin/logging"));
    assert_eq!(level.level(), LogLevel::Debug);
    let page = send(&admin, request("GET", "/admin/logging")).await.text();
    assert!(page.contains("<option value=\"DEBUG\" selected>DEBUG</option>"));
    let r = send(&admin, request("POST", "/admin/logging?level=warn")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"level": "WARN", "previous": "DEBUG"}));
    let r = send(&admin, request("POST", "/admin/logging?level=LOUD")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.errors(),
        vec!["level: should be one of ALL, TRACE, DEBUG, INFO, WARN, ERROR, OFF"]
    );
    let r = send(&admin, request("POST", "/admin/logging")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = send(
        &admin,
        request("POST", "/admin/logging?level=TRACE")
            .header("host", "127.0.0.1:9990")
            .header("origin", "http://attacker.example"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(level.level(), LogLevel::Warn);
}

#[tokio::test]
async fn the_run_now_form_answers_a_browser_with_what_the_job_did() {
    let app = app();
    app.register("01").await;
    let r = app
        .admin(
            request("POST", "/admin/jobs/prune-clients")
                .header("accept", BROWSER)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("at=2018-05-30T13%3A00%3A00%2B01%3A00"),
        )
        .await;
    assert_page(&r);
    let html = r.text();
    assert!(
        html.contains("prune-clients ran as of 2018-05-30T12:00:00.000Z."),
        "{html}"
    );
    assert!(html.contains("<th scope=\"row\">pruned</th><td class=\"num\">1</td>"));
    // A script posting a form body gets JSON, as before.
    let r = app
        .admin(
            request("POST", "/admin/jobs/prune-clients")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("at=2018-05-30T13%3A00%3A00%2B01%3A00"),
        )
        .await;
    assert_eq!(r.json(), json!({"pruned": 0}));
    let r = app
        .admin(request("POST", "/admin/jobs/prune-clients").header("sec-fetch-site", "cross-site"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_clients_and_jobs_pages_render_what_their_sources_give() {
    let app = app();
    let admin = admin_with(&app, full_console(&app));
    let r = send(&admin, request("GET", "/admin/clients")).await;
    assert_page(&r);
    let html = r.text();
    // 90 days of two lines, and two countries and one version as bars.
    assert_eq!(html.matches("<circle class=\"pt\"").count(), 180);
    assert_eq!(html.matches("<rect class=\"bar").count(), 3);
    let json = send(
        &admin,
        request("GET", "/admin/clients").header("accept", "application/json"),
    )
    .await
    .json();
    assert_eq!(json["days"].as_array().unwrap().len(), 90);
    assert_eq!(json["days"][89]["date"], "2018-05-10");
    assert_eq!(
        json["countries"][1],
        json!({"name": "unknown", "clients": 1})
    );
    let r = send(&admin, request("GET", "/admin/jobs")).await;
    assert_page(&r);
    let html = r.text();
    assert_eq!(html.matches("<circle class=\"pt\"").count(), 12);
    assert_eq!(html.matches("action=\"/admin/jobs/").count(), 4);
    let json = send(
        &admin,
        request("GET", "/admin/jobs").header("accept", "application/json"),
    )
    .await
    .json();
    assert_eq!(json["jobs"][0]["runs"][0]["durationMs"], 100);
    assert_eq!(json["jobs"][0]["runs"][0]["counts"], json!({"items": 5}));
}

#[tokio::test]
async fn the_jobs_page_shows_each_run_asked_here_with_its_outcome_even_a_failed_one() {
    let app = app();
    app.register("01").await;
    let r = app
        .admin(request(
            "POST",
            "/admin/jobs/prune-clients?at=2018-05-30T12:00:00Z",
        ))
        .await;
    assert_eq!(r.json(), json!({"pruned": 1}));
    app.storage.set_listing_broken(true);
    let r = app
        .admin(request("POST", "/admin/jobs/create-sketches"))
        .await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    app.storage.set_listing_broken(false);

    let json = app
        .admin(request("GET", "/admin/jobs").header("accept", "application/json"))
        .await
        .json();
    assert_eq!(json["jobs"][2]["job"], "prune-clients");
    assert_eq!(
        json["jobs"][2]["runs"],
        json!([{"firing": "2018-05-30T12:00:00.000Z", "instance": "local",
                "started": "2018-05-10T12:00:00.000Z", "durationMs": 0, "outcome": "ok",
                "counts": {"pruned": 1}}])
    );
    assert_eq!(
        json["jobs"][1]["runs"],
        json!([{"firing": "2018-05-10T12:00:00.000Z", "instance": "local",
                "started": "2018-05-10T12:00:00.000Z", "durationMs": 0, "outcome": "error",
                "counts": {},
                "error": "storage failure: table campaigns is marked as crashed"}])
    );
    assert_eq!(json["jobs"][0]["runs"], json!([]));
    let r = app.admin(request("GET", "/admin/jobs")).await;
    assert_page(&r);
    let html = r.text();
    // One point in each of the two charts of durations, a form per job.
    assert_eq!(html.matches("<circle class=\"pt\"").count(), 2);
    assert_eq!(html.matches("action=\"/admin/jobs/").count(), 4);
    assert!(html.contains("<td class=\"state error\">error</td>"));
    assert!(html.contains("storage failure: table campaigns is marked as crashed"));
    assert!(html.contains("<td>pruned 1</td>"));
    assert_eq!(html.matches("No run recorded.").count(), 2);
}

#[tokio::test]
async fn the_clients_page_charts_the_days_counted_by_garbage_collection_and_names_nobody() {
    let app = app();
    let gb = app.register("04ab").await;
    let fr = app.register("04cd").await;
    for (name, peer, version) in [
        (&gb, "198.51.100.20:4000", "1.2.0"),
        (&fr, "203.0.113.7:4000", "1.3.0"),
    ] {
        let r = app
            .call(
                warp::test::request()
                    .method("POST")
                    .path(&format!("/api/clients/{name}/ping"))
                    .remote_addr(peer.parse().unwrap())
                    .json(&json!({"extensionVersion": version})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = app
        .admin(request("GET", "/admin/clients").header("accept", "application/json"))
        .await
        .json();
    assert_eq!(r["registered"], 2);
    assert_eq!(r["days"], json!([]));
    assert!(app
        .admin(request("GET", "/admin/clients"))
        .await
        .text()
        .contains("No day counted yet."));

    // The night after, garbage collection counts the day (and the days before it).
    app.clock.set(utc("2018-05-11T02:00:00Z"));
    let r = app
        .admin(request("POST", "/admin/jobs/collect-garbage"))
        .await;
    assert_eq!(r.json()["clientDays"], 60);
    let r = app.admin(request("GET", "/admin/clients")).await;
    assert_page(&r);
    let html = r.text();
    // 60 days of two lines; two countries and two versions as bars.
    assert_eq!(html.matches("<circle class=\"pt\"").count(), 120);
    assert!(html.contains("data-x=\"2018-05-10\" data-y=\"2\""));
    assert_eq!(html.matches("<rect class=\"bar").count(), 4);
    assert!(html.contains("60 of the last 90 counted."));
    assert!(!html.contains(&gb) && !html.contains("04ab"));
    let json = app
        .admin(request("GET", "/admin/clients").header("accept", "application/json"))
        .await
        .json();
    assert_eq!(json["days"].as_array().unwrap().len(), 60);
    assert_eq!(
        json["days"][59],
        json!({"date": "2018-05-10", "registrations": 2, "active": 2})
    );
    assert_eq!(json["breakdownDate"], "2018-05-10");
    assert_eq!(
        json["countries"],
        json!([{"name": "FR", "clients": 1}, {"name": "GB", "clients": 1}])
    );
    assert_eq!(
        json["extensionVersions"],
        json!([{"name": "1.2.0", "clients": 1}, {"name": "1.3.0", "clients": 1}])
    );
    assert!(!json.to_string().contains(&gb) && !json.to_string().contains(&fr));
}

#[tokio::test]
async fn a_browser_gets_errors_as_a_page_and_a_script_as_json() {
    let app = app();
    let r = app
        .admin(request("GET", "/admin/campaigns/no-such-campaign").header("accept", BROWSER))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_page_headers(&r);
    let html = r.text();
    assert!(html.contains("<h1>404 Not Found</h1>"), "{html}");
    assert!(html.contains("<li>not found</li>"));
    assert!(html.contains("href=\"/admin/jobs\""));
    // The same for a script, and for a client saying nothing.
    for accept in [None, Some("application/json")] {
        let mut req = request("GET", "/admin/campaigns/no-such-campaign");
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let r = app.admin(req).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.errors(), vec!["not found"]);
    }
    // A wrong method keeps its Allow header; a bad form field is shown as text.
    let r = app
        .admin(request("DELETE", "/admin/jobs").header("accept", BROWSER))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("allow"), Some("GET"));
    assert!(r.text().contains("<li>method not allowed</li>"));
    let r = app
        .admin(
            request("POST", "/admin/jobs/prune-clients")
                .header("accept", BROWSER)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("at=%3Cscript%3E"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_page_headers(&r);
    assert!(r
        .text()
        .contains("<li>at: should be an RFC 3339 time or epoch milliseconds</li>"));
    // Storage down: 503, as a page.
    app.storage.set_down(true);
    let r = app
        .admin(request("GET", "/admin/campaigns").header("accept", BROWSER))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r
        .text()
        .contains("<li>service unavailable, try again later</li>"));
}
