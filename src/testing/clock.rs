//! A clock that moves only when told.

use chrono::{DateTime, Duration, Utc};
use parking_lot::Mutex;

use crate::ports::Clock;

struct State {
    now: DateTime<Utc>,
    /// Every forward move so far: setting the clock back does not undo it.
    monotonic: std::time::Duration,
}

/// A clock that moves only when told. Its monotonic reading moves by each forward move of the
/// time (set or advance), and not when the time is set back.
pub struct ManualClock(Mutex<State>);

impl ManualClock {
    pub fn new(t: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(State {
            now: t,
            monotonic: std::time::Duration::ZERO,
        }))
    }

    pub fn set(&self, t: DateTime<Utc>) {
        let mut state = self.0.lock();
        let forward = (t - state.now).to_std().unwrap_or_default();
        state.monotonic += forward;
        state.now = t;
    }

    pub fn advance(&self, d: Duration) {
        let mut state = self.0.lock();
        state.monotonic += d.to_std().unwrap_or_default();
        state.now += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().now
    }

    fn monotonic(&self) -> std::time::Duration {
        self.0.lock().monotonic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn monotonic_reading_follows_forward_moves_only() {
        let clock = ManualClock::new(t("2018-05-10T12:00:00Z"));
        assert_eq!(clock.monotonic(), std::time::Duration::ZERO);
        clock.advance(Duration::seconds(5));
        clock.set(t("2018-05-10T11:00:00Z"));
        assert_eq!(clock.now(), t("2018-05-10T11:00:00Z"));
        assert_eq!(clock.monotonic().as_secs(), 5);
        clock.set(t("2018-05-10T11:00:02Z"));
        clock.advance(Duration::seconds(-30));
        assert_eq!(clock.monotonic().as_secs(), 7);
    }
}
