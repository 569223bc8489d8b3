//! Settings: defaults < TOML file (`-config`) < `PDD_` environment < flags, resolved once at
//! start-up into one `Settings`. Flags follow the single-dash style of the deployment page
//! (`-http.port=:8000`, `-name value`, bare `-testing_mode`) and the GNU style.

mod cli;
mod values;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use ipnet::IpNet;
use secrecy::SecretString;
use serde::Deserialize;

pub use cli::{command, help_text};
pub use values::{GeocoderKind, HostPort, LogLevel, Span};

use crate::domain::grouping::GroupStrategy;

/// Where the `-geocoder=maxmind` database is looked for unless told otherwise (the Docker image
/// ships one there).
pub const DEFAULT_MAXMIND_DB: &str = "/usr/share/pdd-server/country.mmdb";

/// One setting: its name (flag, TOML key, and `PDD_` variable after upper-casing), default,
/// and meaning. The table drives the flags, the environment, the defaults and `-help`.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    /// Placeholder of the value in `-help`; `None` for booleans.
    pub value: Option<&'static str>,
    /// The default fed to the defaults layer; `None` when the setting is unset by default.
    pub default: Option<&'static str>,
    /// The default as shown in `-help` (e.g. "random", "unset").
    pub shown_default: &'static str,
    pub help: &'static str,
}

impl Spec {
    pub fn is_bool(&self) -> bool {
        self.value.is_none()
    }

    /// `PDD_` followed by the name with dots as underscores, upper case.
    pub fn env_name(&self) -> String {
        format!("PDD_{}", self.name.replace('.', "_").to_ascii_uppercase())
    }
}

pub const SPECS: &[Spec] = &[
    Spec {
        name: "http.port",
        value: Some("host:port"),
        default: Some(":8000"),
        shown_default: "\":8000\"",
        help: "main (public) interface; the host may be empty (all interfaces) but the colon stays",
    },
    Spec {
        name: "admin.port",
        value: Some("host:port"),
        default: Some(":9990"),
        shown_default: "\":9990\"",
        help: "admin interface (health, metrics, jobs); keep it private",
    },
    Spec {
        name: "api.access_token",
        value: Some("token"),
        default: None,
        shown_default: "random, printed once at start-up",
        help: "bearer token of the private API (prefer PDD_API_ACCESS_TOKEN to keep it off the command line)",
    },
    Spec {
        name: "mysql_server",
        value: Some("host:port"),
        default: None,
        shown_default: "unset: in-memory storage, nothing persists",
        help: "MySQL/MariaDB server to store everything in",
    },
    Spec {
        name: "mysql_user",
        value: Some("user"),
        default: Some("root"),
        shown_default: "\"root\"",
        help: "MySQL user",
    },
    Spec {
        name: "mysql_password",
        value: Some("password"),
        default: Some(""),
        shown_default: "empty",
        help: "MySQL password (prefer PDD_MYSQL_PASSWORD)",
    },
    Spec {
        name: "mysql_database",
        value: Some("name"),
        default: Some("pdd"),
        shown_default: "\"pdd\"",
        help: "MySQL database, created with its tables when missing",
    },
    Spec {
        name: "geocoder",
        value: Some("none|maxmind"),
        default: Some("none"),
        shown_default: "\"none\"",
        help: "how client addresses become countries: none (alias null) or maxmind",
    },
    Spec {
        name: "geocoder.maxmind_db",
        value: Some("path"),
        default: Some(DEFAULT_MAXMIND_DB),
        shown_default: "\"/usr/share/pdd-server/country.mmdb\"",
        help: "country database (.mmdb) read by -geocoder=maxmind",
    },
    Spec {
        name: "datadog_server",
        value: Some("host:port"),
        default: None,
        shown_default: "unset: metrics only on the admin port",
        help: "DogStatsD agent to also send metrics to (UDP)",
    },
    Spec {
        name: "groups",
        value: Some("naive|frequency"),
        default: Some("naive"),
        shown_default: "\"naive\"",
        help: "group strategy: naive (shuffle everyone) or frequency (only regular clients)",
    },
    Spec {
        name: "timezone",
        value: Some("zone"),
        default: Some("Europe/London"),
        shown_default: "\"Europe/London\"",
        help: "reference time zone of days and job times (IANA name)",
    },
    Spec {
        name: "prune_threshold",
        value: Some("duration"),
        default: Some("15.days"),
        shown_default: "\"15.days\"",
        help: "inactivity after which a client is deleted (15.days, 36.hours, 90.minutes, 30.seconds)",
    },
    Spec {
        name: "testing_mode",
        value: None,
        default: Some("false"),
        shown_default: "false",
        help: "run the clock 288 times fast: a day lasts 5 minutes (never in production)",
    },
    Spec {
        name: "log_level",
        value: Some("level"),
        default: Some("INFO"),
        shown_default: "\"INFO\"",
        help: "ALL, TRACE, DEBUG, INFO, WARN, ERROR or OFF (any case)",
    },
    Spec {
        name: "http.trusted_proxies",
        value: Some("cidr,..."),
        default: Some(""),
        shown_default: "empty: use the socket peer address",
        help: "reverse proxies whose X-Forwarded-For is believed (comma-separated CIDR blocks)",
    },
    Spec {
        name: "config",
        value: Some("path"),
        default: None,
        shown_default: "unset",
        help: "TOML file holding any of these settings (see config.example.toml)",
    },
];

