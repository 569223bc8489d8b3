//! The layering: defaults < TOML file < `PDD_` environment < flags, merged with figment into
//! one `Settings`. Each environment variable and each flag is its own layer, so that an error
//! names exactly where the faulty value came from.

use std::collections::BTreeMap;

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use secrecy::SecretString;

use super::{ConfigError, Settings, DEFAULT_ENVIRONMENT, SPECS};

/// A layer of flat `name → value` pairs with a name for error messages.
struct Layer {
    source: String,
    dict: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.source.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Map::from([(Profile::Default, self.dict.clone())]))
    }
}

fn layer(source: impl Into<String>, pairs: impl IntoIterator<Item = (String, Value)>) -> Layer {
    Layer {
        source: source.into(),
        dict: pairs.into_iter().collect(),
    }
}

/// Flattens nested tables into dotted keys, so that `[http] port = ":8000"`,
/// `http.port = ":8000"` and `"http.port" = ":8000"` all mean the setting `http.port`.
fn flatten(prefix: &str, dict: Dict, out: &mut BTreeMap<String, Value>) {
    for (k, v) in dict {
        let key = if prefix.is_empty() {
            k
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Dict(_, inner) => flatten(&key, inner, out),
            v => {
                out.insert(key, v);
            }
        }
    }
}

/// The settings of a TOML file, flattened, with the file's name for error messages.
pub(super) struct FileLayer {
    name: String,
    values: BTreeMap<String, Value>,
}

pub(super) fn file_layer(toml: &str, name: &str) -> Result<FileLayer, ConfigError> {
    use figment::providers::Format;
    let data = figment::providers::Toml::string(toml)
        .data()
        .map_err(|e| ConfigError::new(format!("config: {name:?} is not valid TOML: {e}")))?;
    let mut out = BTreeMap::new();
    for (_, dict) in data {
        flatten("", dict, &mut out);
    }
    if out.contains_key("config") {
        return Err(ConfigError::new(format!(
            "config: {name:?} sets \"config\", which only a flag or PDD_CONFIG can set"
        )));
    }
    Ok(FileLayer {
        name: name.to_string(),
        values: out,
    })
}

pub(super) fn resolve(
    file: Option<&FileLayer>,
    flags: &[(String, String)],
    env: &BTreeMap<String, String>,
) -> Result<Settings, ConfigError> {
    let defaults = layer(
        "the defaults",
        SPECS
            .iter()
            .filter_map(|s| Some((s.name.to_string(), Value::from(s.default?.to_string())))),
    );
    let mut figment = Figment::new().merge(defaults);
    if let Some(file) = file {
        figment = figment.merge(layer(
            format!("config file {:?}", file.name),
            file.values.clone(),
        ));
    }
    // One layer per variable and per flag, so that an error names exactly where a value came
    // from.
    for spec in SPECS {
        if let Some(v) = env.get(&spec.env_name()) {
            figment = figment.merge(layer(
                format!("environment variable {}", spec.env_name()),
                [(spec.name.to_string(), Value::from(v.clone()))],
            ));
        }
    }
    for (name, v) in flags {
        figment = figment.merge(layer(
            format!("flag -{name}"),
            [(name.clone(), Value::from(v.clone()))],
        ));
    }
    let mut settings: Settings = figment.extract().map_err(describe)?;
    settings.environment = env
        .get("ENVIRONMENT")
        .filter(|e| !e.is_empty())
        .cloned()
        .unwrap_or_else(|| DEFAULT_ENVIRONMENT.to_string());
    settings.sentry_dsn = env
        .get("SENTRY_DSN")
        .filter(|d| !d.is_empty())
        .map(|d| SecretString::from(d.clone()));
    Ok(settings)
}

