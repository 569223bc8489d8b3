//! pdd-server: the Private Data Donor API server. Collects statistics of web searches from
//! volunteers' browsers without learning any one person's searches.

pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
pub mod ports;
#[cfg(feature = "test-util")]
pub mod testing;

#[cfg(test)]
mod layering_tests;
