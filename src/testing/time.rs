//! Instants written the way the tests think of them: RFC 3339 text, or a wall-clock time in
//! the reference zone, Europe/London.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::London;

use crate::domain::time::Calendar;

/// An RFC 3339 instant, e.g. `utc("2018-05-10T12:00:00Z")`; panics on bad text.
pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// A London wall-clock time `YYYY-MM-DD HH:MM` as an instant; panics on bad text or a time
/// the clocks skip or repeat.
pub fn london(s: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
        .unwrap_or_else(|e| panic!("{s:?} is not YYYY-MM-DD HH:MM: {e}"));
    London
        .from_local_datetime(&naive)
        .single()
        .unwrap_or_else(|| panic!("{s} is not one instant in London"))
        .with_timezone(&Utc)
}

/// `h:m` London time on `date`, as the server's calendar reads it (a skipped time moves
/// forward to the next one that exists; a repeated one is the earlier).
pub fn london_at(date: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    let time = NaiveTime::from_hms_opt(h, m, 0).unwrap_or_else(|| panic!("no time {h}:{m}"));
    Calendar::new(London).at(date, time)
}

/// For tests on the real clock: waits while London is within two minutes of midnight, so
/// that "today" does not change while the test runs.
pub fn away_from_midnight() {
    let limit = NaiveTime::from_hms_opt(23, 58, 0).expect("a time");
    while Utc::now().with_timezone(&London).time() >= limit {
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn london_times_follow_summer_time() {
        assert_eq!(london("2018-05-10 09:00"), utc("2018-05-10T08:00:00Z"));
        assert_eq!(london("2018-01-10 09:00"), utc("2018-01-10T09:00:00Z"));
        let date = NaiveDate::from_ymd_opt(2018, 5, 10).unwrap();
        assert_eq!(london_at(date, 9, 0), london("2018-05-10 09:00"));
    }
}
