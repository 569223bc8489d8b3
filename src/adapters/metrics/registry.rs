//! The in-process metrics registry the admin port serves: counters, gauges and latency
//! histograms keyed by family and labels, under one mutex held only to add a number. Read as a
//! flat name → number map (`/admin/metrics.json`) or as Prometheus text (`/metrics`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use parking_lot::Mutex;

use crate::ports::{Metrics, RejectReason};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A metric family: its name, kind, help line and label names (in output order).
struct Family {
    name: &'static str,
    kind: Kind,
    help: &'static str,
    labels: &'static [&'static str],
}

const HTTP_REQUESTS: usize = 0;
const HTTP_DURATION: usize = 1;
const CLIENTS_REGISTERED: usize = 2;
const PINGS: usize = 3;
const PING_COMMANDS: usize = 4;
const SKETCHES_ACCEPTED: usize = 5;
const SKETCHES_REJECTED: usize = 6;
const JOB_RUNS: usize = 7;
const JOB_ITEMS: usize = 8;
const JOB_DURATION: usize = 9;
const STORAGE_DURATION: usize = 10;
const STORAGE_ERRORS: usize = 11;
const CLIENTS: usize = 12;
const ACTIVE_CAMPAIGNS: usize = 13;

const FAMILIES: [Family; 14] = [
    Family {
        name: "pdd_http_requests_total",
        kind: Kind::Counter,
        help: "HTTP requests answered, by route pattern, method and status.",
        labels: &["route", "method", "status"],
    },
    Family {
        name: "pdd_http_request_duration_seconds",
        kind: Kind::Histogram,
        help: "Time to answer an HTTP request, by route pattern and method.",
        labels: &["route", "method"],
    },
    Family {
        name: "pdd_clients_registered_total",
        kind: Kind::Counter,
        help: "Clients registered.",
        labels: &[],
    },
    Family {
        name: "pdd_pings_total",
        kind: Kind::Counter,
        help: "Pings served.",
        labels: &[],
    },
    Family {
        name: "pdd_ping_commands_total",
        kind: Kind::Counter,
        help: "Sketch commands sent in ping answers.",
        labels: &[],
    },
    Family {
        name: "pdd_sketches_accepted_total",
        kind: Kind::Counter,
        help: "Sketch submissions accepted.",
        labels: &[],
    },
    Family {
        name: "pdd_sketches_rejected_total",
        kind: Kind::Counter,
        help: "Sketch submissions refused, by reason.",
        labels: &["reason"],
    },
    Family {
        name: "pdd_job_runs_total",
        kind: Kind::Counter,
        help: "Job runs, by job and status (ok, or failed for at least one campaign).",
        labels: &["job", "status"],
    },
    Family {
        name: "pdd_job_items_total",
        kind: Kind::Counter,
        help: "Items a job run handled (sketches created, days aggregated, clients pruned...).",
        labels: &["job"],
    },
    Family {
        name: "pdd_job_duration_seconds",
        kind: Kind::Histogram,
        help: "Duration of job runs, by job.",
        labels: &["job"],
    },
    Family {
        name: "pdd_storage_call_duration_seconds",
        kind: Kind::Histogram,
        help: "Latency of storage calls, by operation.",
        labels: &["operation"],
    },
    Family {
        name: "pdd_storage_errors_total",
        kind: Kind::Counter,
        help: "Storage calls that failed, by operation.",
        labels: &["operation"],
    },
    Family {
        name: "pdd_clients",
        kind: Kind::Gauge,
        help: "Registered clients, as last counted.",
        labels: &[],
    },
    Family {
        name: "pdd_active_campaigns",
        kind: Kind::Gauge,
        help: "Active campaigns, as last counted.",
        labels: &[],
    },
];

/// Upper bounds of the histogram buckets, in seconds (HTTP requests to nightly jobs).
const BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 300.0,
    1800.0,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Observations per bucket (not cumulative); the last slot is above every bound.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let slot = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        self.counts[slot] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Debug, Clone)]
enum Value {
    Number(f64),
    Histogram(Box<Histogram>),
}

/// Family index and label values (in the family's label order).
type Key = (usize, Vec<String>);

