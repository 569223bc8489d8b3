//! Request and response shapes of the HTTP API: camelCase, times written as RFC 3339 UTC with
//! milliseconds and read as any RFC 3339 offset or epoch milliseconds, optional fields omitted
//! on output, `null` read as absent, unknown input fields ignored (never `deny_unknown_fields`:
//! the extension sends its whole local state, private key included, when it registers again).
//! This module holds the time and serde helpers; one file per resource holds its shapes.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::Deserialize;

mod campaigns;
mod clients;
mod ping;
mod results;
pub mod schema;
mod sketches;
mod stats;

pub use campaigns::{CampaignIn, CampaignList, CampaignOut, QueryIn, VocabularyIn, VocabularyOut};
pub use clients::{
    ActivityList, ActivityOut, ClientDetailsOut, ClientIn, ClientList, ClientOut, ClientUpdateIn,
};
pub use ping::{ping_json, CommandOut, PingIn, PingOut};
pub use results::{AggregationOut, ExportRowOut, ResultList, StatsOut};
pub use sketches::{SubmissionIn, MAX_VALUES};
pub use stats::StatsResponse;

// ---- times

/// `2018-05-12T00:00:00.000Z`.
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads an RFC 3339 time with any offset, or an integer of epoch milliseconds. In a query
/// string, a `+` offset typed unencoded arrives as a space: it is read as `+`.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Some((head, offset)) = s.rsplit_once(' ') {
        if offset.len() == 5 && offset.as_bytes()[2] == b':' {
            if let Ok(t) = DateTime::parse_from_rfc3339(&format!("{head}+{offset}")) {
                return Some(t.with_timezone(&Utc));
            }
        }
    }
    s.parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_millis)
}

fn ser_time<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(t))
}

fn ser_opt_time<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => ser_time(t, s),
        None => s.serialize_none(),
    }
}

const TIME_EXPECTED: &str = "an RFC 3339 time or an integer of epoch milliseconds";

struct OptTimeVisitor;

impl<'de> Visitor<'de> for OptTimeVisitor {
    type Value = Option<DateTime<Utc>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(TIME_EXPECTED)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(OptTimeVisitor)
    }

    /// Epoch milliseconds beyond what a time can hold read as the first or last time there
    /// is: out of the accepted range either way, so the service refuses them naming the field.
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(DateTime::from_timestamp_millis(v).unwrap_or(
            if v < 0 {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            },
        )))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        match integral(v) {
            Some(millis) => self.visit_i64(millis),
            // Whole but beyond i64: out of range like any such time.
            None if v.fract() == 0.0 => self.visit_i64(if v < 0.0 { i64::MIN } else { i64::MAX }),
            None => Err(E::invalid_value(de::Unexpected::Float(v), &self)),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        DateTime::parse_from_rfc3339(v)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

fn de_opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    d.deserialize_option(OptTimeVisitor)
}

// ---- integers

/// `v` when it is a whole number within i64: JSON has one number type, and `2.0` or `2e3` is
/// an integer to JSON Schema and to JavaScript alike.
fn integral(v: f64) -> Option<i64> {
    // 2^63 is exact in f64; every whole f64 in [-2^63, 2^63) fits an i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (v.fract() == 0.0 && (-LIMIT..LIMIT).contains(&v)).then_some(v as i64)
}

/// An integer as JSON has it: `2`, `2.0` or `2e0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonInt(pub i64);

struct JsonIntVisitor;

impl Visitor<'_> for JsonIntVisitor {
    type Value = JsonInt;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        // The name serde gives i64, so that messages read as before.
        f.write_str("i64")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<JsonInt, E> {
        Ok(JsonInt(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<JsonInt, E> {
        i64::try_from(v)
            .map(JsonInt)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsonInt, E> {
        integral(v)
            .map(JsonInt)
            .ok_or_else(|| E::invalid_type(de::Unexpected::Float(v), &self))
    }
}

impl<'de> Deserialize<'de> for JsonInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<JsonInt, D::Error> {
        d.deserialize_any(JsonIntVisitor)
    }
}

/// An optional integer as JSON has it (`null` reads as absent).
fn de_opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<JsonInt>::deserialize(d)?.map(|n| n.0))
}

// ---- objects only

/// Reads a struct from a JSON object only. serde's derived structs also accept an array of
/// their fields in declaration order (`["Flu", "a@b.org"]` as a campaign), a form the API never
/// promised and that would change meaning whenever a field moved: this deserializer asks for a
/// map where a struct is wanted, and passes itself on through options.
pub struct ObjectsOnly<D>(pub D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectsOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(v)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_option(SomeObjectsOnly(v))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

struct SomeObjectsOnly<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for SomeObjectsOnly<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.0.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.visit_some(ObjectsOnly(d))
    }
}

/// `T` read through `ObjectsOnly`.
fn objects_only<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    T::deserialize(ObjectsOnly(d))
}

struct ObjectsOnlySeed<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> de::DeserializeSeed<'de> for ObjectsOnlySeed<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        objects_only(d)
    }
}

/// Reads a JSON body as `T`, structs from objects only.
pub fn from_json_slice<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> serde_json::Result<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = objects_only(&mut de)?;
    de.end()?;
    Ok(value)
}

// ---- bounded arrays

