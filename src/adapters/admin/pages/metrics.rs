//! `/admin/metrics`: every series of the registry with its current value and its last day as a
//! sparkline, from the metrics history: counters (and histograms' counts and sums) as their
//! increase per clock minute, gauges as their level.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::adapters::admin::history::Window;
use crate::adapters::admin::html::{document, esc, number, ser_opt_time, ser_time, Nav};
use crate::adapters::admin::svg::sparkline;

/// Most points a sparkline shows: a day in 15-minute steps.
pub const MAX_POINTS: usize = 96;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricsPage {
    #[serde(serialize_with = "ser_time")]
    pub now: DateTime<Utc>,
    /// Samples kept and the time of the oldest.
    pub samples: usize,
    #[serde(serialize_with = "ser_opt_time")]
    pub since: Option<DateTime<Utc>>,
    /// Series seen but not kept (the history's bound).
    pub untracked: usize,
    pub families: Vec<Family>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = MetricFamily)]
pub struct Family {
    pub name: String,
    pub help: String,
    pub series: Vec<Series>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = MetricSeries)]
pub struct Series {
    pub key: String,
    pub gauge: bool,
    pub current: f64,
    /// Increase per minute (counters) or level (gauges), oldest first, at most `MAX_POINTS`.
    pub points: Vec<f64>,
}

/// Increase per minute of a counter over about `max` equal runs of intervals.
fn rates(times: &[DateTime<Utc>], values: &[f64], max: usize) -> Vec<f64> {
    let intervals = times.len().min(values.len()).saturating_sub(1);
    if intervals == 0 {
        return Vec::new();
    }
    let step = intervals.div_ceil(max.max(1));
    (0..intervals)
        .step_by(step)
        .map(|a| {
            let b = (a + step).min(intervals);
            let minutes = (times[b] - times[a]).num_milliseconds() as f64 / 60_000.0;
            let delta = (values[b] - values[a]).max(0.0);
            if minutes > 0.0 {
                delta / minutes
            } else {
                delta
            }
        })
        .collect()
}

/// The level of a gauge at the end of about `max` equal runs of samples.
fn levels(values: &[f64], max: usize) -> Vec<f64> {
    if values.is_empty() {
        return Vec::new();
    }
    let step = values.len().div_ceil(max.max(1));
    values
        .chunks(step)
        .filter_map(|c| c.last().copied())
        .collect()
}

pub fn metrics_page(history: &Window, now: DateTime<Utc>) -> MetricsPage {
    let mut families: BTreeMap<&str, Family> = BTreeMap::new();
    for (info, values) in &history.series {
        let family = families.entry(info.family).or_insert_with(|| Family {
            name: info.family.to_string(),
            help: info.help.to_string(),
            series: Vec::new(),
        });
        let points = if info.gauge {
            levels(values, MAX_POINTS)
        } else {
            rates(&history.times, values, MAX_POINTS)
        };
        family.series.push(Series {
            key: info.key.clone(),
            gauge: info.gauge,
            current: values.last().copied().unwrap_or(0.0),
            points,
        });
    }
    let mut families: Vec<Family> = families.into_values().collect();
    for f in &mut families {
        f.series.sort_by(|a, b| a.key.cmp(&b.key));
    }
    MetricsPage {
        now,
        samples: history.times.len(),
        since: history.times.first().copied(),
        untracked: history.untracked,
        families,
    }
}

pub fn render(model: &MetricsPage, pages: &[Nav]) -> String {
    let series: usize = model.families.iter().map(|f| f.series.len()).sum();
    let mut out = String::with_capacity(1024 + series * 1800);
    let _ = write!(
        out,
        "<p>{} series, {} samples (one a clock minute, a day kept). Counters show their increase \
         per minute, gauges their level. Raw: <a href=\"/admin/metrics.json\">JSON</a>, \
         <a href=\"/metrics\">Prometheus</a>.</p>",
        series, model.samples
    );
    if model.untracked > 0 {
        let _ = write!(
            out,
            "<p class=\"bad\">{} series beyond the history's bound are not kept.</p>",
            model.untracked
        );
    }
    out.push_str("<nav class=\"toc\">");
    for f in &model.families {
        let _ = write!(out, "<a href=\"#{0}\">{0}</a> ", esc(&f.name));
    }
    out.push_str("</nav>");
    for f in &model.families {
        let _ = write!(
            out,
            "<section id=\"{0}\"><h2>{0}</h2><p class=\"hint\">{1}</p>\
             <table class=\"list metrics\"><thead><tr><th>Series</th><th>Now</th>\
             <th>Last day</th></tr></thead><tbody>",
            esc(&f.name),
            esc(&f.help)
        );
        for s in &f.series {
            let what = if s.gauge { "level" } else { "per minute" };
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td>{}</td></tr>",
                esc(&s.key),
                number(s.current),
                sparkline(&format!("{} ({what})", s.key), &s.points)
            );
        }
        out.push_str("</tbody></table></section>");
    }
    document("Metrics", Nav::Metrics, pages, &out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::admin::history::MetricsHistory;
    use crate::adapters::metrics::registry::Registry;
    use crate::ports::Metrics;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_526_000_000 + minute * 60, 0).unwrap()
    }

    #[test]
    fn counters_become_rates_per_minute_and_gauges_levels_within_the_point_budget() {
        let times: Vec<DateTime<Utc>> = (0..5).map(at).collect();
        assert_eq!(
            rates(&times, &[0.0, 2.0, 4.0, 10.0, 10.0], 10),
            vec![2.0, 2.0, 6.0, 0.0]
        );
        assert_eq!(
            rates(&times, &[0.0, 2.0, 4.0, 10.0, 10.0], 2),
            vec![2.0, 3.0]
        );
        assert_eq!(rates(&times[..1], &[3.0], 10), Vec::<f64>::new());
        assert_eq!(levels(&[1.0, 2.0, 3.0, 4.0, 5.0], 2), vec![3.0, 5.0]);
        let day: Vec<DateTime<Utc>> = (0..1440).map(at).collect();
        let values: Vec<f64> = (0..1440).map(|i| i as f64).collect();
        assert_eq!(rates(&day, &values, MAX_POINTS).len(), 96);
        assert!(rates(&day, &values, MAX_POINTS).iter().all(|r| *r == 1.0));
        assert_eq!(levels(&values, MAX_POINTS).len(), 96);
    }

    #[test]
    fn every_series_gets_a_row_with_a_sparkline_of_its_points() {
        let registry = Registry::new();
        let history = MetricsHistory::default();
        for m in 0..4 {
            registry.ping_served(2);
            registry.gauges(10 + m as u64, 1);
            history.record(at(m), &registry.samples());
        }
        let model = metrics_page(&history.window(at(-10)), at(3));
        assert_eq!(model.samples, 4);
        let pings = model
            .families
            .iter()
            .flat_map(|f| &f.series)
            .find(|s| s.key == "pdd_pings_total")
            .unwrap();
        assert_eq!((pings.current, pings.points.clone()), (4.0, vec![1.0; 3]));
        let clients = model
            .families
            .iter()
            .flat_map(|f| &f.series)
            .find(|s| s.key == "pdd_clients")
            .unwrap();
        assert_eq!(clients.points, vec![10.0, 11.0, 12.0, 13.0]);
        let html = render(&model, &Nav::ALL);
        let rows = model.families.iter().map(|f| f.series.len()).sum::<usize>();
        assert_eq!(html.matches("<svg class=\"spark\"").count(), rows);
        assert!(html.contains("data-points=\"4\""));
        assert!(html.contains("<h2>pdd_pings_total</h2>"));
    }
}
