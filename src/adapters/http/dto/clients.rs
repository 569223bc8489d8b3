//! Clients (the browser extensions) and their activity: what registration reads, what the
//! private API lists.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{schema, ser_time};
use crate::domain::client::{Activity, Client, ClientDetails, ClientInput};

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Client)]
pub struct ClientOut<'a> {
    /// Chosen by the server (a UUID).
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
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ClientDetails)]
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

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientList<'a> {
    pub clients: Vec<ClientOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<&'a str>,
}

/// A registration. Unknown fields (the extension sends its whole local state) are ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default, expecting = "a JSON object")]
#[schema(as = ClientInput)]
pub struct ClientIn {
    #[schema(schema_with = schema::public_key, required = true)]
    pub public_key: Option<String>,
    #[schema(schema_with = schema::name_text, required = true)]
    pub browser: Option<String>,
    #[schema(schema_with = schema::optional_name_text)]
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

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default, expecting = "a JSON object")]
#[schema(as = ClientUpdate)]
pub struct ClientUpdateIn {
    /// Absent: leave it; `null` or `""`: clear it; a string: set it.
    #[serde(deserialize_with = "present")]
    #[schema(schema_with = schema::optional_name_text)]
    pub external_name: Option<Option<String>>,
}

/// A field that is present, `null` included (`Some(None)`); an absent one stays at its default
/// (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// One ping.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Activity)]
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

#[derive(Serialize, ToSchema)]
pub struct ActivityList<'a> {
    pub days: Vec<ActivityOut<'a>>,
}
