//! A client's ping and the answer: the active vocabulary and the sketches it should submit.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{schema, ser_time, VocabularyOut};
use crate::domain::service::ping::{Command, PingInput, PingResponse};
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
            public_keys: &c.public_keys,
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
