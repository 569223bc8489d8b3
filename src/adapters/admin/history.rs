//! The console's memory of the metrics: a sample of the registry every clock minute, the last
//! day of them kept, for the overview's traffic chart and the metrics page's sparklines.
//! Bounded whatever happens: at most `capacity` samples of at most `max_series` series (beyond
//! that, new series are counted but not kept), one `f64` each.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::adapters::metrics::registry::{Registry, Sample};
use crate::ports::Clock;

/// A day of minutes.
pub const CAPACITY: usize = 24 * 60;
/// Far above what the registry holds (about 250 series with every route, status and storage
/// operation seen): 1024 × 1440 × 8 bytes = 11.8 MB at worst, about 3 MB in practice.
pub const MAX_SERIES: usize = 1024;

/// What a series is (everything of a registry sample but its value).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesInfo {
    pub key: String,
    pub family: &'static str,
    pub suffix: &'static str,
    pub help: &'static str,
    pub gauge: bool,
    pub labels: Vec<(&'static str, String)>,
}

impl SeriesInfo {
    fn of(sample: &Sample) -> SeriesInfo {
        SeriesInfo {
            key: sample.key.clone(),
            family: sample.family,
            suffix: sample.suffix,
            help: sample.help,
            gauge: sample.gauge,
            labels: sample.labels.clone(),
        }
    }

    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Column {
    info: SeriesInfo,
    /// One value per kept sample time.
    values: VecDeque<f64>,
}

#[derive(Default)]
struct Inner {
    times: VecDeque<DateTime<Utc>>,
    columns: Vec<Column>,
    index: HashMap<String, usize>,
    /// Series seen beyond `max_series`, not kept.
    untracked: usize,
}

pub struct MetricsHistory {
    inner: Mutex<Inner>,
    capacity: usize,
    max_series: usize,
}

/// A copy of part of the history: sample times, oldest first, and each series' values at them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    pub times: Vec<DateTime<Utc>>,
    pub series: Vec<(SeriesInfo, Vec<f64>)>,
    pub untracked: usize,
}

impl Default for MetricsHistory {
    fn default() -> Self {
        MetricsHistory::new(CAPACITY, MAX_SERIES)
    }
}

