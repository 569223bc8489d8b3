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
        .map_err(|e| syntax_error(toml, name, &e))?;
    let mut out = BTreeMap::new();
    for (_, dict) in data {
        flatten("", dict, &mut out);
    }
    if out.contains_key("config") {
        return Err(ConfigError::new(format!(
            "config: {name:?} sets \"config\", which only a flag or PDD_CONFIG can set"
        )));
    }
    for (key, value) in &out {
        if let Some(spec) = SPECS.iter().find(|s| s.name == key.as_str()) {
            if let Err(expected) = check_type(spec, value) {
                return Err(ConfigError::new(format!(
                    "invalid {key} (from config file {name:?}): expected {expected}, found {}",
                    type_name(value)
                )));
            }
        }
    }
    Ok(FileLayer {
        name: name.to_string(),
        values: out,
    })
}

/// A TOML syntax error as the file's name, the line and the key on it: never the line itself,
/// which may hold a secret (the parser's own message quotes it).
fn syntax_error(toml: &str, name: &str, err: &figment::Error) -> ConfigError {
    let text = err.to_string();
    let line = text
        .split("line ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0);
    let Some(line) = line else {
        return ConfigError::new(format!("config: {name:?} is not valid TOML"));
    };
    let key = toml.lines().nth(line - 1).and_then(|l| {
        let (key, _) = l.split_once('=')?;
        let key = key.trim().replace('"', "");
        let plain = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        plain.then_some(key)
    });
    match key {
        Some(key) => ConfigError::new(format!(
            "config: {name:?} is not valid TOML: line {line}, key {key}"
        )),
        None => ConfigError::new(format!("config: {name:?} is not valid TOML: line {line}")),
    }
}

/// The TOML type a setting takes in a file: booleans and counts in their own type, the proxy
/// list as an array or one string, everything else as a string. A value of another type is
/// refused rather than guessed at (`http.port = 5` is not `":5"`).
fn check_type(spec: &crate::config::Spec, value: &Value) -> Result<(), &'static str> {
    let ok = match value {
        Value::Bool(..) => spec.is_bool(),
        Value::Num(_, n) => spec.value == Some("n") && is_integer(*n),
        Value::String(..) => !spec.is_bool() && spec.value != Some("n"),
        Value::Array(_, items) => {
            spec.name == "http.trusted_proxies"
                && items.iter().all(|i| matches!(i, Value::String(..)))
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else if spec.is_bool() {
        Err("true or false")
    } else if spec.value == Some("n") {
        Err("a whole number")
    } else if spec.name == "http.trusted_proxies" {
        Err("an array of strings or a string")
    } else {
        Err("a string")
    }
}

fn is_integer(n: figment::value::Num) -> bool {
    n.to_u128().is_some() || n.to_i128().is_some()
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(..) | Value::Char(..) => "a string",
        Value::Bool(..) => "a boolean",
        Value::Num(_, n) if is_integer(*n) => "an integer",
        Value::Num(..) => "a number",
        Value::Array(..) => "an array",
        Value::Dict(..) => "a table",
        Value::Empty(..) => "nothing",
    }
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
    fn a_toml_syntax_error_names_the_file_line_and_key_never_the_line() {
        let e = Settings::from_toml_str(
            "log_level = \"INFO\"\napi.access_token = \"TOKsecret-0123456789\n",
            "f.toml",
        )
        .unwrap_err();
        assert_eq!(
            e.0,
            "config: \"f.toml\" is not valid TOML: line 2, key api.access_token"
        );
        // No `=` to tell the key by: the line only.
        let e = Settings::from_toml_str("api.access_token \"TOKsecret-0123456789\"\n", "f.toml")
            .unwrap_err();
        assert_eq!(e.0, "config: \"f.toml\" is not valid TOML: line 1");
    }

    #[test]
    fn toml_values_of_the_wrong_type_are_refused_not_coerced() {
        let cases = [
            (
                "http.port = 5",
                "invalid http.port (from config file \"f.toml\"): expected a string, found an integer",
            ),
            (
                "testing_mode = \"true\"",
                "invalid testing_mode (from config file \"f.toml\"): expected true or false, found a string",
            ),
            (
                "\"http.max_connections\" = \"100\"",
                "invalid http.max_connections (from config file \"f.toml\"): expected a whole number, found a string",
            ),
            (
                "mysql_user = 5",
                "invalid mysql_user (from config file \"f.toml\"): expected a string, found an integer",
            ),
            (
                "\"http.max_connections\" = 1.5",
                "invalid http.max_connections (from config file \"f.toml\"): expected a whole number, found a number",
            ),
            (
                "api.access_token = 12345678901234567",
                "invalid api.access_token (from config file \"f.toml\"): expected a string, found an integer",
            ),
        ];
        for (toml, expected) in cases {
            let e = Settings::from_toml_str(&format!("{toml}\n"), "f.toml").unwrap_err();
            assert_eq!(e.0, expected, "{toml}");
        }
    }

    #[test]
    fn a_blank_or_short_access_token_is_refused_without_showing_it() {
        for (token, why) in [
            (" ", "blank"),
            ("   \t  ", "blank"),
            ("a", "shorter than 16 characters"),
            ("fifteen-chars-x", "shorter than 16 characters"),
        ] {
            let flag = format!("-api.access_token={token}");
            let e = crate::config::test_support::err(&[&flag]);
            assert_eq!(
                e,
                format!(
                    "invalid api.access_token (from flag -api.access_token): {why} (value not shown: it is a secret)"
                )
            );
        }
        let s = run(&["-api.access_token=sixteen-chars-xy"], &BTreeMap::new()).unwrap();
        assert!(s.api_access_token.is_some());
        let e =
            Settings::from_toml_str("api.access_token = \"short-SECRET\"\n", "f.toml").unwrap_err();
        assert!(!e.0.contains("SECRET"), "{}", e.0);
        assert!(e.0.contains("shorter than 16"), "{}", e.0);
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