/// Everything the server is told, validated.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(rename = "http.port", deserialize_with = "values::host_port")]
    pub http_port: HostPort,
    #[serde(rename = "admin.port", deserialize_with = "values::host_port")]
    pub admin_port: HostPort,
    #[serde(
        rename = "api.access_token",
        default,
        deserialize_with = "values::opt_secret"
    )]
    pub api_access_token: Option<SecretString>,
    #[serde(default, deserialize_with = "values::opt_server")]
    pub mysql_server: Option<HostPort>,
    #[serde(deserialize_with = "values::string")]
    pub mysql_user: String,
    #[serde(deserialize_with = "values::secret")]
    pub mysql_password: SecretString,
    #[serde(deserialize_with = "values::database")]
    pub mysql_database: String,
    #[serde(deserialize_with = "values::geocoder")]
    pub geocoder: GeocoderKind,
    #[serde(rename = "geocoder.maxmind_db", deserialize_with = "values::path")]
    pub geocoder_maxmind_db: PathBuf,
    #[serde(default, deserialize_with = "values::opt_server")]
    pub datadog_server: Option<HostPort>,
    #[serde(deserialize_with = "values::strategy")]
    pub groups: GroupStrategy,
    #[serde(deserialize_with = "values::time_zone")]
    pub timezone: chrono_tz::Tz,
    #[serde(deserialize_with = "values::span")]
    pub prune_threshold: Span,
    #[serde(deserialize_with = "values::boolean")]
    pub testing_mode: bool,
    #[serde(deserialize_with = "values::log_level")]
    pub log_level: LogLevel,
    #[serde(rename = "http.trusted_proxies", deserialize_with = "values::cidrs")]
    pub http_trusted_proxies: Vec<IpNet>,
    #[serde(default, deserialize_with = "values::opt_path")]
    pub config: Option<PathBuf>,
    /// `SENTRY_DSN`: errors are reported to Sentry when set.
    #[serde(skip)]
    pub sentry_dsn: Option<SecretString>,
    /// `ENVIRONMENT`: tags Sentry events and Datadog metrics.
    #[serde(skip)]
    pub environment: String,
}

/// The default environment name when `ENVIRONMENT` is unset.
pub const DEFAULT_ENVIRONMENT: &str = "devel";

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
             mysql_password={} mysql_database={} geocoder={} geocoder.maxmind_db={} \
             datadog_server={} groups={} timezone={} prune_threshold={} testing_mode={} \
             log_level={} http.trusted_proxies={} config={} environment={} sentry_dsn={}",
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
            self.geocoder.as_str(),
            self.geocoder_maxmind_db.display(),
            opt(&self.datadog_server),
            self.groups.as_str(),
            self.timezone.name(),
            self.prune_threshold,
            self.testing_mode,
            self.log_level.as_str(),
            proxies.join(","),
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

/// A start-up error: one line naming the setting and the value; the process exits with 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    pub fn new(msg: impl Into<String>) -> Self {
        ConfigError(msg.into())
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    /// Serve.
    Run(Settings),
    /// `-check_config`: validate everything and exit.
    Check(Settings),
    /// `-healthcheck`: ask a running server's admin `/health` and exit 0 or 1.
    Healthcheck(Settings),
    /// `-help`: print `help_text()` and exit 0.
    Help,
    /// `-version`: print the version and exit 0.
    Version,
}

/// Parses the process's arguments and environment.
pub fn from_process() -> Result<Invocation, ConfigError> {
    let env: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    parse(std::env::args_os().skip(1), &env)
}

