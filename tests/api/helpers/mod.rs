//! The application's HTTP filters built in code over memory storage, a manual clock and seeded
//! randomness, and small helpers to call them through `warp::test` (no socket).

mod app;
mod doubles;
mod logs;
mod prometheus;
mod requests;

pub use app::*;
pub use logs::capture_logs;
pub use pdd_server::testing::utc;
pub use prometheus::*;
pub use requests::*;

pub const TOKEN: &str = "test-access-token-0123456789";

/// Where the tests' requests come from unless told otherwise.
pub const PEER: &str = "198.51.100.20:40000";
/// A trusted reverse proxy.
pub const PROXY: &str = "10.1.2.3:50000";
