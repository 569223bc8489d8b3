//! Metrics that record nothing, for tests.

use crate::ports::Metrics;

pub struct NoopMetrics;

impl Metrics for NoopMetrics {}
