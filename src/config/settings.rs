//! `Settings`: everything the server is told, validated, and its one-line rendering with the
//! secrets hidden (safe to log).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use ipnet::IpNet;
use secrecy::SecretString;
use serde::Deserialize;

use super::de;
use super::layers::{file_layer, resolve};
use super::values::{GeocoderKind, HostPort, LogLevel, Span};
use super::ConfigError;
use crate::domain::grouping::GroupStrategy;

/// Everything the server is told, validated.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(rename = "http.port", deserialize_with = "de::host_port")]
    pub http_port: HostPort,
    #[serde(rename = "admin.port", deserialize_with = "de::host_port")]
    pub admin_port: HostPort,
    #[serde(rename = "api.access_token", default, deserialize_with = "de::token")]
    pub api_access_token: Option<SecretString>,
    #[serde(default, deserialize_with = "de::opt_server")]
    pub mysql_server: Option<HostPort>,
    #[serde(deserialize_with = "de::string")]
    pub mysql_user: String,
    #[serde(deserialize_with = "de::secret")]
    pub mysql_password: SecretString,
    #[serde(deserialize_with = "de::database")]
    pub mysql_database: String,
    #[serde(deserialize_with = "de::span")]
    pub mysql_timeout: Span,
    #[serde(deserialize_with = "de::geocoder")]
    pub geocoder: GeocoderKind,
    #[serde(rename = "geocoder.maxmind_db", deserialize_with = "de::path")]
    pub geocoder_maxmind_db: PathBuf,
    #[serde(default, deserialize_with = "de::opt_server")]
    pub datadog_server: Option<HostPort>,
    #[serde(deserialize_with = "de::strategy")]
    pub groups: GroupStrategy,
    #[serde(deserialize_with = "de::time_zone")]
    pub timezone: chrono_tz::Tz,
    #[serde(deserialize_with = "de::span")]
    pub prune_threshold: Span,
    #[serde(deserialize_with = "de::boolean")]
    pub testing_mode: bool,
    #[serde(deserialize_with = "de::log_level")]
    pub log_level: LogLevel,
    #[serde(rename = "http.trusted_proxies", deserialize_with = "de::cidrs")]
    pub http_trusted_proxies: Vec<IpNet>,
    #[serde(rename = "http.header_timeout", deserialize_with = "de::span")]
    pub http_header_timeout: Span,
    #[serde(rename = "http.body_timeout", deserialize_with = "de::span")]
    pub http_body_timeout: Span,
    #[serde(rename = "http.max_connections", deserialize_with = "de::positive")]
    pub http_max_connections: u32,
    #[serde(rename = "http.write_timeout", deserialize_with = "de::span")]
    pub http_write_timeout: Span,
    #[serde(rename = "http.max_connections_per_ip", deserialize_with = "de::count")]
    pub http_max_connections_per_ip: u32,
    #[serde(rename = "http.rate_limit.register", deserialize_with = "de::count")]
    pub http_rate_limit_register: u32,
    #[serde(
        rename = "http.rate_limit.register_burst",
        deserialize_with = "de::positive"
    )]
    pub http_rate_limit_register_burst: u32,
    #[serde(rename = "http.rate_limit.ping", deserialize_with = "de::count")]
    pub http_rate_limit_ping: u32,
    #[serde(
        rename = "http.rate_limit.ping_burst",
        deserialize_with = "de::positive"
    )]
    pub http_rate_limit_ping_burst: u32,
    #[serde(rename = "http.rate_limit.unknown", deserialize_with = "de::count")]
    pub http_rate_limit_unknown: u32,
    #[serde(
        rename = "http.rate_limit.unknown_burst",
        deserialize_with = "de::positive"
    )]
    pub http_rate_limit_unknown_burst: u32,
    #[serde(default, deserialize_with = "de::opt_path")]
    pub config: Option<PathBuf>,
    /// `SENTRY_DSN`: errors are reported to Sentry when set.
    #[serde(skip)]
    pub sentry_dsn: Option<SecretString>,
    /// `ENVIRONMENT`: tags Sentry events and Datadog metrics.
    #[serde(skip)]
    pub environment: String,
}

fn secret_state(s: &Option<SecretString>) -> &'static str {
    if s.is_some() {
        "<set>"
    } else {
        "<unset>"
    }
}

