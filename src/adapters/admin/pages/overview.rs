//! `/admin`: what runs (version, build, uptime, adapters), whether the storage answers, when
//! each job fires next in the reference zone (with a form to run one now), and the API's
//! requests and errors per route over the last hour, from the metrics history.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::adapters::admin::history::Window;
use crate::adapters::admin::html::{
    document, esc, local_time, number, path_segment, ser_time, span, thead, Nav,
};
use crate::adapters::admin::svg::{bar_chart, line_chart, sparkline, Line};
use crate::adapters::admin::ServerInfo;
use crate::adapters::http::dto::format_time;
use crate::domain::service::jobs::JobKind;
use crate::domain::time::Calendar;

/// Connections open now on each listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = OpenConnections)]
pub struct Connections {
    pub api: usize,
    pub admin: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = OverviewPage)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    pub version: String,
    pub build: String,
    #[serde(serialize_with = "ser_time")]
    pub start_time: DateTime<Utc>,
    #[serde(serialize_with = "ser_time")]
    pub now: DateTime<Utc>,
    pub uptime_seconds: i64,
    pub storage: StorageStatus,
    pub geocoder: String,
    /// Where metrics go (`registry`, and `datadog` when DogStatsD is set).
    pub metrics: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_connections: Option<Connections>,
    pub scheduler: SchedulerView,
    pub traffic: Traffic,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageStatus {
    pub kind: String,
    pub reachable: bool,
    /// The schema version recorded in the database (none for memory storage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchedulerView {
    /// Clock seconds per real second (288 in testing mode).
    pub speed: u32,
    pub time_zone: String,
    pub jobs: Vec<JobSchedule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobSchedule {
    pub job: &'static str,
    /// Local time of day it fires at (`00:30`).
    pub local_time: String,
    #[serde(serialize_with = "ser_time")]
    pub next_firing: DateTime<Utc>,
    /// The same, in the reference zone.
    pub next_firing_local: String,
}

/// API requests per clock minute over the last hour: all routes, then each route.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Traffic {
    /// End of each minute, UTC.
    pub times: Vec<String>,
    /// The same, `HH:MM` in the reference zone.
    pub minutes: Vec<String>,
    pub requests: Vec<f64>,
    /// Answers 400–499 and 500–599.
    pub client_errors: Vec<f64>,
    pub server_errors: Vec<f64>,
    /// Busiest first.
    pub routes: Vec<RouteTraffic>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteTraffic {
    pub route: String,
    pub requests: f64,
    pub client_errors: f64,
    pub server_errors: f64,
    pub per_minute: Vec<f64>,
}

/// Everything the overview is made of.
pub struct OverviewInputs<'a> {
    pub info: &'a ServerInfo,
    pub now: DateTime<Utc>,
    pub storage_reachable: bool,
    pub schema_version: Option<u32>,
    pub connections: Option<Connections>,
    pub calendar: &'a Calendar,
    pub speed: u32,
    /// The metrics history of the last hour (and the sample before it).
    pub history: &'a Window,
}

pub fn overview(inputs: OverviewInputs<'_>) -> Overview {
    let OverviewInputs {
        info,
        now,
        storage_reachable,
        schema_version,
        connections,
        calendar,
        speed,
        history,
    } = inputs;
    let zone = calendar.time_zone();
    let jobs = JobKind::ALL
        .iter()
        .map(|job| {
            let next = job.next_firing(calendar, now);
            JobSchedule {
                job: job.name(),
                local_time: job.local_time().format("%H:%M").to_string(),
                next_firing: next,
                next_firing_local: local_time(&next, zone),
            }
        })
        .collect();
    Overview {
        version: info.version.clone(),
        build: info.build.clone(),
        start_time: info.start_time,
        now,
        uptime_seconds: (now - info.start_time).num_seconds().max(0),
        storage: StorageStatus {
            kind: info.storage.clone(),
            reachable: storage_reachable,
            schema_version,
        },
        geocoder: info.geocoder.clone(),
        metrics: info.metrics.split('+').map(str::to_owned).collect(),
        open_connections: connections,
        scheduler: SchedulerView {
            speed,
            time_zone: zone.name().to_string(),
            jobs,
        },
        traffic: traffic(history, calendar),
    }
}

