//! Implementations of the ports, and the HTTP and admin interfaces.

pub mod admin;
pub mod clock;
pub mod geocoder;
pub mod http;
pub mod metrics;
pub mod random;
pub mod storage;