/// One number of the registry, with what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// As in `snapshot`: `name{label="value",...}`.
    pub key: String,
    /// The family's name (`pdd_http_requests_total`).
    pub family: &'static str,
    /// `_count` or `_sum` for a histogram's two numbers, empty otherwise.
    pub suffix: &'static str,
    /// The family's help line.
    pub help: &'static str,
    /// A gauge (a level); otherwise a counter, or a histogram's count or sum (totals that only
    /// grow).
    pub gauge: bool,
    /// Label names and values, in the family's order.
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

#[derive(Default)]
pub struct Registry {
    series: Mutex<BTreeMap<Key, Value>>,
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(names: &[&str], values: &[String], extra: Option<(&str, &str)>) -> String {
    let mut pairs: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}=\"{}\"", escape(v)))
        .collect();
    if let Some((n, v)) = extra {
        pairs.push(format!("{n}=\"{}\"", escape(v)));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", pairs.join(","))
    }
}

/// Prometheus numbers: integers without a fraction, and the special values spelled its way.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<Key, Value>) -> T) -> T {
        f(&mut self.series.lock())
    }

    fn add(&self, family: usize, labels: &[&str], n: f64) {
        let key = (family, labels.iter().map(|s| s.to_string()).collect());
        self.with(|series| {
            if let Value::Number(v) = series.entry(key).or_insert(Value::Number(0.0)) {
                *v += n;
            }
        });
    }

    fn set(&self, family: usize, n: f64) {
        self.with(|series| series.insert((family, Vec::new()), Value::Number(n)));
    }

    fn observe(&self, family: usize, labels: &[&str], latency: Duration) {
        let key = (family, labels.iter().map(|s| s.to_string()).collect());
        self.with(|series| {
            let value = series
                .entry(key)
                .or_insert_with(|| Value::Histogram(Box::default()));
            if let Value::Histogram(h) = value {
                h.observe(latency.as_secs_f64());
            }
        });
    }

    fn copy(&self) -> BTreeMap<Key, Value> {
        self.with(|series| series.clone())
    }

    /// Every series as `name{label="value",...}` → number; a histogram as its `_count` and
    /// `_sum`. Unlabelled counters and gauges are present from the start, at 0.
    pub fn snapshot(&self) -> BTreeMap<String, f64> {
        self.samples()
            .into_iter()
            .map(|s| (s.key, s.value))
            .collect()
    }

    /// The series of `snapshot`, each with what it is (for the console's history and pages),
    /// in family order, then by labels.
    pub fn samples(&self) -> Vec<Sample> {
        let series = self.copy();
        let mut out = Vec::with_capacity(series.len() * 2 + FAMILIES.len());
        for (i, f) in FAMILIES.iter().enumerate() {
            let sample = |suffix: &'static str, values: &[String], l: &str, value: f64| Sample {
                key: format!("{}{suffix}{l}", f.name),
                family: f.name,
                suffix,
                help: f.help,
                gauge: f.kind == Kind::Gauge,
                labels: f
                    .labels
                    .iter()
                    .copied()
                    .zip(values.iter().cloned())
                    .collect(),
                value,
            };
            let mut any = false;
            for ((_, values), value) in series.range((i, Vec::new())..(i + 1, Vec::new())) {
                any = true;
                let l = labels(f.labels, values, None);
                match value {
                    Value::Number(v) => out.push(sample("", values, &l, *v)),
                    Value::Histogram(h) => {
                        out.push(sample("_count", values, &l, h.count as f64));
                        out.push(sample("_sum", values, &l, h.sum));
                    }
                }
            }
            if !any && f.labels.is_empty() && f.kind != Kind::Histogram {
                out.push(sample("", &[], "", 0.0));
            }
        }
        out
    }

    /// The Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE` for every
    /// family, then its samples; histograms with cumulative `_bucket`s, `_sum` and `_count`.
    pub fn prometheus(&self) -> String {
        let series = self.copy();
        let mut out = String::new();
        for (i, f) in FAMILIES.iter().enumerate() {
            let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.as_str());
            let mut any = false;
            for ((_, values), value) in series.range((i, Vec::new())..(i + 1, Vec::new())) {
                any = true;
                match value {
                    Value::Number(v) => {
                        let l = labels(f.labels, values, None);
                        let _ = writeln!(out, "{}{l} {}", f.name, number(*v));
                    }
                    Value::Histogram(h) => {
                        let mut cumulative = 0;
                        for (slot, bound) in BUCKETS.iter().enumerate() {
                            cumulative += h.counts[slot];
                            let le = number(*bound);
                            let l = labels(f.labels, values, Some(("le", &le)));
                            let _ = writeln!(out, "{}_bucket{l} {cumulative}", f.name);
                        }
                        let l = labels(f.labels, values, Some(("le", "+Inf")));
                        let _ = writeln!(out, "{}_bucket{l} {}", f.name, h.count);
                        let l = labels(f.labels, values, None);
                        let _ = writeln!(out, "{}_sum{l} {}", f.name, number(h.sum));
                        let _ = writeln!(out, "{}_count{l} {}", f.name, h.count);
                    }
                }
            }
            if !any && f.labels.is_empty() && f.kind != Kind::Histogram {
                let _ = writeln!(out, "{} 0", f.name);
            }
        }
        out
    }
}