/// Requests per interval between consecutive samples, from the request counters.
pub fn traffic(history: &Window, calendar: &Calendar) -> Traffic {
    let intervals = history.times.len().saturating_sub(1);
    let zone = calendar.time_zone();
    let mut out = Traffic {
        times: history.times.iter().skip(1).map(format_time).collect(),
        minutes: history
            .times
            .iter()
            .skip(1)
            .map(|t| t.with_timezone(&zone).format("%H:%M").to_string())
            .collect(),
        requests: vec![0.0; intervals],
        client_errors: vec![0.0; intervals],
        server_errors: vec![0.0; intervals],
        routes: Vec::new(),
    };
    let mut routes: BTreeMap<&str, RouteTraffic> = BTreeMap::new();
    for (info, values) in &history.series {
        if info.family != "pdd_http_requests_total" {
            continue;
        }
        let route = info.label("route").unwrap_or("?");
        let status: u16 = info
            .label("status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let entry = routes.entry(route).or_insert_with(|| RouteTraffic {
            route: route.to_string(),
            requests: 0.0,
            client_errors: 0.0,
            server_errors: 0.0,
            per_minute: vec![0.0; intervals],
        });
        for (i, pair) in values.windows(2).enumerate() {
            let delta = (pair[1] - pair[0]).max(0.0);
            out.requests[i] += delta;
            entry.per_minute[i] += delta;
            entry.requests += delta;
            match status {
                400..=499 => {
                    out.client_errors[i] += delta;
                    entry.client_errors += delta;
                }
                500..=599 => {
                    out.server_errors[i] += delta;
                    entry.server_errors += delta;
                }
                _ => {}
            }
        }
    }
    out.routes = routes.into_values().filter(|r| r.requests > 0.0).collect();
    out.routes.sort_by(|a, b| {
        b.requests
            .total_cmp(&a.requests)
            .then_with(|| a.route.cmp(&b.route))
    });
    out
}

fn row(out: &mut String, name: &str, value: &str) {
    let _ = write!(
        out,
        "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
        esc(name),
        esc(value)
    );
}

/// The form that runs a job now (the admin's `POST /admin/jobs/{job}`), as of a time that
/// defaults to now.
pub fn run_form(out: &mut String, job: &str, now: &DateTime<Utc>) {
    let _ = write!(
        out,
        "<form class=\"inline\" method=\"post\" action=\"/admin/jobs/{}\">\
         <label>as of <input name=\"at\" value=\"{}\" size=\"24\"></label> \
         <button type=\"submit\">Run {} now</button></form>",
        path_segment(job),
        esc(&format_time(now)),
        esc(job)
    );
}

