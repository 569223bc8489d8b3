//! The serde glue of `Settings`: one `deserialize_with` function per kind of field. Every value
//! may come as a string (flags, environment) or as its natural TOML type (numbers, booleans,
//! arrays); secrets are refused without echoing what they were given.

use std::fmt;

use ipnet::IpNet;
use secrecy::SecretString;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::values::{
    parse_bool, parse_cidr, parse_cidrs, parse_count, parse_database, parse_positive, GeocoderKind,
    HostPort, LogLevel, Span,
};
use crate::domain::grouping::GroupStrategy;

/// A scalar read as text: strings as they are, numbers and booleans written out.
struct Text;

impl<'de> Visitor<'de> for Text {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(Text)
}

fn parsed<'de, D, T>(d: D, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let s = text(d)?;
    parse(&s).map_err(de::Error::custom)
}

/// `host:port` text; a TOML integer is refused by the file layer (`http.port = 5` is not
/// guessed to mean `":5"`).
pub(super) fn host_port<'de, D: Deserializer<'de>>(d: D) -> Result<HostPort, D::Error> {
    parsed(d, str::parse)
}

/// An optional client address (MySQL, DogStatsD): empty means unset; a host and a non-zero
/// port are required.
pub(super) fn opt_server<'de, D: Deserializer<'de>>(d: D) -> Result<Option<HostPort>, D::Error> {
    parsed(d, |s| {
        if s.is_empty() {
            return Ok(None);
        }
        let hp: HostPort = s.parse()?;
        if hp.host.is_empty() || hp.port == 0 {
            return Err(format!(
                "{s:?} is not host:port with a host and a non-zero port (e.g. localhost:3306)"
            ));
        }
        Ok(Some(hp))
    })
}

struct SecretText;

impl<'de> Visitor<'de> for SecretText {
    type Value = SecretString;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretString, E> {
        Ok(SecretString::from(v))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<SecretString, E> {
        Ok(SecretString::from(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<SecretString, E> {
        Ok(SecretString::from(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<SecretString, E> {
        Ok(SecretString::from(v.to_string()))
    }
    // Anything else is refused without showing what it was.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<SecretString, E> {
        Err(E::custom(
            "expected a string (value not shown: it is a secret)",
        ))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<SecretString, E> {
        Err(E::custom(
            "expected a string (value not shown: it is a secret)",
        ))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<SecretString, A::Error> {
        Err(de::Error::custom(
            "expected a string (value not shown: it is a secret)",
        ))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<SecretString, A::Error> {
        Err(de::Error::custom(
            "expected a string (value not shown: it is a secret)",
        ))
    }
}

pub(super) fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    d.deserialize_any(SecretText)
}

/// An optional secret: empty means unset.
pub(super) fn opt_secret<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<SecretString>, D::Error> {
    use secrecy::ExposeSecret;
    let s = secret(d)?;
    Ok((!s.expose_secret().is_empty()).then_some(s))
}

/// The shortest access token accepted.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The access token: empty means unset (a random one is made); blank or shorter than
/// `MIN_TOKEN_CHARS` is refused, without showing it.
pub(super) fn token<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    use secrecy::ExposeSecret;
    let Some(s) = opt_secret(d)? else {
        return Ok(None);
    };
    let t = s.expose_secret();
    if t.trim().is_empty() {
        Err(de::Error::custom("blank (value not shown: it is a secret)"))
    } else if t.chars().count() < MIN_TOKEN_CHARS {
        Err(de::Error::custom(format!(
            "shorter than {MIN_TOKEN_CHARS} characters (value not shown: it is a secret)"
        )))
    } else {
        Ok(Some(s))
    }
}

pub(super) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    text(d)
}

pub(super) fn database<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    parsed(d, parse_database)
}

pub(super) fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    parsed(d, parse_bool)
}

pub(super) fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    parsed(d, parse_count)
}

pub(super) fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    parsed(d, parse_positive)
}

pub(super) fn geocoder<'de, D: Deserializer<'de>>(d: D) -> Result<GeocoderKind, D::Error> {
    parsed(d, str::parse)
}

pub(super) fn strategy<'de, D: Deserializer<'de>>(d: D) -> Result<GroupStrategy, D::Error> {
    parsed(d, str::parse)
}

pub(super) fn time_zone<'de, D: Deserializer<'de>>(d: D) -> Result<chrono_tz::Tz, D::Error> {
    parsed(d, |s| {
        s.parse::<chrono_tz::Tz>()
            .map_err(|_| format!("{s:?} is not an IANA time zone (e.g. Europe/London)"))
    })
}

pub(super) fn span<'de, D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
    parsed(d, str::parse)
}

pub(super) fn log_level<'de, D: Deserializer<'de>>(d: D) -> Result<LogLevel, D::Error> {
    parsed(d, str::parse)
}

pub(super) fn path<'de, D: Deserializer<'de>>(d: D) -> Result<std::path::PathBuf, D::Error> {
    parsed(d, |s| {
        if s.is_empty() {
            Err("the path is empty".to_string())
        } else {
            Ok(s.into())
        }
    })
}

pub(super) fn opt_path<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<std::path::PathBuf>, D::Error> {
    let s = text(d)?;
    Ok((!s.is_empty()).then(|| s.into()))
}

/// A CIDR list: a TOML array of strings, or one comma-separated string.
pub(super) fn cidrs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Cidrs {
        One(String),
        Many(Vec<String>),
    }
    match Cidrs::deserialize(d)? {
        Cidrs::One(s) => parse_cidrs(&s),
        Cidrs::Many(v) => v.iter().map(|s| parse_cidr(s)).collect(),
    }
    .map_err(de::Error::custom)
}
