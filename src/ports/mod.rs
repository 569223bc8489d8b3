//! The traits the domain needs from the world. Adapters implement them; the domain depends only
//! on these.

pub mod storage;

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use storage::{
    AggregationStore, CampaignStore, ClientDayStore, ClientStore, JobLedger, SketchStore, Storage,
    StorageError, StorageResult,
};

/// Country of an address.
pub trait Geocoder: Send + Sync + 'static {
    /// A short name for `server_info` (`none`, `maxmind`).
    fn kind(&self) -> &'static str;
    /// ISO 3166-1 alpha-2 code, or `None` when unknown (private, loopback, not in database).
    fn country(&self, ip: IpAddr) -> Option<String>;
}

/// The one source of time for every component.
pub trait Clock: Send + Sync + 'static {
    /// The time of day and date: days, campaign windows, stored times.
    fn now(&self) -> DateTime<Utc>;

    /// The time elapsed since an origin fixed when the clock was made: it never decreases,
    /// whatever happens to `now` (set back, adjusted). For how long work takes and how old a
    /// cached value is.
    fn monotonic(&self) -> Duration;
}

/// Randomness the domain needs: shuffles, sampling, spreads and fresh names.
pub trait Random: Send + Sync + 'static {
    /// Shuffles `items` uniformly.
    fn shuffle(&self, items: &mut [String]);
    /// True with probability `p` (clamped to [0, 1]).
    fn chance(&self, p: f64) -> bool;
    /// A uniform integer in `[0, n)`; 0 when `n` is 0.
    fn below(&self, n: u32) -> u32;
    /// A fresh random UUID, hyphenated lower-case.
    fn uuid(&self) -> String;
}

/// Why a sketch submission was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    NotFound,
    AlreadySubmitted,
    WindowClosed,
    Invalid,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::NotFound => "not_found",
            RejectReason::AlreadySubmitted => "already_submitted",
            RejectReason::WindowClosed => "window_closed",
            RejectReason::Invalid => "invalid",
        }
    }
}

/// Recorder of what happens, one method per domain event. Implementations never block and
/// never fail; every method defaults to doing nothing.
pub trait Metrics: Send + Sync + 'static {
    /// A short name for `server_info` (`registry`, `datadog`).
    fn kind(&self) -> &'static str {
        "noop"
    }
    fn client_registered(&self) {}
    fn ping_served(&self, _commands: usize) {}
    fn sketch_accepted(&self) {}
    fn sketch_rejected(&self, _reason: RejectReason) {}
    /// A job run: `ok` false when it failed for at least one campaign; `items` what it did.
    fn job_run(&self, _job: &str, _ok: bool, _duration: Duration, _items: u64) {}
    fn storage_call(&self, _operation: &str, _latency: Duration, _ok: bool) {}
    fn http_request(&self, _route: &str, _method: &str, _status: u16, _latency: Duration) {}
    fn gauges(&self, _clients: u64, _active_campaigns: u64) {}
}
