//! Metrics adapters.

pub mod noop;
