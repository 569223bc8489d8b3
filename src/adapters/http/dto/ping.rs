//! A client's ping and the answer: the active vocabulary and the sketches it should submit.
//!
//! The answer is most of a ping's cost: some 45 KB of keys and queries, identical for the 50
//! members of a group and for every ping of a campaign snapshot. [`ping_json`] writes it from
//! the JSON of those shared parts, serialised once and kept with them (see
//! `domain::shared::Shared`); only the per-command fields are written each time. [`PingOut`]
//! describes the same JSON (the OpenAPI schema, and the reference the test compares with).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{format_time, schema, ser_time, VocabularyOut};
use crate::domain::campaign::Vocabulary;
use crate::domain::service::ping::{Command, PingInput, PingResponse};
use crate::domain::shared::Shared;
use crate::domain::time::Day;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default, expecting = "a JSON object")]
#[schema(as = PingInput)]
pub struct PingIn {
    #[schema(schema_with = schema::optional_activity_text)]
    pub extension_version: Option<String>,
    #[schema(schema_with = schema::optional_activity_text)]
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

/// A sketch to fill in and submit.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Command)]
pub struct CommandOut<'a> {
    pub sketch_name: &'a str,
    #[serde(serialize_with = "ser_time")]
    pub start_time: DateTime<Utc>,
    #[serde(serialize_with = "ser_time")]
    pub end_time: DateTime<Utc>,
    pub vocabulary: VocabularyOut<'a>,
    pub public_keys: &'a [String],
    /// The campaign day of the sketch.
    #[schema(value_type = i64)]
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
            public_keys: c.public_keys.as_slice(),
            round: c.round,
            collect_encrypted: c.collect_encrypted,
            collect_raw: c.collect_raw,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PingResponse)]
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

/// The JSON of `p`, byte for byte as `serde_json::to_vec(&PingOut::from(p))` writes it.
pub fn ping_json(p: &PingResponse) -> Vec<u8> {
    let shared: usize = p
        .submit
        .iter()
        .map(|c| vocabulary_json(&c.vocabulary).len() + keys_json(&c.public_keys).len() + 200)
        .sum();
    let mut out = Vec::with_capacity(shared + vocabulary_json(&p.vocabulary).len() + 64);
    out.extend_from_slice(b"{\"submit\":[");
    for (i, c) in p.submit.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"sketchName\":");
        write_str(&mut out, &c.sketch_name);
        out.extend_from_slice(b",\"startTime\":");
        write_time(&mut out, &c.start_time);
        out.extend_from_slice(b",\"endTime\":");
        write_time(&mut out, &c.end_time);
        out.extend_from_slice(b",\"vocabulary\":");
        out.extend_from_slice(vocabulary_json(&c.vocabulary));
        out.extend_from_slice(b",\"publicKeys\":");
        out.extend_from_slice(keys_json(&c.public_keys));
        out.extend_from_slice(b",\"round\":");
        out.extend_from_slice(c.round.to_string().as_bytes());
        out.extend_from_slice(b",\"collectEncrypted\":");
        out.extend_from_slice(bool_json(c.collect_encrypted));
        out.extend_from_slice(b",\"collectRaw\":");
        out.extend_from_slice(bool_json(c.collect_raw));
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"vocabulary\":");
    out.extend_from_slice(vocabulary_json(&p.vocabulary));
    out.extend_from_slice(b",\"nextPingTime\":");
    write_time(&mut out, &p.next_ping_time);
    out.push(b'}');
    out
}

/// Serialising strings, sequences and maps of string keys into memory cannot fail.
fn to_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

fn vocabulary_json(v: &Shared<Vocabulary>) -> &[u8] {
    v.rendered(|v| to_json(&VocabularyOut(&v.queries)))
}