/// One line out of figment's error: the setting, where its value came from, and why it is
/// wrong.
fn describe(err: figment::Error) -> ConfigError {
    use figment::error::Kind;
    let source = err
        .metadata
        .as_ref()
        .map_or_else(|| "the settings".to_string(), |m| m.name.to_string());
    let key = err.path.join(".");
    let msg = match &err.kind {
        Kind::UnknownField(found, _) => format!("unknown setting {found:?} in {source}"),
        Kind::Message(m) => format!("invalid {key} (from {source}): {m}"),
        Kind::MissingField(f) => format!("missing setting {f}"),
        other => format!("invalid {key} (from {source}): {other}"),
    };
    ConfigError::new(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::{env, run};
    use crate::config::{LogLevel, Spec};

    #[test]
    fn environment_overrides_file_and_flags_override_environment() {
        let file = file_layer(
            "\"http.port\" = \":1001\"\nadmin.port = \":2001\"\n[mysql]\n\ngroups = \"frequency\"\n",
            "t.toml",
        );
        // `[mysql]` opens a table, so `groups` above is `mysql.groups`: unknown.
        assert!(resolve(Some(&file.unwrap()), &[], &BTreeMap::new())
            .unwrap_err()
            .0
            .contains("unknown setting \"mysql.groups\" in config file \"t.toml\""));

        let file = file_layer(
            "\"http.port\" = \":1001\"\nmysql_user = \"file\"\nlog_level = \"WARN\"\n[admin]\nport = \":2001\"\n",
            "t.toml",
        )
        .unwrap();
        let e = env(&[
            ("PDD_MYSQL_USER", "env"),
            ("PDD_ADMIN_PORT", ":2002"),
            ("PDD_LOG_LEVEL", "ERROR"),
            ("PDD_REQUIRE_MYSQL", "1"),
        ]);
        let flags = vec![("log_level".to_string(), "DEBUG".to_string())];
        let s = resolve(Some(&file), &flags, &e).unwrap();
        assert_eq!(s.http_port.port, 1001, "file over defaults");
        assert_eq!(s.mysql_user, "env", "environment over file");
        assert_eq!(
            s.admin_port.port, 2002,
            "environment over file (nested table)"
        );
        assert_eq!(s.log_level, LogLevel::Debug, "flags over environment");
        assert_eq!(s.mysql_database, "pdd", "defaults when nobody says");
    }

    #[test]
    fn config_file_with_unknown_key_or_bad_toml_is_refused() {
        let e = Settings::from_toml_str("mysql_sever = \"x:1\"\n", "f.toml").unwrap_err();
        assert_eq!(
            e.0,
            "unknown setting \"mysql_sever\" in config file \"f.toml\""
        );
        let e = Settings::from_toml_str("mysql_server = \n", "f.toml").unwrap_err();
        assert!(
            e.0.starts_with("config: \"f.toml\" is not valid TOML"),
            "{}",
            e.0
        );
        let e = Settings::from_toml_str("config = \"other.toml\"\n", "f.toml").unwrap_err();
        assert!(e.0.contains("only a flag or PDD_CONFIG"), "{}", e.0);
    }

    #[test]
    fn every_setting_has_a_pdd_environment_variable() {
        let names: Vec<String> = SPECS.iter().map(Spec::env_name).collect();
        for expected in [
            "PDD_HTTP_PORT",
            "PDD_API_ACCESS_TOKEN",
            "PDD_MYSQL_PASSWORD",
            "PDD_GEOCODER_MAXMIND_DB",
            "PDD_HTTP_TRUSTED_PROXIES",
        ] {
            assert!(names.iter().any(|n| n == expected), "{expected}");
        }
        let s = run(
            &[],
            &env(&[
                ("PDD_TESTING_MODE", "true"),
                ("PDD_PRUNE_THRESHOLD", "36.hours"),
            ]),
        )
        .unwrap();
        assert!(s.testing_mode);
        assert_eq!(s.prune_threshold.0, chrono::TimeDelta::hours(36));
        let e = run(&[], &env(&[("PDD_HTTP_PORT", "eighty")]))
            .unwrap_err()
            .0;
        assert!(
            e.starts_with(
                "invalid http.port (from environment variable PDD_HTTP_PORT): \"eighty\""
            ),
            "{e}"
        );
    }
}