/// Shows every setting except secrets, which appear only as set or unset.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// The resolved settings on one line, secrets hidden; safe to log.
impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use secrecy::ExposeSecret;
        let opt =
            |v: &Option<HostPort>| v.as_ref().map_or("<unset>".to_string(), |v| v.to_string());
        let proxies: Vec<String> = self
            .http_trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect();
        write!(
            f,
            "http.port={} admin.port={} api.access_token={} mysql_server={} mysql_user={} \
             mysql_password={} mysql_database={} mysql_timeout={} geocoder={} geocoder.maxmind_db={} \
             datadog_server={} groups={} timezone={} prune_threshold={} testing_mode={} \
             log_level={} http.trusted_proxies={} http.header_timeout={} http.body_timeout={} \
             http.max_connections={} http.write_timeout={} http.max_connections_per_ip={} \
             http.rate_limit.register={} \
             http.rate_limit.register_burst={} http.rate_limit.ping={} \
             http.rate_limit.ping_burst={} http.rate_limit.unknown={} \
             http.rate_limit.unknown_burst={} config={} environment={} sentry_dsn={}",
            self.http_port,
            self.admin_port,
            if self.api_access_token.is_some() {
                "<given>"
            } else {
                "<random>"
            },
            opt(&self.mysql_server),
            self.mysql_user,
            if self.mysql_password.expose_secret().is_empty() {
                "<empty>"
            } else {
                "<set>"
            },
            self.mysql_database,
            self.mysql_timeout,
            self.geocoder.as_str(),
            self.geocoder_maxmind_db.display(),
            opt(&self.datadog_server),
            self.groups.as_str(),
            self.timezone.name(),
            self.prune_threshold,
            self.testing_mode,
            self.log_level.as_str(),
            proxies.join(","),
            self.http_header_timeout,
            self.http_body_timeout,
            self.http_max_connections,
            self.http_write_timeout,
            self.http_max_connections_per_ip,
            self.http_rate_limit_register,
            self.http_rate_limit_register_burst,
            self.http_rate_limit_ping,
            self.http_rate_limit_ping_burst,
            self.http_rate_limit_unknown,
            self.http_rate_limit_unknown_burst,
            self.config
                .as_ref()
                .map_or("<unset>".to_string(), |p| p.display().to_string()),
            self.environment,
            secret_state(&self.sentry_dsn),
        )
    }
}

impl Settings {
    /// The settings with nothing given: all defaults.
    pub fn defaults() -> Settings {
        resolve(None, &[], &BTreeMap::new()).expect("the built-in defaults are valid settings")
    }

