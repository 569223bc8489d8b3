//! Day arithmetic in the reference time zone. Days are counted by calendar date, so a 23- or
//! 25-hour day (DST) is still one day.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A campaign day: 0 is the local date of the campaign's start.
pub type Day = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    tz: Tz,
}

impl Calendar {
    pub fn new(tz: Tz) -> Self {
        Calendar { tz }
    }

    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// Local date of `now` minus local date of `start`, in days.
    pub fn relative_day(&self, start: DateTime<Utc>, now: DateTime<Utc>) -> Day {
        (self.local_date(now) - self.local_date(start)).num_days()
    }

    /// The instant of local midnight at the start of day `d` counted from `start`.
    pub fn day_start(&self, start: DateTime<Utc>, d: Day) -> DateTime<Utc> {
        let date = self.local_date(start) + Duration::days(d);
        self.at(date, NaiveTime::MIN)
    }

    /// The instant of local midnight starting the local date of `t`.
    pub fn midnight(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.at(self.local_date(t), NaiveTime::MIN)
    }

    /// The instant of a local wall-clock time on a local date. A time skipped by a DST change
    /// resolves to the first valid minute after it; a repeated one to its earlier instance.
    pub fn at(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let mut naive = date.and_time(time);
        for _ in 0..48 * 60 {
            if let Some(t) = self.tz.from_local_datetime(&naive).earliest() {
                return t.with_timezone(&Utc);
            }
            naive += Duration::minutes(1);
        }
        // No zone has a gap of two days; fall back to reading the wall time as UTC.
        Utc.from_utc_datetime(&date.and_time(time))
    }
}

/// The earliest instant accepted as input and stored: 1970-01-01T00:00:00.000Z.
pub fn earliest_time() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

/// The latest instant accepted as input and stored: 9999-12-31T23:59:59.999Z. MySQL's
/// DATETIME ends with that year and RFC 3339 writes four-digit years, so both storages and
/// every answer hold any time in range.
pub fn latest_time() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 999))
        .map_or(DateTime::<Utc>::MAX_UTC, |n| n.and_utc())
}

/// Whether `t` lies within [`earliest_time`, `latest_time`].
pub fn in_range(t: DateTime<Utc>) -> bool {
    (earliest_time()..=latest_time()).contains(&t)
}

/// The message for a time out of range.
pub const TIME_RANGE_MESSAGE: &str =
    "should be between 1970-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z";

/// `t` without its sub-millisecond part: times are kept and shown to the millisecond.
pub fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn london() -> Calendar {
        Calendar::new(chrono_tz::Europe::London)
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn input_times_range_from_1970_to_the_end_of_9999() {
        assert!(in_range(utc("1970-01-01T00:00:00Z")));
        assert!(in_range(utc("9999-12-31T23:59:59.999Z")));
        assert!(!in_range(utc("1969-12-31T23:59:59.999Z")));
        assert!(!in_range(
            utc("9999-12-31T23:59:59.999Z") + Duration::milliseconds(1)
        ));
        assert!(!in_range(DateTime::<Utc>::MAX_UTC));
        assert!(!in_range(DateTime::<Utc>::MIN_UTC));
        assert_eq!(
            TIME_RANGE_MESSAGE,
            format!(
                "should be between {} and {}",
                earliest_time().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                latest_time().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            )
        );
    }

    #[test]
    fn day_arithmetic_holds_at_the_latest_time_in_any_zone() {
        let cal = Calendar::new(chrono_tz::Pacific::Kiritimati);
        let start = latest_time();
        assert_eq!(cal.local_date(start).to_string(), "+10000-01-01");
        assert_eq!(cal.relative_day(start, start), 0);
        assert!(cal.day_start(start, 3) > start);
    }

    #[test]
    fn relative_day_counts_calendar_dates_across_spring_dst_change() {
        // 2018-03-25 is 23 hours long in London.
        let cal = london();
        let start = utc("2018-03-24T12:00:00Z");
        assert_eq!(cal.relative_day(start, utc("2018-03-24T23:59:59Z")), 0);
        assert_eq!(cal.relative_day(start, utc("2018-03-25T00:00:00Z")), 1);
        assert_eq!(cal.relative_day(start, utc("2018-03-25T22:59:59Z")), 1);
        // 23:00 UTC on the 25th is already midnight of the 26th in BST.
        assert_eq!(cal.relative_day(start, utc("2018-03-25T23:00:00Z")), 2);
    }

    #[test]
    fn day_start_is_local_midnight_on_both_sides_of_autumn_dst_change() {
        let cal = london();
        let start = utc("2018-10-27T10:00:00Z");
        assert_eq!(cal.day_start(start, 0), utc("2018-10-26T23:00:00Z"));
        // 2018-10-28 is 25 hours long: it starts at 23:00 UTC and the next day at 00:00 UTC.
        assert_eq!(cal.day_start(start, 1), utc("2018-10-27T23:00:00Z"));
        assert_eq!(cal.day_start(start, 2), utc("2018-10-29T00:00:00Z"));
        assert_eq!(cal.day_start(start, -1), utc("2018-10-25T23:00:00Z"));
    }

    #[test]
    fn midnight_in_a_zone_without_midnight_on_dst_day_resolves_to_first_valid_time() {
        // Santiago skipped 00:00-01:00 local on 2018-08-12.
        let cal = Calendar::new(chrono_tz::America::Santiago);
        let t = utc("2018-08-12T12:00:00Z");
        assert_eq!(cal.midnight(t), utc("2018-08-12T04:00:00Z"));
    }

    #[test]
    fn at_resolves_local_wall_time() {
        let cal = london();
        let date = NaiveDate::from_ymd_opt(2018, 7, 1).unwrap();
        assert_eq!(
            cal.at(date, NaiveTime::from_hms_opt(0, 30, 0).unwrap()),
            utc("2018-06-30T23:30:00Z")
        );
    }
}
