//! Storage adapters.

pub mod memory;