impl Metrics for Registry {
    fn kind(&self) -> &'static str {
        "registry"
    }

    fn client_registered(&self) {
        self.add(CLIENTS_REGISTERED, &[], 1.0);
    }

    fn ping_served(&self, commands: usize) {
        self.add(PINGS, &[], 1.0);
        self.add(PING_COMMANDS, &[], commands as f64);
    }

    fn sketch_accepted(&self) {
        self.add(SKETCHES_ACCEPTED, &[], 1.0);
    }

    fn sketch_rejected(&self, reason: RejectReason) {
        self.add(SKETCHES_REJECTED, &[reason.as_str()], 1.0);
    }

    fn job_run(&self, job: &str, ok: bool, duration: Duration, items: u64) {
        let status = if ok { "ok" } else { "failed" };
        self.add(JOB_RUNS, &[job, status], 1.0);
        self.add(JOB_ITEMS, &[job], items as f64);
        self.observe(JOB_DURATION, &[job], duration);
    }

    fn storage_call(&self, operation: &str, latency: Duration, ok: bool) {
        self.observe(STORAGE_DURATION, &[operation], latency);
        if !ok {
            self.add(STORAGE_ERRORS, &[operation], 1.0);
        }
    }

    fn http_request(&self, route: &str, method: &str, status: u16, latency: Duration) {
        self.add(HTTP_REQUESTS, &[route, method, &status.to_string()], 1.0);
        self.observe(HTTP_DURATION, &[route, method], latency);
    }

    fn gauges(&self, clients: u64, active_campaigns: u64) {
        self.set(CLIENTS, clients as f64);
        self.set(ACTIVE_CAMPAIGNS, active_campaigns as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_counted_by_labels() {
        let r = Registry::new();
        r.http_request("/api/stats", "GET", 200, Duration::from_millis(500));
        r.http_request("/api/stats", "GET", 200, Duration::from_millis(250));
        r.http_request("/api/stats", "GET", 401, Duration::from_millis(125));
        r.sketch_rejected(RejectReason::AlreadySubmitted);
        r.ping_served(3);
        r.ping_served(0);
        r.job_run("create-sketches", true, Duration::from_secs(2), 1500);
        r.gauges(42, 2);
        let s = r.snapshot();
        let get = |k: &str| s.get(k).copied();
        assert_eq!(
            get(r#"pdd_http_requests_total{route="/api/stats",method="GET",status="200"}"#),
            Some(2.0)
        );
        assert_eq!(
            get(r#"pdd_http_requests_total{route="/api/stats",method="GET",status="401"}"#),
            Some(1.0)
        );
        assert_eq!(
            get(r#"pdd_http_request_duration_seconds_count{route="/api/stats",method="GET"}"#),
            Some(3.0)
        );
        assert_eq!(
            get(r#"pdd_http_request_duration_seconds_sum{route="/api/stats",method="GET"}"#),
            Some(0.875)
        );
        assert_eq!(
            get(r#"pdd_sketches_rejected_total{reason="already_submitted"}"#),
            Some(1.0)
        );
        assert_eq!(get("pdd_pings_total"), Some(2.0));
        assert_eq!(get("pdd_ping_commands_total"), Some(3.0));
        assert_eq!(get("pdd_sketches_accepted_total"), Some(0.0));
        assert_eq!(
            get(r#"pdd_job_runs_total{job="create-sketches",status="ok"}"#),
            Some(1.0)
        );
        assert_eq!(
            get(r#"pdd_job_items_total{job="create-sketches"}"#),
            Some(1500.0)
        );
        assert_eq!(get("pdd_clients"), Some(42.0));
        assert_eq!(get("pdd_active_campaigns"), Some(2.0));
    }

    #[test]
    fn prometheus_text_has_every_family_and_cumulative_buckets() {
        let r = Registry::new();
        let empty = r.prometheus();
        assert_eq!(
            empty.lines().filter(|l| l.starts_with("# HELP ")).count(),
            14
        );
        assert_eq!(
            empty.lines().filter(|l| l.starts_with("# TYPE ")).count(),
            14
        );
        assert_eq!(empty.lines().filter(|l| !l.starts_with('#')).count(), 6);
        assert!(empty.contains("# TYPE pdd_pings_total counter\npdd_pings_total 0\n"));
        r.http_request(
            "/api/clients/{name}/ping",
            "POST",
            200,
            Duration::from_millis(3),
        );
        r.http_request(
            "/api/clients/{name}/ping",
            "POST",
            200,
            Duration::from_millis(700),
        );
        r.storage_call("record_ping", Duration::from_millis(2), false);
        let text = r.prometheus();
        let bucket = |le: &str| {
            format!(
                "pdd_http_request_duration_seconds_bucket{{route=\"/api/clients/{{name}}/ping\",method=\"POST\",le=\"{le}\"}}"
            )
        };
        for (le, n) in [
            ("0.0025", 0),
            ("0.005", 1),
            ("0.5", 1),
            ("1", 2),
            ("+Inf", 2),
        ] {
            assert!(
                text.lines().any(|l| l == format!("{} {n}", bucket(le))),
                "{le} {n} in\n{text}"
            );
        }
        assert!(text.contains("# TYPE pdd_http_request_duration_seconds histogram\n"));
        assert!(text.contains("pdd_storage_errors_total{operation=\"record_ping\"} 1\n"));
    }

    #[test]
    fn samples_say_what_each_series_is_and_match_the_snapshot() {
        let r = Registry::new();
        r.http_request("/api/stats", "GET", 200, Duration::from_millis(500));
        r.gauges(3, 1);
        let samples = r.samples();
        let snapshot = r.snapshot();
        assert_eq!(samples.len(), snapshot.len());
        for s in &samples {
            assert_eq!(snapshot.get(&s.key), Some(&s.value), "{}", s.key);
        }
        let requests = samples
            .iter()
            .find(|s| s.family == "pdd_http_requests_total")
            .unwrap();
        assert_eq!(
            requests.labels,
            vec![
                ("route", "/api/stats".to_string()),
                ("method", "GET".to_string()),
                ("status", "200".to_string())
            ]
        );
        assert_eq!((requests.suffix, requests.gauge), ("", false));
        let count = samples
            .iter()
            .find(|s| s.key.starts_with("pdd_http_request_duration_seconds_count"))
            .unwrap();
        assert_eq!((count.suffix, count.value), ("_count", 1.0));
        let clients = samples.iter().find(|s| s.key == "pdd_clients").unwrap();
        assert!(clients.gauge);
        assert_eq!(clients.value, 3.0);
        assert_eq!(clients.help, "Registered clients, as last counted.");
    }

    #[test]
    fn label_values_are_escaped() {
        let r = Registry::new();
        r.job_run("a\"b\\c\nd", false, Duration::from_secs(1), 0);
        let text = r.prometheus();
        assert!(text.contains(r#"pdd_job_runs_total{job="a\"b\\c\nd",status="failed"} 1"#));
    }
}
