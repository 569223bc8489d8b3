//! A client's ping and the answer: the active vocabulary and the sketches it should submit.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ser_time, VocabularyOut};
use crate::domain::service::ping::{Command, PingInput, PingResponse};
use crate::domain::time::Day;

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
