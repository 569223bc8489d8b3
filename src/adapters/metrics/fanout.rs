//! Metrics sent to several recorders at once: the in-process registry that the admin port
//! serves, and DogStatsD when it is configured.

use std::sync::Arc;
use std::time::Duration;

use crate::ports::{Metrics, RejectReason};

pub struct Fanout {
    sinks: Vec<Arc<dyn Metrics>>,
    kind: &'static str,
}

impl Fanout {
    /// Built once at start-up: its kind (`registry+datadog`, for `server_info`) is a string
    /// made here and kept for the life of the process, as `Metrics::kind` wants.
    pub fn new(sinks: Vec<Arc<dyn Metrics>>) -> Self {
        let kinds: Vec<&str> = sinks.iter().map(|s| s.kind()).collect();
        let kind = Box::leak(kinds.join("+").into_boxed_str());
        Fanout { sinks, kind }
    }

    fn each(&self, event: impl Fn(&dyn Metrics)) {
        for sink in &self.sinks {
            event(sink.as_ref());
        }
    }
}

impl Metrics for Fanout {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn client_registered(&self) {
        self.each(|m| m.client_registered());
    }

    fn ping_served(&self, commands: usize) {
        self.each(|m| m.ping_served(commands));
    }

    fn sketch_accepted(&self) {
        self.each(|m| m.sketch_accepted());
    }

    fn sketch_rejected(&self, reason: RejectReason) {
        self.each(|m| m.sketch_rejected(reason));
    }

    fn job_run(&self, job: &str, ok: bool, duration: Duration, items: u64) {
        self.each(|m| m.job_run(job, ok, duration, items));
    }

    fn storage_call(&self, operation: &str, latency: Duration, ok: bool) {
        self.each(|m| m.storage_call(operation, latency, ok));
    }

    fn http_request(&self, route: &str, method: &str, status: u16, latency: Duration) {
        self.each(|m| m.http_request(route, method, status, latency));
    }

    fn gauges(&self, clients: u64, active_campaigns: u64) {
        self.each(|m| m.gauges(clients, active_campaigns));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    struct Recorder {
        kind: &'static str,
        events: Mutex<Vec<String>>,
    }

    impl Recorder {
        fn new(kind: &'static str) -> Arc<Self> {
            Arc::new(Recorder {
                kind,
                events: Mutex::new(Vec::new()),
            })
        }

        fn push(&self, event: String) {
            self.events.lock().push(event);
        }

        fn events(&self) -> Vec<String> {
            self.events.lock().clone()
        }
    }

    impl Metrics for Recorder {
        fn kind(&self) -> &'static str {
            self.kind
        }
        fn client_registered(&self) {
            self.push("client_registered".into());
        }
        fn ping_served(&self, commands: usize) {
            self.push(format!("ping_served {commands}"));
        }
        fn sketch_accepted(&self) {
            self.push("sketch_accepted".into());
        }
        fn sketch_rejected(&self, reason: RejectReason) {
            self.push(format!("sketch_rejected {}", reason.as_str()));
        }
        fn job_run(&self, job: &str, ok: bool, duration: Duration, items: u64) {
            self.push(format!("job_run {job} {ok} {duration:?} {items}"));
        }
        fn storage_call(&self, operation: &str, latency: Duration, ok: bool) {
            self.push(format!("storage_call {operation} {latency:?} {ok}"));
        }
        fn http_request(&self, route: &str, method: &str, status: u16, latency: Duration) {
            self.push(format!(
                "http_request {route} {method} {status} {latency:?}"
            ));
        }
        fn gauges(&self, clients: u64, active_campaigns: u64) {
            self.push(format!("gauges {clients} {active_campaigns}"));
        }
    }

    #[test]
    fn every_event_reaches_every_recorder_in_order() {
        let a = Recorder::new("registry");
        let b = Recorder::new("datadog");
        let fanout = Fanout::new(vec![a.clone(), b.clone()]);

        fanout.client_registered();
        fanout.ping_served(3);
        fanout.sketch_accepted();
        fanout.sketch_rejected(RejectReason::WindowClosed);
        fanout.job_run("create-sketches", true, Duration::from_millis(12), 7);
        fanout.storage_call("save_sketch", Duration::from_micros(250), false);
        fanout.http_request("/api/ping", "POST", 200, Duration::from_millis(4));
        fanout.gauges(42, 2);

        let expected = vec![
            "client_registered",
            "ping_served 3",
            "sketch_accepted",
            "sketch_rejected window_closed",
            "job_run create-sketches true 12ms 7",
            "storage_call save_sketch 250µs false",
            "http_request /api/ping POST 200 4ms",
            "gauges 42 2",
        ];
        assert_eq!(a.events(), expected);
        assert_eq!(b.events(), expected);
    }

    #[test]
    fn kind_lists_the_recorders() {
        let fanout = Fanout::new(vec![Recorder::new("registry"), Recorder::new("datadog")]);
        assert_eq!(fanout.kind(), "registry+datadog");
    }

    #[test]
    fn an_empty_fanout_records_nothing_and_does_not_fail() {
        let fanout = Fanout::new(Vec::new());
        fanout.ping_served(1);
        fanout.gauges(1, 1);
        assert_eq!(fanout.kind(), "");
    }
}
