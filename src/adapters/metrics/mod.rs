//! Metrics adapters.

pub mod noop;

#[cfg(feature = "datadog")]
pub mod datadog;
pub mod fanout;
