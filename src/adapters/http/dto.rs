//! Request and response shapes of the HTTP API: camelCase, times written as RFC 3339 UTC with
//! milliseconds and read as any RFC 3339 offset or epoch milliseconds, optional fields omitted
//! on output, `null` read as absent, unknown input fields ignored (never `deny_unknown_fields`:
//! the extension sends its whole local state, private key included, when it registers again).

use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use crate::domain::campaign::{CampaignInput, Query, QueryInput, MAX_QUERIES};
use crate::domain::client::{Activity, Client, ClientDetails, ClientInput};
use crate::domain::export::ExportRow;
use crate::domain::service::campaigns::Stats as CampaignStats;
use crate::domain::service::ping::{Command, PingInput, PingResponse};
use crate::domain::service::sketches::SubmissionInput;
use crate::domain::service::CampaignView;
use crate::domain::sketch::Aggregation;
use crate::domain::time::Day;

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

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        DateTime::from_timestamp_millis(v)
            .map(Some)
            .ok_or_else(|| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v)
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .map(Some)
            .ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(v), &self))
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

/// The longest value vector a sketch can expect: the total, then one count per query.
pub const MAX_VALUES: usize = MAX_QUERIES + 1;

fn de_queries<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<QueryIn>>, D::Error> {
    bounded(d, MAX_QUERIES, "vocabulary.queries")
}

fn de_encrypted<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    bounded(d, MAX_VALUES, "encryptedValues")
}

fn de_raw<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<i64>>, D::Error> {
    bounded(d, MAX_VALUES, "rawValues")
}

// ---- vocabulary

/// `{"queries": [{"exact": "flu"}, {"terms": ["flu", "fever"]}]}`
pub struct VocabularyOut<'a>(pub &'a [Query]);

impl Serialize for VocabularyOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry("queries", &QueriesOut(self.0))?;
        map.end()
    }
}

struct QueriesOut<'a>(&'a [Query]);

impl Serialize for QueriesOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for q in self.0 {
            seq.serialize_element(&QueryOut(q))?;
        }
        seq.end()
    }
}

struct QueryOut<'a>(&'a Query);

impl Serialize for QueryOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        match self.0 {
            Query::Exact(text) => map.serialize_entry("exact", text)?,
            Query::Terms(terms) => map.serialize_entry("terms", terms)?,
        }
        map.end()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, expecting = "a JSON object")]
pub struct QueryIn {
    pub exact: Option<String>,
    pub terms: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, expecting = "a JSON object")]
pub struct VocabularyIn {
    #[serde(deserialize_with = "de_queries")]
    pub queries: Option<Vec<QueryIn>>,
}

// ---- campaigns

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignOut<'a> {
    pub name: &'a str,
    #[serde(serialize_with = "ser_time")]
    pub create_time: DateTime<Utc>,
    pub display_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<&'a str>,
    pub vocabulary: VocabularyOut<'a>,
    #[serde(
        serialize_with = "ser_opt_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(
        serialize_with = "ser_opt_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_time: Option<DateTime<Utc>>,
    pub delay: i32,
    pub grace_delay: i32,
    pub group_size: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampling_rate: Option<f64>,
    pub collect_encrypted: bool,
    pub collect_raw: bool,
    pub started: bool,
    pub completed: bool,
    pub active: bool,
}

impl<'a> CampaignOut<'a> {
    /// The campaign with its status; with an empty vocabulary when `with_vocabulary` is false
    /// (the list view).
    pub fn new(view: &'a CampaignView, with_vocabulary: bool) -> Self {
        let c = &view.campaign;
        CampaignOut {
            name: &c.name,
            create_time: c.create_time,
            display_name: &c.display_name,
            email: c.email.as_deref(),
            notes: c.notes.as_deref(),
            vocabulary: VocabularyOut(if with_vocabulary {
                &c.vocabulary.queries
            } else {
                &[]
            }),
            start_time: c.start_time,
            end_time: c.end_time,
            delay: c.delay,
            grace_delay: c.grace_delay,
            group_size: c.group_size,
            sampling_rate: c.sampling_rate,
            collect_encrypted: c.collect_encrypted,
            collect_raw: c.collect_raw,
            started: view.status.started,
            completed: view.status.completed,
            active: view.status.active,
        }
    }
}

#[derive(Serialize)]
pub struct CampaignList<'a> {
    pub campaigns: Vec<CampaignOut<'a>>,
}

