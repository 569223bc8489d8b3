//! Metrics adapters.

pub mod noop;
pub mod registry;
