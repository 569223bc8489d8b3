//! The services' context for tests and benches: what a test does not name is the tests'
//! usual choice.

use std::sync::Arc;

use chrono_tz::Europe::London;

use crate::adapters::geocoder::none::NoGeocoder;
use crate::adapters::metrics::noop::NoopMetrics;
use crate::domain::grouping::GroupStrategy;
use crate::domain::service::Context;
use crate::domain::time::Calendar;
use crate::ports::{Clock, Storage};

use super::SeededRandom;

/// The services' context over `storage` and `clock`, with no geocoder, no metrics, randomness
/// seeded with 7, the reference calendar Europe/London, naive grouping and the default prune
/// threshold (15 days). Change any of them with struct update syntax, e.g.
/// `Context { calendar: Calendar::new(chrono_tz::UTC), ..context(storage, clock) }`.
pub fn context(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>) -> Context {
    Context {
        storage,
        geocoder: Arc::new(NoGeocoder),
        metrics: Arc::new(NoopMetrics),
        clock,
        random: Arc::new(SeededRandom::new(7)),
        calendar: Calendar::new(London),
        strategy: GroupStrategy::Naive,
        prune_threshold: chrono::Duration::days(15),
    }
}
