//! Clocks: the system's, an accelerated one for testing mode, and a manual one for tests.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

use crate::ports::Clock;

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Runs `factor` times faster than real time from the moment it is made (testing mode: 288, so
/// a day lasts 5 minutes).
pub struct AcceleratedClock {
    origin: DateTime<Utc>,
    started: Instant,
    factor: u32,
}

impl AcceleratedClock {
    pub fn new(factor: u32) -> Self {
        AcceleratedClock {
            origin: Utc::now(),
            started: Instant::now(),
            factor,
        }
    }

    /// Real time to wait for `span` of this clock's time to pass.
    pub fn real_duration(&self, span: Duration) -> std::time::Duration {
        span.to_std().unwrap_or_default() / self.factor.max(1)
    }
}

impl Clock for AcceleratedClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = self.started.elapsed() * self.factor;
        self.origin + Duration::from_std(elapsed).unwrap_or_else(|_| Duration::zero())
    }
}

/// A clock that moves only when told.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(t: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(t))
    }

    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = t;
    }

    pub fn advance(&self, d: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