/// Reads an optional array of at most `max` elements, refusing a longer one as soon as its
/// element `max + 1` is read: a huge array costs a parse error, never memory beyond the limit.
struct Bounded<T> {
    max: usize,
    field: &'static str,
    element: std::marker::PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Bounded<T> {
    type Value = Option<Vec<T>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an array of at most {} elements", self.max)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let hint = seq.size_hint().unwrap_or(0).min(self.max).min(4096);
        let mut out = Vec::with_capacity(hint);
        while let Some(x) = seq.next_element_seed(ObjectsOnlySeed(std::marker::PhantomData))? {
            if out.len() == self.max {
                return Err(de::Error::custom(format_args!(
                    "{}: should have at most {} elements",
                    self.field, self.max
                )));
            }
            out.push(x);
        }
        Ok(Some(out))
    }
}

fn bounded<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    max: usize,
    field: &'static str,
) -> Result<Option<Vec<T>>, D::Error> {
    d.deserialize_option(Bounded {
        max,
        field,
        element: std::marker::PhantomData,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::campaign::MAX_QUERIES;

    #[test]
    fn times_are_written_in_utc_with_milliseconds() {
        let t = parse_time("2018-05-11T15:00:00+01:00").unwrap();
        assert_eq!(format_time(&t), "2018-05-11T14:00:00.000Z");
        assert_eq!(
            parse_time("1526000000123").map(|t| format_time(&t)),
            Some("2018-05-11T00:53:20.123Z".to_string())
        );
        assert_eq!(
            parse_time("2018-05-11T15:00:00 01:00").map(|t| format_time(&t)),
            Some("2018-05-11T14:00:00.000Z".to_string())
        );
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn structs_are_read_from_objects_only_never_from_arrays_of_their_fields() {
        let c: CampaignIn = from_json_slice(
            br#"{"displayName": "x", "vocabulary": {"queries": [{"exact": "flu"}]}, "email": null}"#,
        )
        .unwrap();
        assert_eq!(c.display_name.as_deref(), Some("x"));
        assert_eq!(
            c.vocabulary.unwrap().queries.unwrap()[0].exact.as_deref(),
            Some("flu")
        );
        for (body, column) in [
            (r#"["Flu"]"#, 0),
            (
                r#"{"displayName": "x", "vocabulary": [[{"exact": "flu"}]]}"#,
                35,
            ),
            (
                r#"{"displayName": "x", "vocabulary": {"queries": [["flu"]]}}"#,
                48,
            ),
        ] {
            let e = from_json_slice::<CampaignIn>(body.as_bytes()).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("invalid type: sequence, expected a JSON object at line 1 column {column}"),
                "{body}"
            );
        }
        let e = from_json_slice::<ClientIn>(br#"["04ab", "firefox"]"#).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("invalid type: sequence, expected a JSON object"));
        let e = from_json_slice::<ClientIn>(br#"{"browser": "x"} trailing"#).unwrap_err();
        assert_eq!(e.to_string(), "trailing characters at line 1 column 18");
        let s: SubmissionIn =
            from_json_slice(br#"{"encryptedValues": ["-1", "2"], "rawValues": [3]}"#).unwrap();
        assert_eq!(s.encrypted_values.unwrap(), ["-1", "2"]);
        assert_eq!(s.raw_values.unwrap(), [3]);
    }

    #[test]
    fn value_arrays_are_refused_past_their_bound_while_read() {
        let values = |n: usize| format!("[{}]", vec!["1"; n].join(","));
        let s: SubmissionIn = serde_json::from_str(&format!(
            r#"{{"rawValues": {}, "encryptedValues": null}}"#,
            values(MAX_VALUES)
        ))
        .unwrap();
        assert_eq!(s.raw_values.map(|v| v.len()), Some(MAX_VALUES));
        assert_eq!(s.encrypted_values, None);
        let e = serde_json::from_str::<SubmissionIn>(&format!(
            r#"{{"rawValues": {}}}"#,
            values(MAX_VALUES + 5)
        ))
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("rawValues: should have at most 10001 elements at line 1"),
            "{e}"
        );
        let e = serde_json::from_str::<SubmissionIn>(r#"{"encryptedValues": "12"}"#).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid type: string \"12\", expected an array of at most 10001"),
            "{e}"
        );
        let queries = format!("[{}]", vec![r#"{"exact":"q"}"#; MAX_QUERIES + 1].join(","));
        let e = serde_json::from_str::<CampaignIn>(&format!(
            r#"{{"vocabulary": {{"queries": {queries}}}}}"#
        ))
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("vocabulary.queries: should have at most 10000 elements"),
            "{e}"
        );
    }

    #[test]
    fn integers_are_read_as_json_has_them_whole_floats_included() {
        // Found by Schemathesis: JSON Schema and JavaScript count 268.0 as an integer.
        let c: CampaignIn =
            from_json_slice(br#"{"delay": 2.0, "graceDelay": 1e1, "groupSize": 3}"#).unwrap();
        assert_eq!(
            (c.delay, c.grace_delay, c.group_size),
            (Some(2), Some(10), Some(3))
        );
        let e = from_json_slice::<CampaignIn>(br#"{"delay": 2.5}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid type: floating point `2.5`, expected i64 at line 1 column 13"
        );
        let e = from_json_slice::<CampaignIn>(br#"{"delay": "3"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid type: string \"3\", expected i64 at line 1 column 13"
        );
        let s: SubmissionIn = from_json_slice(br#"{"rawValues": [268.0, 0, -0.0]}"#).unwrap();
        assert_eq!(s.raw_values.unwrap(), [268, 0, 0]);
        let e = from_json_slice::<SubmissionIn>(br#"{"rawValues": [1e300]}"#).unwrap_err();
        assert!(
            e.to_string().starts_with("invalid type: floating point"),
            "{e}"
        );
    }
}
