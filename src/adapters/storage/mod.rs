//! Storage adapters.

pub mod memory;
#[cfg(feature = "mysql")]
pub mod mysql;