    /// Reads a TOML file as the only layer above the defaults (no environment, no flags).
    pub fn from_toml_str(toml: &str, name: &str) -> Result<Settings, ConfigError> {
        let file = file_layer(toml, name)?;
        resolve(Some(&file), &[], &BTreeMap::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::{env, run};
    use crate::config::{Spec, DEFAULT_MAXMIND_DB, SPECS};
    use secrecy::ExposeSecret;

    #[test]
    fn defaults_match_the_documented_defaults() {
        let s = Settings::defaults();
        assert_eq!(s.http_port.to_string(), ":8000");
        assert_eq!(s.admin_port.to_string(), ":9990");
        assert!(s.api_access_token.is_none());
        assert!(s.mysql_server.is_none());
        assert_eq!(s.mysql_user, "root");
        assert_eq!(s.mysql_password.expose_secret(), "");
        assert_eq!(s.mysql_database, "pdd");
        assert_eq!(s.geocoder, GeocoderKind::None);
        assert_eq!(s.geocoder_maxmind_db, PathBuf::from(DEFAULT_MAXMIND_DB));
        assert!(s.datadog_server.is_none());
        assert_eq!(s.groups, GroupStrategy::Naive);
        assert_eq!(s.timezone, chrono_tz::Europe::London);
        assert_eq!(s.prune_threshold.0, chrono::TimeDelta::days(15));
        assert!(!s.testing_mode);
        assert_eq!(s.log_level, LogLevel::Info);
        assert!(s.http_trusted_proxies.is_empty());
        assert_eq!(s.http_header_timeout.0, chrono::TimeDelta::seconds(10));
        assert_eq!(s.http_body_timeout.0, chrono::TimeDelta::seconds(60));
        assert_eq!(s.http_max_connections, 10_000);
        assert_eq!(s.http_write_timeout.0, chrono::TimeDelta::seconds(30));
        assert_eq!(s.http_max_connections_per_ip, 64);
        assert_eq!(s.mysql_timeout.0, chrono::TimeDelta::seconds(5));
        assert_eq!(
            (s.http_rate_limit_register, s.http_rate_limit_register_burst),
            (10, 20)
        );
        assert_eq!(
            (s.http_rate_limit_ping, s.http_rate_limit_ping_burst),
            (60, 120)
        );
        assert_eq!(
            (s.http_rate_limit_unknown, s.http_rate_limit_unknown_burst),
            (60, 120)
        );
        assert!(s.config.is_none());
        assert_eq!(s.environment, "devel");
        assert!(s.sentry_dsn.is_none());
    }

    #[test]
    fn toml_values_may_use_their_natural_types() {
        let s = Settings::from_toml_str(
            "testing_mode = true\n\"http.port\" = \":8080\"\n\"http.max_connections\" = 20\n\"http.trusted_proxies\" = [\"10.0.0.0/8\", \"::1\"]\n",
            "f.toml",
        )
        .unwrap();
        assert!(s.testing_mode);
        assert_eq!(s.http_port.to_string(), ":8080");
        assert_eq!(s.http_max_connections, 20);
        assert_eq!(s.http_trusted_proxies.len(), 2);
        // One string for the proxies too.
        let s =
            Settings::from_toml_str("\"http.trusted_proxies\" = \"10.0.0.0/8,::1\"\n", "f.toml")
                .unwrap();
        assert_eq!(s.http_trusted_proxies.len(), 2);
    }

    #[test]
    fn secrets_never_appear_in_debug_display_or_errors() {
        let s = run(
            &[
                "-api.access_token=tok-SECRET-1-long-enough",
                "-mysql_password=pw-SECRET-2",
            ],
            &env(&[("SENTRY_DSN", "https://k-SECRET-3@sentry.example/1")]),
        )
        .unwrap();
        for shown in [format!("{s:?}"), format!("{s}")] {
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(shown.contains("api.access_token=<given>"), "{shown}");
            assert!(shown.contains("mysql_password=<set>"), "{shown}");
        }
        let e =
            Settings::from_toml_str("mysql_password = [\"pw-SECRET\"]\n", "f.toml").unwrap_err();
        assert!(!e.0.contains("SECRET"), "{}", e.0);
        assert!(e.0.contains("mysql_password"), "{}", e.0);
    }

    #[test]
    fn empty_optional_values_mean_unset() {
        let s = run(
            &["-mysql_server=", "-api.access_token="],
            &env(&[("PDD_DATADOG_SERVER", "")]),
        )
        .unwrap();
        assert!(s.mysql_server.is_none());
        assert!(s.api_access_token.is_none());
        assert!(s.datadog_server.is_none());
    }

    #[test]
    fn config_example_toml_parses_and_documents_every_setting_with_its_default() {
        let text = include_str!("../../config.example.toml");
        let s = Settings::from_toml_str(text, "config.example.toml").unwrap();
        assert_eq!(s.http_port.to_string(), ":8000");
        for spec in SPECS.iter().filter(|s| s.name != "config") {
            let commented = text.lines().any(|l| {
                let l = l.trim_start_matches(['#', ' ']);
                l.starts_with(&format!("\"{}\" =", spec.name))
                    || l.starts_with(&format!("{} =", spec.name))
            });
            assert!(
                commented,
                "config.example.toml does not document {}",
                spec.name
            );
            if let Some(default) = spec.default {
                let line = format!("{} = {}", spec.name, toml_default(spec, default));
                let quoted = format!("\"{}\" = {}", spec.name, toml_default(spec, default));
                assert!(
                    text.lines().any(|l| {
                        let l = l.trim_start_matches(['#', ' ']);
                        l == line || l == quoted
                    }),
                    "config.example.toml should show {line}"
                );
            }
        }
        // Uncommenting every documented default gives the defaults back.
        let uncommented: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| {
                SPECS.iter().filter(|s| s.default.is_some()).any(|s| {
                    l.starts_with(&format!("{} = ", s.name))
                        || l.starts_with(&format!("\"{}\" = ", s.name))
                })
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let all = Settings::from_toml_str(&uncommented, "uncommented").unwrap();
        assert_eq!(format!("{all}"), format!("{}", Settings::defaults()));
    }

    fn toml_default(spec: &Spec, default: &str) -> String {
        match spec.name {
            "testing_mode" => default.to_string(),
            "http.trusted_proxies" => "[]".to_string(),
            _ if default.parse::<u64>().is_ok() => default.to_string(),
            _ => format!("{default:?}"),
        }
    }
}