/// Parses arguments (without the program name) against an environment.
pub fn parse<I, S>(args: I, env: &BTreeMap<String, String>) -> Result<Invocation, ConfigError>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let flags = cli::parse_flags(args)?;
    if flags.help {
        return Ok(Invocation::Help);
    }
    if flags.version {
        return Ok(Invocation::Version);
    }
    let config_path = flags
        .values
        .iter()
        .rev()
        .find(|(k, _)| k == "config")
        .map(|(_, v)| v.clone())
        .or_else(|| env.get("PDD_CONFIG").cloned())
        .filter(|p| !p.is_empty());
    let file = match config_path {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| ConfigError::new(format!("config: cannot read {path:?}: {e}")))?;
            Some(file_layer(&text, &path)?)
        }
        None => None,
    };
    let settings = resolve(file.as_ref(), &flags.values, env)?;
    Ok(if flags.healthcheck {
        Invocation::Healthcheck(settings)
    } else if flags.check_config {
        Invocation::Check(settings)
    } else {
        Invocation::Run(settings)
    })
}

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
struct FileLayer {
    name: String,
    values: BTreeMap<String, Value>,
}

fn file_layer(toml: &str, name: &str) -> Result<FileLayer, ConfigError> {
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

fn resolve(
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
    use secrecy::ExposeSecret;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn run(args: &[&str], env: &BTreeMap<String, String>) -> Result<Settings, ConfigError> {
        match parse(args.iter().copied(), env)? {
            Invocation::Run(s) => Ok(s),
            other => panic!("expected Run, got {other:?}"),
        }
    }

    fn err(args: &[&str]) -> String {
        run(args, &BTreeMap::new()).unwrap_err().0
    }

    #[test]
    fn defaults_match_the_operations_spec() {
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
        assert!(s.config.is_none());
        assert_eq!(s.environment, "devel");
        assert!(s.sentry_dsn.is_none());
    }

    #[test]
    fn deployment_page_production_flags_are_accepted_unchanged() {
        let s = run(
            &[
                "-mysql_server=localhost:3306",
                "-mysql_user=pdd",
                "-mysql_password=<mysql password>",
                "-datadog_server=127.0.0.1:8125",
                "-geocoder=maxmind",
                "-api.access_token=<access token>",
                "-http.port=:8000",
                "-admin.port=:9000",
            ],
            &env(&[
                ("SENTRY_DSN", "https://public:private@sentry.io/302347"),
                ("ENVIRONMENT", "production"),
            ]),
        )
        .unwrap();
        assert_eq!(s.mysql_server.unwrap().to_string(), "localhost:3306");
        assert_eq!(s.mysql_user, "pdd");
        assert_eq!(s.mysql_password.expose_secret(), "<mysql password>");
        assert_eq!(s.datadog_server.unwrap().to_string(), "127.0.0.1:8125");
        assert_eq!(s.geocoder, GeocoderKind::Maxmind);
        assert_eq!(
            s.api_access_token.unwrap().expose_secret(),
            "<access token>"
        );
        assert_eq!(s.http_port.to_string(), ":8000");
        assert_eq!(s.admin_port.to_string(), ":9000");
        assert_eq!(s.environment, "production");
        assert_eq!(
            s.sentry_dsn.unwrap().expose_secret(),
            "https://public:private@sentry.io/302347"
        );
    }

    #[test]
    fn flags_take_single_dash_gnu_and_separate_value_forms() {
        let s = run(
            &[
                "-http.port",
                "127.0.0.1:8001",
                "--admin.port=127.0.0.1:9991",
                "--groups",
                "frequency",
                "-testing_mode",
                "-log_level=debug",
            ],
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(s.http_port.to_string(), "127.0.0.1:8001");
        assert_eq!(s.admin_port.to_string(), "127.0.0.1:9991");
        assert_eq!(s.groups, GroupStrategy::Frequency);
        assert!(s.testing_mode);
        assert_eq!(s.log_level, LogLevel::Debug);
    }

    #[test]
    fn booleans_accept_bare_equals_and_separate_literal_forms() {
        let tm = |args: &[&str]| run(args, &BTreeMap::new()).unwrap().testing_mode;
        assert!(tm(&["-testing_mode"]));
        assert!(tm(&["--testing_mode"]));
        assert!(tm(&["-testing_mode=true"]));
        assert!(!tm(&["-testing_mode=false"]));
        assert!(!tm(&["-testing_mode", "false"]));
        assert!(tm(&["-testing_mode", "-log_level=INFO"]));
        assert!(!tm(&["-testing_mode", "-testing_mode=false"]));
    }

    #[test]
    fn the_last_of_a_repeated_flag_wins() {
        let s = run(&["-http.port=:1", "-http.port=:2"], &BTreeMap::new()).unwrap();
        assert_eq!(s.http_port.port, 2);
    }

    #[test]
    fn unknown_flags_and_stray_arguments_are_named() {
        assert_eq!(err(&["-nope=1"]), "unknown flag -nope (see -help)");
        assert_eq!(
            err(&["--http.prot=:1"]),
            "unknown flag --http.prot (see -help)"
        );
        assert_eq!(
            err(&["serve"]),
            "unexpected argument \"serve\" (flags start with -)"
        );
        assert_eq!(
            err(&["-testing_mode", "maybe"]),
            "unexpected argument \"maybe\" (flags start with -)"
        );
        assert_eq!(err(&["-http.port"]), "flag -http.port needs a value");
    }

    #[test]
    fn invalid_values_name_the_setting_the_value_and_where_it_came_from() {
        let e = err(&["-http.port=8000"]);
        assert!(
            e.starts_with("invalid http.port (from flag -http.port): \"8000\""),
            "{e}"
        );
        for (flag, setting, value) in [
            ("-geocoder=google", "geocoder", "google"),
            ("-groups=random", "groups", "random"),
            ("-timezone=Mars/Olympus", "timezone", "Mars/Olympus"),
            ("-prune_threshold=15.weeks", "prune_threshold", "15.weeks"),
            ("-log_level=LOUD", "log_level", "LOUD"),
            (
                "-http.trusted_proxies=10.0.0.0/8,nope",
                "http.trusted_proxies",
                "nope",
            ),
            ("-mysql_server=localhost", "mysql_server", "localhost"),
            ("-datadog_server=:8125", "datadog_server", ":8125"),
            ("-admin.port=:99999", "admin.port", ":99999"),
            ("-mysql_database=a;b", "mysql_database", "a;b"),
            ("-testing_mode=sometimes", "testing_mode", "sometimes"),
        ] {
            let e = err(&[flag]);
            let head = format!("invalid {setting} (from flag -{setting}): ");
            assert!(e.starts_with(&head), "{flag}: {e}");
            assert!(e.contains(&format!("{value:?}")), "{flag}: {e}");
            assert!(!e.contains('\n'), "{flag}: {e}");
        }
    }

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
    fn config_file_is_read_from_the_config_flag_or_pdd_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pdd.toml");
        std::fs::write(&path, "mysql_database = \"fromfile\"\n").unwrap();
        let p = path.to_str().unwrap();
        let s = run(&["-config", p], &BTreeMap::new()).unwrap();
        assert_eq!(s.mysql_database, "fromfile");
        assert_eq!(s.config.as_deref(), Some(path.as_path()));
        let s = run(&[], &env(&[("PDD_CONFIG", p)])).unwrap();
        assert_eq!(s.mysql_database, "fromfile");
        let e = err(&["-config=/nonexistent/pdd.toml"]);
        assert!(
            e.starts_with("config: cannot read \"/nonexistent/pdd.toml\""),
            "{e}"
        );
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
    fn toml_values_may_use_their_natural_types() {
        let s = Settings::from_toml_str(
            "testing_mode = true\n\"http.port\" = 8080\n\"http.trusted_proxies\" = [\"10.0.0.0/8\", \"::1\"]\n",
            "f.toml",
        )
        .unwrap();
        assert!(s.testing_mode);
        assert_eq!(s.http_port.to_string(), ":8080");
        assert_eq!(s.http_trusted_proxies.len(), 2);
    }

    #[test]
    fn secrets_never_appear_in_debug_display_or_errors() {
        let s = run(
            &[
                "-api.access_token=tok-SECRET-1",
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

    #[test]
    fn help_version_and_check_config_are_recognised() {
        for h in ["-help", "--help", "-h"] {
            assert!(matches!(parse([h], &BTreeMap::new()), Ok(Invocation::Help)));
        }
        // help wins even over errors elsewhere on the line.
        assert!(matches!(
            parse(["-http.port=bad", "-help"], &BTreeMap::new()),
            Ok(Invocation::Help)
        ));
        for v in ["-version", "--version"] {
            assert!(matches!(
                parse([v], &BTreeMap::new()),
                Ok(Invocation::Version)
            ));
        }
        assert!(matches!(
            parse(["-check_config"], &BTreeMap::new()),
            Ok(Invocation::Check(_))
        ));
        assert!(matches!(
            parse(["-healthcheck", "-admin.port=:9000"], &BTreeMap::new()),
            Ok(Invocation::Healthcheck(s)) if s.admin_port.port == 9000
        ));
    }

    #[test]
    fn config_example_toml_parses_and_documents_every_setting_with_its_default() {
        let text = include_str!("../config.example.toml");
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

    #[test]
    fn readme_flags_table_lists_every_flag() {
        let readme = include_str!("../README.md");
        for spec in SPECS {
            let row = format!("| `-{}` |", spec.name);
            assert!(readme.contains(&row), "README.md has no row {row}");
        }
    }

    fn toml_default(spec: &Spec, default: &str) -> String {
        match spec.name {
            "testing_mode" => default.to_string(),
            "http.trusted_proxies" => "[]".to_string(),
            _ => format!("{default:?}"),
        }
    }
}