fn keys_json(keys: &Shared<Vec<String>>) -> &[u8] {
    keys.rendered(to_json)
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_time(out: &mut Vec<u8>, t: &DateTime<Utc>) {
    write_str(out, &format_time(t));
}

fn bool_json(b: bool) -> &'static [u8] {
    if b {
        b"true"
    } else {
        b"false"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::campaign::Query;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        // Quotes, backslashes, control characters and non-ASCII: everything JSON escapes.
        prop_oneof![
            "[a-z0-9 ]{0,12}",
            "[\\\"\\\\\\x00-\\x1f\\u{7f}-\\u{a0}é€😀/<>&]{0,8}",
            any::<String>(),
        ]
    }

    fn vocabulary() -> impl Strategy<Value = Vocabulary> {
        prop::collection::vec(
            prop_oneof![
                text().prop_map(Query::Exact),
                prop::collection::vec(text(), 0..4).prop_map(Query::Terms),
            ],
            0..6,
        )
        .prop_map(|queries| Vocabulary { queries })
    }

    fn time() -> impl Strategy<Value = DateTime<Utc>> {
        (-62_000_000_000_000i64..250_000_000_000_000)
            .prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap_or_default())
    }

    fn command() -> impl Strategy<Value = Command> {
        (
            text(),
            time(),
            time(),
            vocabulary(),
            prop::collection::vec(text(), 0..5),
            any::<i64>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(name, start, end, vocabulary, keys, round, enc, raw)| Command {
                    sketch_name: name,
                    start_time: start,
                    end_time: end,
                    vocabulary: Shared::new(vocabulary),
                    public_keys: Shared::new(keys),
                    round,
                    collect_encrypted: enc,
                    collect_raw: raw,
                },
            )
    }

    proptest! {
        #[test]
        fn ping_json_is_the_serde_serialisation_byte_for_byte(
            submit in prop::collection::vec(command(), 0..4),
            vocabulary in vocabulary(),
            next in time(),
            repeat in any::<bool>(),
        ) {
            let mut p = PingResponse {
                submit,
                vocabulary: Shared::new(vocabulary),
                next_ping_time: next,
            };
            if repeat && !p.submit.is_empty() {
                // Members of one group, commands of one campaign: the same shared values.
                let first = p.submit[0].clone();
                p.submit.push(Command { sketch_name: "other".into(), ..first });
            }
            let reference = serde_json::to_vec(&PingOut::from(&p)).unwrap();
            prop_assert_eq!(&ping_json(&p), &reference);
            // Again, from the kept renderings.
            prop_assert_eq!(&ping_json(&p), &reference);
        }
    }

    #[test]
    fn ping_json_of_a_typical_answer() {
        let keys = Shared::new(vec!["04ab".to_string(), "04cd".to_string()]);
        let vocabulary = Shared::new(Vocabulary {
            queries: vec![
                Query::Exact("flu \"A\"".into()),
                Query::Terms(vec!["sore".into(), "throat".into()]),
            ],
        });
        let t = |ms| DateTime::from_timestamp_millis(ms).unwrap();
        let command = Command {
            sketch_name: "s1".into(),
            start_time: t(0),
            end_time: t(86_400_000),
            vocabulary: vocabulary.clone(),
            public_keys: keys,
            round: 3,
            collect_encrypted: true,
            collect_raw: false,
        };
        let p = PingResponse {
            submit: vec![
                command.clone(),
                Command {
                    sketch_name: "s2".into(),
                    round: -1,
                    ..command
                },
            ],
            vocabulary,
            next_ping_time: t(90_000_000),
        };
        let reference = serde_json::to_vec(&PingOut::from(&p)).unwrap();
        assert_eq!(ping_json(&p), reference);
        let text = String::from_utf8(ping_json(&p)).unwrap();
        assert!(text.starts_with(r#"{"submit":[{"sketchName":"s1","startTime":"1970-01-01T00:00:00.000Z","endTime":"1970-01-02T00:00:00.000Z","vocabulary":{"queries":[{"exact":"flu \"A\""},"#));
        assert!(text.ends_with(r#""nextPingTime":"1970-01-02T01:00:00.000Z"}"#));
    }
}
