//! Metrics sent to a DogStatsD agent over UDP: a few metric names with tags (never one name
//! per route), each tagged `environment:<ENVIRONMENT>`. Sending never blocks a request:
//! events go through a bounded queue to a worker thread that buffers them into packets, and
//! a flusher thread pushes out a partly filled packet every second.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::{Arc, Weak};
use std::thread;
use std::time::Duration;

use anyhow::Context as _;
use cadence::prelude::*;
use cadence::{BufferedUdpMetricSink, MetricBuilder, QueuingMetricSink, StatsdClient};

use crate::ports::{Metrics, RejectReason};

/// Metrics waiting for the worker thread; past this, new ones are dropped rather than wait.
const QUEUE_CAPACITY: usize = 64 * 1024;
/// Bytes per UDP packet: fits an Ethernet MTU with IP and UDP headers.
const PACKET_BYTES: usize = 1432;
const FLUSH_EVERY: Duration = Duration::from_secs(1);

pub struct DatadogMetrics {
    client: Arc<StatsdClient>,
}

impl DatadogMetrics {
    /// `addr` is the agent's `host:port`; it is resolved once here, so an unresolvable name
    /// is a start-up error rather than silently lost metrics.
    pub fn new(addr: &str, environment: &str) -> anyhow::Result<Self> {
        let target: SocketAddr = addr
            .to_socket_addrs()
            .with_context(|| format!("invalid DogStatsD address {addr}"))?
            .next()
            .with_context(|| format!("DogStatsD address {addr} resolves to nothing"))?;
        let local: SocketAddr = if target.is_ipv6() {
            "[::]:0".parse()?
        } else {
            "0.0.0.0:0".parse()?
        };
        let socket = UdpSocket::bind(local).context("cannot open a UDP socket for DogStatsD")?;
        socket.set_nonblocking(true)?;
        let udp = BufferedUdpMetricSink::with_capacity(target, socket, PACKET_BYTES)
            .with_context(|| format!("cannot send DogStatsD metrics to {addr}"))?;
        let sink = QueuingMetricSink::builder()
            .with_capacity(QUEUE_CAPACITY)
            .with_error_handler(|e| tracing::debug!(error = %e, "DogStatsD send failed"))
            .build(udp);
        let client = StatsdClient::builder("pdd", sink)
            .with_tag("environment", tag_value(environment))
            .with_error_handler(|e| tracing::debug!(error = %e, "DogStatsD metric dropped"))
            .build();
        let client = Arc::new(client);
        spawn_flusher(Arc::downgrade(&client));
        Ok(DatadogMetrics { client })
    }

    /// Sends what is buffered now instead of at the next periodic flush.
    pub fn flush(&self) {
        let _ = self.client.flush();
    }
}

/// Runs until the client is dropped.
fn spawn_flusher(client: Weak<StatsdClient>) {
    let spawned = thread::Builder::new()
        .name("dogstatsd-flush".into())
        .spawn(move || loop {
            thread::sleep(FLUSH_EVERY);
            match client.upgrade() {
                Some(client) => {
                    let _ = client.flush();
                }
                None => return,
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "DogStatsD flusher not started; metrics leave in full packets only");
    }
}

/// DogStatsD separates fields with `|`, tags with `,` and lines with newlines; a tag value
/// from a request (the method) must not be able to forge fields or metrics.
fn tag_value(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            '|' | ',' | '#' | '\n' | '\r' | ' ' => '_',
            c => c,
        })
        .collect()
}

fn outcome(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "error"
    }
}

/// Adds tags from owned strings: cadence's builder borrows each tag for its own lifetime.
fn tagged<'a, T: cadence::Metric + From<String>>(
    mut metric: MetricBuilder<'a, 'a, T>,
    tags: &'a [(&'a str, String)],
) -> MetricBuilder<'a, 'a, T> {
    for (key, value) in tags {
        metric = metric.with_tag(key, value);
    }
    metric
}

