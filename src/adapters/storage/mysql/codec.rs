//! How domain values are kept in columns: times as DATETIME(3) in UTC, vocabularies in the old
//! server's line format, count vectors space-separated, big sums as decimal strings.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Timelike, Utc};
use num_bigint::BigUint;
use r2d2_mysql::mysql::prelude::FromValue;
use r2d2_mysql::mysql::{Row, Value};

use crate::domain::campaign::{Query, Vocabulary};
use crate::domain::time::millis;
use crate::ports::StorageError;

/// A time as a DATETIME(3) parameter, in UTC, cut to the millisecond.
pub fn time_value(t: DateTime<Utc>) -> Value {
    let n = millis(t).naive_utc();
    let (date, time) = (n.date(), n.time());
    use chrono::Datelike;
    Value::Date(
        u16::try_from(date.year()).unwrap_or(0),
        date.month() as u8,
        date.day() as u8,
        time.hour() as u8,
        time.minute() as u8,
        time.second() as u8,
        time.nanosecond() / 1000,
    )
}

pub fn opt_time_value(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::NULL, time_value)
}

/// Reads a DATETIME column (binary protocol `Date` or text protocol bytes) as UTC.
pub fn time_from(v: Value) -> Result<Option<DateTime<Utc>>, StorageError> {
    let bad = |v: &Value| StorageError::Failure(format!("not a time: {v:?}"));
    match v {
        Value::NULL => Ok(None),
        Value::Date(y, mo, d, h, mi, s, us) => {
            NaiveDate::from_ymd_opt(y.into(), mo.into(), d.into())
                .and_then(|date| date.and_hms_micro_opt(h.into(), mi.into(), s.into(), us))
                .map(|n| Some(n.and_utc()))
                .ok_or_else(|| bad(&v))
        }
        Value::Bytes(ref b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").ok())
            .map(|n| Some(n.and_utc()))
            .ok_or_else(|| bad(&v)),
        other => Err(bad(&other)),
    }
}

/// Column `i` of `row` converted to `T`.
pub fn col<T: FromValue>(row: &mut Row, i: usize) -> Result<T, StorageError> {
    match row.take_opt::<T, usize>(i) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(StorageError::Failure(format!(
            "column {i}: unexpected value {:?}",
            e.0
        ))),
        None => Err(StorageError::Failure(format!("column {i} missing"))),
    }
}

/// Column `i` of `row` as a time; NULL is a failure.
pub fn time_col(row: &mut Row, i: usize) -> Result<DateTime<Utc>, StorageError> {
    opt_time_col(row, i)?.ok_or_else(|| StorageError::Failure(format!("column {i} is NULL")))
}

pub fn opt_time_col(row: &mut Row, i: usize) -> Result<Option<DateTime<Utc>>, StorageError> {
    time_from(col::<Value>(row, i)?)
}

/// The old server's vocabulary format, kept as it is: one query per line, an exact query as its
/// text, a terms query as its terms each followed by a comma (`flu,fever,`). Validation forbids
/// commas and line breaks inside queries, so the format is unambiguous.
pub fn encode_vocabulary(v: &Vocabulary) -> String {
    let lines: Vec<String> = v
        .queries
        .iter()
        .map(|q| match q {
            Query::Exact(text) => text.clone(),
            Query::Terms(terms) => terms.iter().map(|t| format!("{t},")).collect(),
        })
        .collect();
    lines.join("\n")
}

pub fn decode_vocabulary(s: &str) -> Vocabulary {
    let queries = s
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter(|line| !line.trim().is_empty())
        .map(|line| match line.strip_suffix(',') {
            Some(terms) => Query::Terms(terms.split(',').map(str::to_string).collect()),
            None => Query::Exact(line.to_string()),
        })
        .collect();
    Vocabulary { queries }
}

/// Integers separated by single spaces (the old server's format); empty for none.
pub fn encode_counts(values: &[i64]) -> String {
    let parts: Vec<String> = values.iter().map(i64::to_string).collect();
    parts.join(" ")
}

pub fn decode_counts(s: &str) -> Result<Vec<i64>, StorageError> {
    s.split_whitespace()
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| StorageError::Failure(format!("not an integer list: {s:?}")))
        })
        .collect()
}

/// Residues modulo ℓ as decimal strings separated by spaces; empty for none.
pub fn encode_sum(values: &[BigUint]) -> String {
    let parts: Vec<String> = values.iter().map(BigUint::to_string).collect();
    parts.join(" ")
}

pub fn decode_sum(s: &str) -> Result<Vec<BigUint>, StorageError> {
    s.split_whitespace()
        .map(|v| {
            v.parse::<BigUint>()
                .map_err(|_| StorageError::Failure("malformed group sum".to_string()))
        })
        .collect()
}

/// A date as a DATE parameter.
pub fn date_value(d: NaiveDate) -> Value {
    use chrono::Datelike;
    Value::Date(
        u16::try_from(d.year()).unwrap_or(0),
        d.month() as u8,
        d.day() as u8,
        0,
        0,
        0,
        0,
    )
}