/// The editable fields of a campaign; read-only ones (name, createTime, started…) are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, expecting = "a JSON object")]
pub struct CampaignIn {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub notes: Option<String>,
    #[serde(deserialize_with = "objects_only")]
    pub vocabulary: Option<VocabularyIn>,
    #[serde(deserialize_with = "de_opt_time")]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "de_opt_time")]
    pub end_time: Option<DateTime<Utc>>,
    pub delay: Option<i64>,
    pub grace_delay: Option<i64>,
    pub group_size: Option<i64>,
    pub sampling_rate: Option<f64>,
    pub collect_encrypted: Option<bool>,
    pub collect_raw: Option<bool>,
}

impl From<CampaignIn> for CampaignInput {
    fn from(c: CampaignIn) -> Self {
        CampaignInput {
            display_name: c.display_name,
            email: c.email,
            notes: c.notes,
            vocabulary: c.vocabulary.and_then(|v| v.queries).map(|qs| {
                qs.into_iter()
                    .map(|q| QueryInput {
                        exact: q.exact,
                        terms: q.terms,
                    })
                    .collect()
            }),
            start_time: c.start_time,
            end_time: c.end_time,
            delay: c.delay,
            grace_delay: c.grace_delay,
            group_size: c.group_size,
            sampling_rate: c.sampling_rate,
            collect_encrypted: c.collect_encrypted,
            collect_raw: c.collect_raw,
        }
    }
}

// ---- results

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsOut {
    pub active_count: u64,
    pub submitted_count: u64,
    pub decrypted_count: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AggregationOut<'a> {
    pub name: String,
    pub campaign_name: &'a str,
    pub day: Day,
    pub stats: StatsOut,
    pub decrypted_values: &'a [i64],
    pub raw_values: &'a [i64],
}

impl<'a> AggregationOut<'a> {
    /// With its values, or with both value lists emptied (the list view).
    pub fn new(a: &'a Aggregation, with_values: bool) -> Self {
        AggregationOut {
            name: a.name(),
            campaign_name: &a.campaign_name,
            day: a.day,
            stats: StatsOut {
                active_count: a.stats.active_count,
                submitted_count: a.stats.submitted_count,
                decrypted_count: a.stats.decrypted_count,
            },
            decrypted_values: if with_values {
                &a.decrypted_values
            } else {
                &[]
            },
            raw_values: if with_values { &a.raw_values } else { &[] },
        }
    }
}

#[derive(Serialize)]
pub struct ResultList<'a> {
    pub results: Vec<AggregationOut<'a>>,
}

#[derive(Serialize)]
pub struct ExportRowOut<'a> {
    pub date: NaiveDate,
    pub query: &'a str,
    pub count: i64,
}

impl<'a> From<&'a ExportRow> for ExportRowOut<'a> {
    fn from(r: &'a ExportRow) -> Self {
        ExportRowOut {
            date: r.date,
            query: &r.query,
            count: r.count,
        }
    }
}

// ---- clients and activity

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientOut<'a> {
    pub name: &'a str,
    #[serde(serialize_with = "ser_time")]
    pub create_time: DateTime<Utc>,
    pub public_key: &'a str,
    pub browser: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_name: Option<&'a str>,
}

impl<'a> From<&'a Client> for ClientOut<'a> {
    fn from(c: &'a Client) -> Self {
        ClientOut {
            name: &c.name,
            create_time: c.create_time,
            public_key: &c.public_key,
            browser: &c.browser,
            external_name: c.external_name.as_deref(),
        }
    }
}

/// A client with what its latest ping told.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientDetailsOut<'a> {
    #[serde(flatten)]
    pub client: ClientOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension_version: Option<&'a str>,
}

impl<'a> From<&'a ClientDetails> for ClientDetailsOut<'a> {
    fn from(d: &'a ClientDetails) -> Self {
        let latest = d.latest_activity.as_ref();
        ClientDetailsOut {
            client: ClientOut::from(&d.client),
            timezone: latest.and_then(|a| a.timezone.as_deref()),
            country_code: latest.and_then(|a| a.country_code.as_deref()),
            extension_version: latest.and_then(|a| a.extension_version.as_deref()),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientList<'a> {
    pub clients: Vec<ClientOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, expecting = "a JSON object")]
pub struct ClientIn {
    pub public_key: Option<String>,
    pub browser: Option<String>,
    pub external_name: Option<String>,
}