pub fn render(model: &Overview, pages: &[Nav]) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<section><h2>Server</h2><table class=\"facts\"><tbody>");
    row(&mut out, "Version", &model.version);
    row(&mut out, "Build", &model.build);
    let zone: chrono_tz::Tz = model.scheduler.time_zone.parse().unwrap_or(chrono_tz::UTC);
    row(&mut out, "Started", &local_time(&model.start_time, zone));
    row(&mut out, "Uptime", &span(model.uptime_seconds));
    let kind = match model.storage.schema_version {
        Some(v) => format!("{} (schema version {v})", model.storage.kind),
        None => model.storage.kind.clone(),
    };
    let storage = if model.storage.reachable {
        format!("{kind} — answers")
    } else {
        format!("{kind} — DOES NOT ANSWER")
    };
    let _ = write!(
        out,
        "<tr><th scope=\"row\">Storage</th><td class=\"{}\">{}</td></tr>",
        if model.storage.reachable { "ok" } else { "bad" },
        esc(&storage)
    );
    row(&mut out, "Geocoder", &model.geocoder);
    row(&mut out, "Metrics to", &model.metrics.join(", "));
    if let Some(c) = model.open_connections {
        row(
            &mut out,
            "Open connections",
            &format!("{} API, {} admin", c.api, c.admin),
        );
    }
    out.push_str("</tbody></table></section>");

    let s = &model.scheduler;
    let _ = write!(
        out,
        "<section><h2>Scheduler</h2><p>Jobs fire at their local time in {}{}.</p>\
         <table class=\"list\">",
        esc(&s.time_zone),
        if s.speed > 1 {
            format!("; the clock runs {} times fast (testing mode)", s.speed)
        } else {
            String::new()
        }
    );
    thead(&mut out, &["Job", "Fires at", "Next firing", "In", ""]);
    out.push_str("<tbody>");
    for job in &s.jobs {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>",
            esc(job.job),
            esc(&job.local_time),
            esc(&job.next_firing_local),
            esc(&span((job.next_firing - model.now).num_seconds()))
        );
        run_form(&mut out, job.job, &model.now);
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table></section>");

    let t = &model.traffic;
    out.push_str("<section><h2>API requests, last hour</h2>");
    if t.minutes.is_empty() {
        out.push_str(
            "<p class=\"empty\">No traffic sampled yet: the history takes a sample every \
             clock minute.</p>",
        );
    } else {
        out.push_str(&line_chart(
            "API requests per minute, last hour",
            &t.minutes,
            &[
                Line {
                    name: "requests",
                    values: &t.requests,
                },
                Line {
                    name: "4xx",
                    values: &t.client_errors,
                },
                Line {
                    name: "5xx",
                    values: &t.server_errors,
                },
            ],
        ));
        if t.routes.is_empty() {
            out.push_str("<p class=\"empty\">No request in the last hour.</p>");
        } else {
            let names: Vec<String> = t.routes.iter().map(|r| r.route.clone()).collect();
            let requests: Vec<f64> = t.routes.iter().map(|r| r.requests).collect();
            let errors: Vec<f64> = t
                .routes
                .iter()
                .map(|r| r.client_errors + r.server_errors)
                .collect();
            out.push_str(&bar_chart(
                "Requests and errors per route, last hour",
                &names,
                &[
                    Line {
                        name: "requests",
                        values: &requests,
                    },
                    Line {
                        name: "errors (4xx and 5xx)",
                        values: &errors,
                    },
                ],
            ));
            out.push_str("<table class=\"list\">");
            thead(&mut out, &["Route", "Requests", "4xx", "5xx", "Per minute"]);
            out.push_str("<tbody>");
            for r in &t.routes {
                let _ = write!(
                    out,
                    "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                     <td class=\"num\">{}</td><td>{}</td></tr>",
                    esc(&r.route),
                    number(r.requests),
                    number(r.client_errors),
                    number(r.server_errors),
                    sparkline(&format!("{} requests per minute", r.route), &r.per_minute)
                );
            }
            out.push_str("</tbody></table>");
        }
    }
    out.push_str("</section>");
    document("Overview", Nav::Overview, pages, &out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::admin::history::MetricsHistory;
    use crate::adapters::metrics::registry::Registry;
    use crate::ports::Metrics;
    use std::time::Duration;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn info() -> ServerInfo {
        ServerInfo {
            version: "1.2.3".into(),
            build: "debug [mysql]".into(),
            start_time: utc("2018-05-10T11:00:00Z"),
            storage: "memory".into(),
            geocoder: "none".into(),
            metrics: "registry+datadog".into(),
        }
    }

    #[test]
    fn traffic_counts_requests_and_errors_per_minute_and_route() {
        let registry = Registry::new();
        let history = MetricsHistory::default();
        let t0 = utc("2018-05-10T11:58:00Z");
        history.record(t0, &registry.samples());
        let ms = Duration::from_millis(1);
        for _ in 0..3 {
            registry.http_request("/api/clients/{name}/ping", "POST", 200, ms);
        }
        registry.http_request("/api/stats", "GET", 401, ms);
        history.record(t0 + chrono::Duration::minutes(1), &registry.samples());
        registry.http_request("/api/stats", "GET", 503, ms);
        registry.http_request("/api/stats", "GET", 200, ms);
        history.record(t0 + chrono::Duration::minutes(2), &registry.samples());
        let cal = Calendar::new(chrono_tz::Europe::London);
        let t = traffic(&history.window(t0), &cal);
        assert_eq!(t.minutes, vec!["12:59", "13:00"]);
        assert_eq!(t.times[1], "2018-05-10T12:00:00.000Z");
        assert_eq!(t.requests, vec![4.0, 2.0]);
        assert_eq!(t.client_errors, vec![1.0, 0.0]);
        assert_eq!(t.server_errors, vec![0.0, 1.0]);
        // Busiest first, ties by route.
        assert_eq!(t.routes.len(), 2);
        assert_eq!(t.routes[0].route, "/api/clients/{name}/ping");
        assert_eq!(t.routes[0].per_minute, vec![3.0, 0.0]);
        assert_eq!(t.routes[1].route, "/api/stats");
        assert_eq!(
            (
                t.routes[1].requests,
                t.routes[1].client_errors,
                t.routes[1].server_errors
            ),
            (3.0, 1.0, 1.0)
        );
        assert_eq!(t.routes[1].per_minute, vec![1.0, 2.0]);
    }

    #[test]
    fn the_overview_tells_the_next_firings_in_the_reference_zone_and_draws_the_traffic() {
        let registry = Registry::new();
        let history = MetricsHistory::default();
        let now = utc("2018-05-10T12:00:00Z");
        for m in 0..5 {
            registry.http_request("/api/stats", "GET", 200, Duration::from_millis(1));
            history.record(now - chrono::Duration::minutes(4 - m), &registry.samples());
        }
        let cal = Calendar::new(chrono_tz::Europe::London);
        let window = history.window(now - chrono::Duration::hours(1));
        let model = overview(OverviewInputs {
            info: &info(),
            now,
            storage_reachable: false,
            schema_version: None,
            connections: Some(Connections { api: 3, admin: 1 }),
            calendar: &cal,
            speed: 1,
            history: &window,
        });
        assert_eq!(model.uptime_seconds, 3600);
        assert_eq!(model.metrics, vec!["registry", "datadog"]);
        assert_eq!(model.scheduler.jobs[0].job, "aggregate-sketches");
        assert_eq!(
            format_time(&model.scheduler.jobs[0].next_firing),
            "2018-05-10T23:30:00.000Z"
        );
        assert_eq!(
            model.scheduler.jobs[0].next_firing_local,
            "2018-05-11 00:30:00 BST"
        );
        let json = serde_json::to_value(&model).unwrap();
        assert_eq!(
            json["storage"],
            serde_json::json!({"kind": "memory", "reachable": false})
        );
        assert_eq!(json["openConnections"]["api"], 3);
        assert_eq!(
            json["traffic"]["requests"],
            serde_json::json!([1.0, 1.0, 1.0, 1.0])
        );
        let html = render(&model, &Nav::ALL);
        assert!(html.contains("memory — DOES NOT ANSWER"));
        assert!(html.contains("3 API, 1 admin"));
        assert_eq!(html.matches("<circle class=\"pt\"").count(), 12);
        assert_eq!(
            html.matches("<form class=\"inline\" method=\"post\"")
                .count(),
            4
        );
        assert!(html.contains("action=\"/admin/jobs/collect-garbage\""));
        let model = overview(OverviewInputs {
            info: &info(),
            now,
            storage_reachable: true,
            schema_version: Some(6),
            connections: None,
            calendar: &cal,
            speed: 1,
            history: &window,
        });
        assert_eq!(
            serde_json::to_value(&model).unwrap()["storage"],
            serde_json::json!({"kind": "memory", "reachable": true, "schemaVersion": 6})
        );
        assert!(render(&model, &Nav::ALL).contains("memory (schema version 6) — answers"));
    }
}