/// Column `i` of `row` as a date.
pub fn date_col(row: &mut Row, i: usize) -> Result<NaiveDate, StorageError> {
    date_from(col::<Value>(row, i)?)
}

/// Reads a DATE column (binary protocol `Date` or text protocol bytes).
pub fn date_from(v: Value) -> Result<NaiveDate, StorageError> {
    let bad = |v: &Value| StorageError::Failure(format!("not a date: {v:?}"));
    match v {
        Value::Date(y, m, d, ..) => {
            NaiveDate::from_ymd_opt(y.into(), m.into(), d.into()).ok_or_else(|| bad(&v))
        }
        Value::Bytes(ref b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .ok_or_else(|| bad(&v)),
        other => Err(bad(&other)),
    }
}

/// A job run's counters as a JSON object.
pub fn encode_run_counts(counts: &BTreeMap<String, u64>) -> String {
    serde_json::to_string(counts).unwrap_or_else(|_| "{}".to_string())
}

pub fn decode_run_counts(s: &str) -> Result<BTreeMap<String, u64>, StorageError> {
    serde_json::from_str(s).map_err(|_| StorageError::Failure("malformed job run counts".into()))
}

/// A group's public keys, in order, as a JSON array (keys of unknown shape stay exact).
pub fn encode_keys(keys: &[String]) -> String {
    serde_json::to_string(keys).unwrap_or_else(|_| "[]".to_string())
}

pub fn decode_keys(s: &str) -> Result<Vec<String>, StorageError> {
    serde_json::from_str(s).map_err(|_| StorageError::Failure("malformed public keys".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_round_trips_in_the_old_line_format() {
        let v = Vocabulary {
            queries: vec![
                Query::Exact("flu".into()),
                Query::Terms(vec!["flu".into(), "fever".into()]),
                Query::Exact("sore throat".into()),
                Query::Terms(vec!["cough".into()]),
            ],
        };
        let text = encode_vocabulary(&v);
        assert_eq!(text, "flu\nflu,fever,\nsore throat\ncough,");
        assert_eq!(decode_vocabulary(&text), v);
        assert_eq!(decode_vocabulary(""), Vocabulary::default());
        assert_eq!(
            decode_vocabulary("a\r\nb,c,\r\n"),
            Vocabulary {
                queries: vec![
                    Query::Exact("a".into()),
                    Query::Terms(vec!["b".into(), "c".into()])
                ]
            }
        );
    }

    #[test]
    fn counts_and_sums_round_trip() {
        assert_eq!(encode_counts(&[1, 0, -3]), "1 0 -3");
        assert_eq!(decode_counts("1 0 -3").unwrap(), vec![1, 0, -3]);
        assert_eq!(decode_counts("").unwrap(), Vec::<i64>::new());
        assert!(decode_counts("1 x").is_err());
        let sum = vec![BigUint::from(7u8), crate::domain::crypto::ell() - 1u8];
        assert_eq!(decode_sum(&encode_sum(&sum)).unwrap(), sum);
        assert_eq!(decode_sum("").unwrap(), Vec::<BigUint>::new());
    }

    #[test]
    fn times_round_trip_to_the_millisecond() {
        let t = DateTime::parse_from_rfc3339("2018-05-12T10:11:12.345678Z")
            .unwrap()
            .with_timezone(&Utc);
        let back = time_from(time_value(t)).unwrap().unwrap();
        assert_eq!(back, millis(t));
        assert_eq!(
            time_from(Value::Bytes(b"2018-05-12 10:11:12.345".to_vec())).unwrap(),
            Some(millis(t))
        );
        assert_eq!(time_from(Value::NULL).unwrap(), None);
    }

    #[test]
    fn dates_and_run_counts_round_trip() {
        let d = NaiveDate::from_ymd_opt(2018, 5, 12).unwrap();
        assert_eq!(date_value(d), Value::Date(2018, 5, 12, 0, 0, 0, 0));
        assert_eq!(date_from(date_value(d)).unwrap(), d);
        assert_eq!(
            date_from(Value::Bytes(b"2018-05-13".to_vec())).unwrap(),
            d.succ_opt().unwrap()
        );
        assert!(date_from(Value::NULL).is_err());
        let counts = BTreeMap::from([("created".to_string(), 12), ("groups".to_string(), 0)]);
        let text = encode_run_counts(&counts);
        assert_eq!(text, r#"{"created":12,"groups":0}"#);
        assert_eq!(decode_run_counts(&text).unwrap(), counts);
        assert!(decode_run_counts("created=1").is_err());
    }

    #[test]
    fn keys_round_trip_including_empty_ones() {
        let keys = vec!["04ab".to_string(), String::new()];
        assert_eq!(decode_keys(&encode_keys(&keys)).unwrap(), keys);
    }
}