impl MetricsHistory {
    pub fn new(capacity: usize, max_series: usize) -> Self {
        MetricsHistory {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
            max_series,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Keeps `samples` as read at `at`, forgetting the oldest sample when full. A series missing
    /// from `samples` keeps its last value; a new one reads 0 before it appeared (the registry
    /// creates a series at its first event).
    pub fn record(&self, at: DateTime<Utc>, samples: &[Sample]) {
        let (capacity, max_series) = (self.capacity, self.max_series);
        self.with(|inner| {
            if inner.times.len() == capacity {
                inner.times.pop_front();
                for c in &mut inner.columns {
                    c.values.pop_front();
                }
            }
            inner.times.push_back(at);
            let kept = inner.times.len();
            for c in &mut inner.columns {
                let last = c.values.back().copied().unwrap_or(0.0);
                c.values.push_back(last);
            }
            for sample in samples {
                let i = match inner.index.get(&sample.key) {
                    Some(i) => *i,
                    None if inner.columns.len() < max_series => {
                        let mut values = VecDeque::with_capacity(capacity);
                        values.resize(kept, 0.0);
                        inner.columns.push(Column {
                            info: SeriesInfo::of(sample),
                            values,
                        });
                        inner
                            .index
                            .insert(sample.key.clone(), inner.columns.len() - 1);
                        inner.columns.len() - 1
                    }
                    None => {
                        inner.untracked += 1;
                        continue;
                    }
                };
                if let Some(v) = inner.columns[i].values.back_mut() {
                    *v = sample.value;
                }
            }
        })
    }

    /// The samples taken at or after `since`, with the one just before (so that the first
    /// interval has a start), for every series.
    pub fn window(&self, since: DateTime<Utc>) -> Window {
        self.with(|inner| {
            let first = inner
                .times
                .partition_point(|t| *t < since)
                .saturating_sub(1);
            Window {
                times: inner.times.range(first..).copied().collect(),
                series: inner
                    .columns
                    .iter()
                    .map(|c| (c.info.clone(), c.values.range(first..).copied().collect()))
                    .collect(),
                untracked: inner.untracked,
            }
        })
    }

    /// Number of samples kept.
    pub fn len(&self) -> usize {
        self.with(|inner| inner.times.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of series kept.
    pub fn series(&self) -> usize {
        self.with(|inner| inner.columns.len())
    }
}

/// Real time between two samples: a minute of the clock (0.21 s of real time at 288× in
/// testing mode, so that the history still covers a day of the clock).
pub fn sample_period(speed: u32) -> Duration {
    Duration::from_secs(60) / speed.max(1)
}

/// Samples `registry` into `history` every `every` (real time), stamped by `clock`, at once
/// and then until `stop`.
pub async fn run_sampler(
    history: Arc<MetricsHistory>,
    registry: Arc<Registry>,
    clock: Arc<dyn Clock>,
    every: Duration,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => history.record(clock.now(), &registry.samples()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Metrics;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_526_000_000 + minute * 60, 0).unwrap()
    }

    #[test]
    fn it_keeps_the_last_capacity_samples_of_at_most_max_series() {
        let history = MetricsHistory::new(3, 16);
        let registry = Registry::new();
        for minute in 0..5 {
            registry.ping_served(1);
            history.record(at(minute), &registry.samples());
        }
        assert_eq!(history.len(), 3);
        let w = history.window(at(-100));
        assert_eq!(w.times, vec![at(2), at(3), at(4)]);
        let pings = w
            .series
            .iter()
            .find(|(s, _)| s.key == "pdd_pings_total")
            .unwrap();
        assert_eq!(pings.1, vec![3.0, 4.0, 5.0]);
        assert!(w.series.iter().all(|(_, v)| v.len() == 3));

        let tight = MetricsHistory::new(10, 2);
        tight.record(at(0), &registry.samples());
        assert_eq!(tight.series(), 2);
        assert_eq!(tight.window(at(0)).untracked, registry.samples().len() - 2);
    }

    #[test]
    fn a_new_series_reads_zero_before_it_appeared_and_a_window_starts_one_sample_early() {
        let history = MetricsHistory::new(10, 100);
        let registry = Registry::new();
        history.record(at(0), &registry.samples());
        registry.http_request("/api/stats", "GET", 200, Duration::from_millis(1));
        history.record(at(1), &registry.samples());
        history.record(at(2), &registry.samples());
        let w = history.window(at(1));
        assert_eq!(w.times, vec![at(0), at(1), at(2)]);
        let requests = w
            .series
            .iter()
            .find(|(s, _)| s.family == "pdd_http_requests_total")
            .unwrap();
        assert_eq!(requests.1, vec![0.0, 1.0, 1.0]);
        assert_eq!(requests.0.label("route"), Some("/api/stats"));
        assert_eq!(history.window(at(5)).times, vec![at(2)]);
        assert!(MetricsHistory::default().window(at(0)).times.is_empty());
    }

    #[test]
    fn a_sample_every_clock_minute() {
        assert_eq!(sample_period(1), Duration::from_secs(60));
        assert_eq!(sample_period(288), Duration::from_secs(60) / 288);
        assert_eq!(sample_period(0), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn the_sampler_samples_at_once_then_every_period_until_stopped() {
        use crate::testing::ManualClock;
        let history = Arc::new(MetricsHistory::default());
        let registry = Arc::new(Registry::new());
        let clock = Arc::new(ManualClock::new(at(0)));
        let stop = CancellationToken::new();
        let task = tokio::spawn(run_sampler(
            history.clone(),
            registry,
            clock.clone(),
            Duration::from_secs(60),
            stop.clone(),
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(history.len(), 1);
        clock.set(at(1));
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(history.len(), 2);
        assert_eq!(history.window(at(1)).times.last(), Some(&at(1)));
        stop.cancel();
        task.await.unwrap();
    }
}
