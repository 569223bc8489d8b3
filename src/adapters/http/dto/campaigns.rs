//! Campaigns as written and read by the private API, with their vocabulary.

use chrono::{DateTime, Utc};
use serde::de::Deserializer;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{bounded, de_opt_int, de_opt_time, objects_only, schema, ser_opt_time, ser_time};
use crate::domain::campaign::{CampaignInput, Query, QueryInput, MAX_QUERIES};
use crate::domain::service::CampaignView;

fn de_queries<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<QueryIn>>, D::Error> {
    bounded(d, MAX_QUERIES, "vocabulary.queries")
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

/// Its schema is `schema::QueryIn` (exactly one of the two).
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

/// A campaign with its status as of now.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Campaign)]
pub struct CampaignOut<'a> {
    /// Chosen by the server (a UUID).
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
    pub max_count: i32,
    pub min_decrypted_count: i32,
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
            max_count: c.max_count,
            min_decrypted_count: c.min_decrypted_count,
            started: view.status.started,
            completed: view.status.completed,
            active: view.status.active,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CampaignList<'a> {
    pub campaigns: Vec<CampaignOut<'a>>,
}

/// The editable fields of a campaign; read-only ones (name, createTime, started…) are ignored.
/// Absent fields take their defaults. `endTime` must not be before `startTime`; a PUT also
/// follows the update rules of docs/behaviour.md.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default, expecting = "a JSON object")]
#[schema(as = CampaignInput)]
pub struct CampaignIn {
    #[schema(schema_with = schema::name_text, required = true)]
    pub display_name: Option<String>,
    #[schema(schema_with = schema::optional_separated_text)]
    pub email: Option<String>,
    #[schema(schema_with = schema::optional_paragraphs)]
    pub notes: Option<String>,
    #[serde(deserialize_with = "objects_only")]
    #[schema(schema_with = schema::vocabulary_in)]
    pub vocabulary: Option<VocabularyIn>,
    #[serde(deserialize_with = "de_opt_time")]
    #[schema(value_type = Option<schema::TimeIn>)]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "de_opt_time")]
    #[schema(value_type = Option<schema::TimeIn>)]
    pub end_time: Option<DateTime<Utc>>,
    /// Days a sketch may wait after its day before it is submitted (default 0).
    #[schema(minimum = 0, maximum = 2147483647)]
    #[serde(deserialize_with = "de_opt_int")]
    pub delay: Option<i64>,
    /// Days a late submission is still aggregated (default 0).
    #[schema(minimum = 0, maximum = 2147483647)]
    #[serde(deserialize_with = "de_opt_int")]
    pub grace_delay: Option<i64>,
    /// Members per group (default 10).
    #[schema(minimum = 2, maximum = 2147483647)]
    #[serde(deserialize_with = "de_opt_int")]
    pub group_size: Option<i64>,
    #[schema(minimum = 0, maximum = 1)]
    pub sampling_rate: Option<f64>,
    /// Default true.
    pub collect_encrypted: Option<bool>,
    /// Default false.
    pub collect_raw: Option<bool>,
    /// The most searches one member may count in a day (default 10,000): a group whose sum
    /// decrypts outside [0, members × maxCount] is rejected. Kept by a PUT that leaves it out.
    #[schema(minimum = 1, maximum = 2147483647)]
    #[serde(deserialize_with = "de_opt_int")]
    pub max_count: Option<i64>,
    /// The release threshold (default 0, off): a day with fewer decrypted members has its values
    /// withheld. Kept by a PUT that leaves it out.
    #[schema(minimum = 0, maximum = 2147483647)]
    #[serde(deserialize_with = "de_opt_int")]
    pub min_decrypted_count: Option<i64>,
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
            max_count: c.max_count,
            min_decrypted_count: c.min_decrypted_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::http::dto::format_time;

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
    fn epoch_milliseconds_beyond_any_time_read_as_the_first_or_last_time_to_be_refused() {
        let c: CampaignIn = serde_json::from_str(
            r#"{"startTime": 9223372036854775807, "endTime": -9223372036854775808}"#,
        )
        .unwrap();
        assert_eq!(c.start_time, Some(DateTime::<Utc>::MAX_UTC));
        assert_eq!(c.end_time, Some(DateTime::<Utc>::MIN_UTC));
        let c: CampaignIn = serde_json::from_str(
            r#"{"startTime": 18446744073709551615, "endTime": 8000000000000000}"#,
        )
        .unwrap();
        assert_eq!(c.start_time, Some(DateTime::<Utc>::MAX_UTC));
        assert_eq!(
            c.end_time.map(|t| t.timestamp_millis()),
            Some(8_000_000_000_000_000)
        );
        let c: CampaignIn =
            serde_json::from_str(r#"{"maxCount": 25, "minDecryptedCount": null}"#).unwrap();
        let input = CampaignInput::from(c);
        assert_eq!(
            (input.max_count, input.min_decrypted_count),
            (Some(25), None)
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