impl From<ClientIn> for ClientInput {
    fn from(c: ClientIn) -> Self {
        ClientInput {
            public_key: c.public_key,
            browser: c.browser,
            external_name: c.external_name,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, expecting = "a JSON object")]
pub struct ClientUpdateIn {
    pub external_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityOut<'a> {
    pub client_name: &'a str,
    #[serde(serialize_with = "ser_time")]
    pub time: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<&'a str>,
}

impl<'a> From<&'a Activity> for ActivityOut<'a> {
    fn from(a: &'a Activity) -> Self {
        ActivityOut {
            client_name: &a.client_name,
            time: a.time,
            country_code: a.country_code.as_deref(),
            extension_version: a.extension_version.as_deref(),
            timezone: a.timezone.as_deref(),
        }
    }
}

#[derive(Serialize)]
pub struct ActivityList<'a> {
    pub days: Vec<ActivityOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsResponse {
    pub active_campaigns: u64,
    pub active_clients: u64,
}

impl From<CampaignStats> for StatsResponse {
    fn from(s: CampaignStats) -> Self {
        StatsResponse {
            active_campaigns: s.active_campaigns,
            active_clients: s.active_clients,
        }
    }
}

// ---- ping and sketches

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, expecting = "a JSON object")]
pub struct PingIn {
    pub extension_version: Option<String>,
    pub timezone: Option<String>,
}

impl PingIn {
    pub fn into_input(self, ip: Option<std::net::IpAddr>) -> PingInput {
        PingInput {
            ip,
            extension_version: self.extension_version,
            timezone: self.timezone,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandOut<'a> {
    pub sketch_name: &'a str,
    #[serde(serialize_with = "ser_time")]
    pub start_time: DateTime<Utc>,
    #[serde(serialize_with = "ser_time")]
    pub end_time: DateTime<Utc>,
    pub vocabulary: VocabularyOut<'a>,
    pub public_keys: &'a [String],
    pub round: Day,
    pub collect_encrypted: bool,
    pub collect_raw: bool,
}

impl<'a> From<&'a Command> for CommandOut<'a> {
    fn from(c: &'a Command) -> Self {
        CommandOut {
            sketch_name: &c.sketch_name,
            start_time: c.start_time,
            end_time: c.end_time,
            vocabulary: VocabularyOut(&c.vocabulary.queries),
            public_keys: &c.public_keys,
            round: c.round,
            collect_encrypted: c.collect_encrypted,
            collect_raw: c.collect_raw,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PingOut<'a> {
    pub submit: Vec<CommandOut<'a>>,
    pub vocabulary: VocabularyOut<'a>,
    #[serde(serialize_with = "ser_time")]
    pub next_ping_time: DateTime<Utc>,
}

impl<'a> From<&'a PingResponse> for PingOut<'a> {
    fn from(p: &'a PingResponse) -> Self {
        PingOut {
            submit: p.submit.iter().map(CommandOut::from).collect(),
            vocabulary: VocabularyOut(&p.vocabulary.queries),
            next_ping_time: p.next_ping_time,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, expecting = "a JSON object")]
pub struct SubmissionIn {
    #[serde(deserialize_with = "de_encrypted")]
    pub encrypted_values: Option<Vec<String>>,
    #[serde(deserialize_with = "de_raw")]
    pub raw_values: Option<Vec<i64>>,
}

impl From<SubmissionIn> for SubmissionInput {
    fn from(s: SubmissionIn) -> Self {
        SubmissionInput {
            encrypted_values: s.encrypted_values,
            raw_values: s.raw_values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn campaign_input_reads_both_time_forms_null_and_ignores_unknown_fields() {
        let c: CampaignIn = serde_json::from_str(
            r#"{"displayName":"x","startTime":"2018-05-11T15:00:00+01:00",
                "endTime":1526000000123,"email":null,"started":true,"whatever":{"a":1}}"#,
        )
        .unwrap();
        assert_eq!(
            c.start_time.map(|t| format_time(&t)).as_deref(),
            Some("2018-05-11T14:00:00.000Z")
        );
        assert_eq!(
            c.end_time.map(|t| format_time(&t)).as_deref(),
            Some("2018-05-11T00:53:20.123Z")
        );
        assert_eq!(c.email, None);
        let e = serde_json::from_str::<CampaignIn>(r#"{"startTime":"soon"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value: string \"soon\", expected an RFC 3339 time or an integer of epoch \
             milliseconds at line 1 column 19"
        );
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
    fn vocabulary_is_written_as_exact_or_terms_queries() {
        let queries = vec![
            Query::Exact("flu".into()),
            Query::Terms(vec!["flu".into(), "fever".into()]),
        ];
        assert_eq!(
            serde_json::to_string(&VocabularyOut(&queries)).unwrap(),
            r#"{"queries":[{"exact":"flu"},{"terms":["flu","fever"]}]}"#
        );
    }
}