impl Metrics for DatadogMetrics {
    fn kind(&self) -> &'static str {
        "datadog"
    }

    fn client_registered(&self) {
        self.client.incr_with_tags("clients.registered").send();
    }

    fn ping_served(&self, commands: usize) {
        self.client.incr_with_tags("ping").send();
        self.client
            .histogram_with_tags("ping.commands", commands as u64)
            .send();
    }

    fn sketch_accepted(&self) {
        self.client
            .incr_with_tags("sketches")
            .with_tag("outcome", "accepted")
            .send();
    }

    fn sketch_rejected(&self, reason: RejectReason) {
        self.client
            .incr_with_tags("sketches")
            .with_tag("outcome", "rejected")
            .with_tag("reason", reason.as_str())
            .send();
    }

    fn job_run(&self, job: &str, ok: bool, duration: Duration, items: u64) {
        let tags = [("job", tag_value(job)), ("outcome", outcome(ok).to_owned())];
        tagged(self.client.incr_with_tags("jobs.runs"), &tags).send();
        tagged(self.client.time_with_tags("jobs.duration", duration), &tags).send();
        tagged(
            self.client.count_with_tags("jobs.items", items as i64),
            &tags,
        )
        .send();
    }

    fn storage_call(&self, operation: &str, latency: Duration, ok: bool) {
        let tags = [
            ("operation", tag_value(operation)),
            ("outcome", outcome(ok).to_owned()),
        ];
        tagged(self.client.incr_with_tags("storage.calls"), &tags).send();
        tagged(
            self.client.time_with_tags("storage.latency", latency),
            &tags,
        )
        .send();
    }

    fn http_request(&self, route: &str, method: &str, status: u16, latency: Duration) {
        let tags = [
            ("route", tag_value(route)),
            ("method", tag_value(method)),
            ("status", status.to_string()),
        ];
        tagged(self.client.incr_with_tags("http.requests"), &tags).send();
        tagged(self.client.time_with_tags("http.latency", latency), &tags).send();
    }

    fn gauges(&self, clients: u64, active_campaigns: u64) {
        self.client.gauge_with_tags("clients", clients).send();
        self.client
            .gauge_with_tags("campaigns.active", active_campaigns)
            .send();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// One DogStatsD line: `name:value|type|#tag,tag`.
    #[derive(Debug, PartialEq)]
    struct Line {
        name: String,
        value: String,
        kind: String,
        tags: Vec<String>,
    }

    fn parse(line: &str) -> Line {
        let (name, rest) = line.split_once(':').expect("name:value");
        let mut fields = rest.split('|');
        let value = fields.next().unwrap().to_owned();
        let kind = fields.next().expect("type").to_owned();
        let mut tags: Vec<String> = fields
            .find_map(|f| f.strip_prefix('#'))
            .map(|t| t.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        tags.sort();
        Line {
            name: name.to_owned(),
            value,
            kind,
            tags,
        }
    }

    fn line(name: &str, value: &str, kind: &str, tags: &[&str]) -> Line {
        let mut tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        tags.sort();
        Line {
            name: name.into(),
            value: value.into(),
            kind: kind.into(),
            tags,
        }
    }

    struct Agent {
        socket: UdpSocket,
    }

    impl Agent {
        fn start() -> Self {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            Agent { socket }
        }

        fn addr(&self) -> String {
            self.socket.local_addr().unwrap().to_string()
        }

        /// Waits (at most 5 s, longer than the periodic flush) for `n` lines.
        fn receive(&self, n: usize) -> Vec<Line> {
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut lines = Vec::new();
            let mut buf = [0u8; 65536];
            while lines.len() < n && Instant::now() < deadline {
                if let Ok(len) = self.socket.recv(&mut buf) {
                    let packet = std::str::from_utf8(&buf[..len]).unwrap();
                    lines.extend(packet.lines().filter(|l| !l.is_empty()).map(parse));
                }
            }
            lines
        }
    }

    #[test]
    fn an_http_request_is_a_counter_and_a_timer_tagged_route_method_status_and_environment() {
        let agent = Agent::start();
        let metrics = DatadogMetrics::new(&agent.addr(), "test").unwrap();
        metrics.http_request("/api/ping", "POST", 200, Duration::from_millis(17));
        let tags = [
            "route:/api/ping",
            "method:POST",
            "status:200",
            "environment:test",
        ];
        assert_eq!(
            agent.receive(2),
            vec![
                line("pdd.http.requests", "1", "c", &tags),
                line("pdd.http.latency", "17", "ms", &tags),
            ]
        );
    }

    #[test]
    fn ping_sketch_job_storage_and_gauge_events_use_a_few_names_with_tags() {
        let agent = Agent::start();
        let metrics = DatadogMetrics::new(&agent.addr(), "production").unwrap();
        metrics.ping_served(2);
        metrics.sketch_accepted();
        metrics.sketch_rejected(RejectReason::AlreadySubmitted);
        metrics.job_run("aggregate-sketches", false, Duration::from_millis(1500), 4);
        metrics.storage_call("list_campaigns", Duration::from_millis(3), true);
        metrics.gauges(120, 3);
        metrics.client_registered();
        let env = "environment:production";
        let job = ["job:aggregate-sketches", "outcome:error", env];
        let storage = ["operation:list_campaigns", "outcome:ok", env];
        assert_eq!(
            agent.receive(12),
            vec![
                line("pdd.ping", "1", "c", &[env]),
                line("pdd.ping.commands", "2", "h", &[env]),
                line("pdd.sketches", "1", "c", &["outcome:accepted", env]),
                line(
                    "pdd.sketches",
                    "1",
                    "c",
                    &["outcome:rejected", "reason:already_submitted", env]
                ),
                line("pdd.jobs.runs", "1", "c", &job),
                line("pdd.jobs.duration", "1500", "ms", &job),
                line("pdd.jobs.items", "4", "c", &job),
                line("pdd.storage.calls", "1", "c", &storage),
                line("pdd.storage.latency", "3", "ms", &storage),
                line("pdd.clients", "120", "g", &[env]),
                line("pdd.campaigns.active", "3", "g", &[env]),
                line("pdd.clients.registered", "1", "c", &[env]),
            ]
        );
    }

    #[test]
    fn tag_values_cannot_forge_fields_or_metrics() {
        let agent = Agent::start();
        let metrics = DatadogMetrics::new(&agent.addr(), "a,b").unwrap();
        metrics.http_request("/x", "GET|#evil\nx:1|c", 404, Duration::from_millis(1));
        let tags = [
            "route:/x",
            "method:GET__evil_x:1_c",
            "status:404",
            "environment:a_b",
        ];
        assert_eq!(
            agent.receive(2),
            vec![
                line("pdd.http.requests", "1", "c", &tags),
                line("pdd.http.latency", "1", "ms", &tags),
            ]
        );
    }

    #[test]
    fn an_unresolvable_address_is_an_error_naming_it() {
        let err = DatadogMetrics::new("not an address", "test")
            .err()
            .expect("fails");
        assert!(format!("{err:#}").contains("not an address"), "{err:#}");
    }

    #[test]
    fn kind_is_datadog() {
        let agent = Agent::start();
        assert_eq!(
            DatadogMetrics::new(&agent.addr(), "test").unwrap().kind(),
            "datadog"
        );
    }
}
