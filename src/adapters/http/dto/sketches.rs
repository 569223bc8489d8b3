//! A sketch submission: encrypted and raw values, each array bounded while it is read.

use serde::de::Deserializer;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{bounded, schema, JsonInt};
use crate::domain::campaign::MAX_QUERIES;
use crate::domain::service::sketches::SubmissionInput;

/// The longest value vector a sketch can expect: the total, then one count per query.
pub const MAX_VALUES: usize = MAX_QUERIES + 1;

fn de_encrypted<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    bounded(d, MAX_VALUES, "encryptedValues")
}

fn de_raw<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<i64>>, D::Error> {
    let values: Option<Vec<JsonInt>> = bounded(d, MAX_VALUES, "rawValues")?;
    Ok(values.map(|v| v.into_iter().map(|n| n.0).collect()))
}

/// A sketch's counts: the total, then one per query of the command's vocabulary. Each vector
/// given and not empty has exactly `queriesCount + 1` elements.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default, expecting = "a JSON object")]
#[schema(as = Submission)]
pub struct SubmissionIn {
    #[serde(deserialize_with = "de_encrypted")]
    #[schema(schema_with = schema::encrypted_values)]
    pub encrypted_values: Option<Vec<String>>,
    #[serde(deserialize_with = "de_raw")]
    #[schema(schema_with = schema::raw_values)]
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
