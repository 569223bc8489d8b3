//! Metrics adapters.

pub mod noop;
pub mod registry;

#[cfg(feature = "datadog")]
pub mod datadog;
pub mod fanout;
