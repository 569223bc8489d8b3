//! Reads what `/metrics` serves with `openmetrics-parser`, whose grammar refuses malformed
//! lines and escapes, and which refuses a second TYPE, a family split apart, a series twice,
//! and histograms that are not cumulative or lack a `+Inf` bucket. Two rules of this registry
//! it leaves open are checked here on its result: every family declares its TYPE, and a
//! histogram's `+Inf` bucket equals its `_count`. Samples come back one per line of the text.

use openmetrics_parser::prometheus::parse_prometheus as parse_exposition;
use openmetrics_parser::{PrometheusType, PrometheusValue};

/// One sample (one line) of the Prometheus text format.
#[derive(Debug, Clone, PartialEq)]
pub struct PromSample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl PromSample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `le` and `quantile` as the text writes them.
fn bound(x: f64) -> String {
    if x == f64::INFINITY {
        "+Inf".into()
    } else {
        x.to_string()
    }
}

/// Parses the text exposition format (0.0.4) strictly; see the module's comment.
pub fn parse_prometheus(text: &str) -> Result<Vec<PromSample>, String> {
    let exposition = parse_exposition(text).map_err(|e| e.to_string())?;
    let mut samples = Vec::new();
    for family in exposition.families.values() {
        let family_name = &family.family_name;
        if family.family_type == PrometheusType::Unknown {
            return Err(format!("{family_name} has no TYPE"));
        }
        for sample in family.iter_samples() {
            let labels: Vec<(String, String)> = sample
                .get_labelset()
                .map_err(|e| e.to_string())?
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut push = |suffix: &str, extra: Option<(&str, f64)>, value: f64| {
                let mut labels = labels.clone();
                labels.extend(extra.map(|(k, x)| (k.to_string(), bound(x))));
                samples.push(PromSample {
                    name: format!("{family_name}{suffix}"),
                    labels,
                    value,
                });
            };
            match &sample.value {
                PrometheusValue::Counter(c) => push("", None, c.value.as_f64()),
                PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => {
                    push("", None, n.as_f64())
                }
                PrometheusValue::Histogram(h) => {
                    let count = h.count.ok_or(format!("{family_name} has no _count"))?;
                    match h.buckets.last() {
                        Some(b)
                            if b.upper_bound == f64::INFINITY
                                && b.count.as_f64() == count as f64 => {}
                        _ => {
                            return Err(format!("last bucket of {family_name} is not +Inf = count"))
                        }
                    }
                    for b in &h.buckets {
                        push("_bucket", Some(("le", b.upper_bound)), b.count.as_f64());
                    }
                    if let Some(sum) = h.sum {
                        push("_sum", None, sum.as_f64());
                    }
                    push("_count", None, count as f64);
                }
                PrometheusValue::Summary(s) => {
                    for q in &s.quantiles {
                        push("", Some(("quantile", q.quantile)), q.value.as_f64());
                    }
                    if let Some(sum) = s.sum {
                        push("_sum", None, sum.as_f64());
                    }
                    if let Some(count) = s.count {
                        push("_count", None, count as f64);
                    }
                }
            }
        }
    }
    Ok(samples)
}
