//! Clocks: the system's, and an accelerated one for testing mode. (The manual clock of the
//! tests is in `crate::testing`.)

use std::sync::OnceLock;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

use crate::ports::Clock;

pub struct SystemClock;

/// The monotonic origin of every system clock: the first reading of the process.
fn process_origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn monotonic(&self) -> std::time::Duration {
        process_origin().elapsed()
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

    /// Real time: the acceleration moves the calendar, not how long work takes.
    fn monotonic(&self) -> std::time::Duration {
        self.started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_readings_never_decrease() {
        let clocks: [&dyn Clock; 2] = [&SystemClock, &AcceleratedClock::new(288)];
        for clock in clocks {
            let first = clock.monotonic();
            std::thread::sleep(std::time::Duration::from_millis(2));
            assert!(clock.monotonic() > first);
        }
    }
}
