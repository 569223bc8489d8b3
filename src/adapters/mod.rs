//! Implementations of the ports, and the HTTP and admin interfaces.

pub mod clock;
pub mod geocoder;
pub mod metrics;
pub mod random;
pub mod storage;
