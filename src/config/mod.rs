//! Settings: defaults < TOML file (`-config`) < `PDD_` environment < flags, resolved once at
//! start-up into one `Settings`. Flags follow the single-dash style of the deployment guide (`docs/deploying.md`)
//! (`-http.port=:8000`, `-name value`, bare `-testing_mode`) and the GNU style.
//!
//! Here: what the command line asks for (`Invocation`, `parse`). The pieces: `table` (every
//! setting, its default and help), `cli` (the flags), `layers` (the figment layering),
//! `settings` (the resolved `Settings`), `values` (the value types and their parsers), `de` (how
//! `Settings` fields are deserialised from them).

mod cli;
mod de;
mod layers;
mod settings;
mod table;
mod values;

use std::collections::BTreeMap;
use std::ffi::OsString;

pub use cli::{command, help_text};
pub use settings::Settings;
pub use table::{Spec, DEFAULT_ENVIRONMENT, DEFAULT_MAXMIND_DB, SPECS};
pub use values::{GeocoderKind, HostPort, LogLevel, Span};

use layers::{file_layer, resolve};

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

/// Shorthands shared by the tests of the pieces of this module.
#[cfg(test)]
mod test_support {
    use super::*;

    pub(super) fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    pub(super) fn run(
        args: &[&str],
        env: &BTreeMap<String, String>,
    ) -> Result<Settings, ConfigError> {
        match parse(args.iter().copied(), env)? {
            Invocation::Run(s) => Ok(s),
            other => panic!("expected Run, got {other:?}"),
        }
    }

    pub(super) fn err(args: &[&str]) -> String {
        run(args, &BTreeMap::new()).unwrap_err().0
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{env, err, run};
    use super::*;
    use crate::domain::grouping::GroupStrategy;
    use secrecy::ExposeSecret;

    #[test]
    fn deployment_page_production_flags_are_accepted_unchanged() {
        let s = run(
            &[
                "-mysql_server=localhost:3306",
                "-mysql_user=pdd",
                "-mysql_password=<mysql password>",
                "-datadog_server=127.0.0.1:8125",
                "-geocoder=maxmind",
                // The page's placeholder stands for a token of at least 16 characters.
                "-api.access_token=<the access token>",
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
            "<the access token>"
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
            ("-http.header_timeout=10", "http.header_timeout", "10"),
            ("-http.max_connections=0", "http.max_connections", "0"),
            ("-http.rate_limit.ping=-1", "http.rate_limit.ping", "-1"),
            (
                "-http.rate_limit.register=lots",
                "http.rate_limit.register",
                "lots",
            ),
            (
                "-http.rate_limit.ping_burst=0",
                "http.rate_limit.ping_burst",
                "0",
            ),
        ] {
            let e = err(&[flag]);
            let head = format!("invalid {setting} (from flag -{setting}): ");
            assert!(e.starts_with(&head), "{flag}: {e}");
            assert!(e.contains(&format!("{value:?}")), "{flag}: {e}");
            assert!(!e.contains('\n'), "{flag}: {e}");
        }
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

    mod properties {
        use super::*;
        use proptest::prelude::*;

        const PASSWORD: &str = "pw-S3CR3T-never-shown";

        fn arg() -> impl Strategy<Value = String> {
            // Every setting but `config` (which would read whatever file it names).
            let names: Vec<&'static str> = SPECS
                .iter()
                .map(|s| s.name)
                .filter(|n| *n != "config")
                .chain([
                    "check_config",
                    "version",
                    "h",
                    "nope",
                    "http",
                    "mysql_password",
                ])
                .collect();
            let value = prop_oneof![
                "[a-zA-Z0-9:.,/_\\[\\]-]{0,16}",
                "\\PC{0,10}",
                Just(":0".to_string()),
                Just("15.days".to_string()),
                Just("true".to_string()),
            ];
            prop_oneof![
                (
                    prop::sample::select(vec!["-", "--"]),
                    prop::sample::select(names.clone()),
                    value.clone()
                )
                    .prop_map(|(dash, name, v)| format!("{dash}{name}={v}")),
                (
                    prop::sample::select(vec!["-", "--"]),
                    prop::sample::select(names)
                )
                    .prop_map(|(dash, name)| format!("{dash}{name}")),
                value,
                Just(format!("-mysql_password={PASSWORD}")),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 256,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            #[test]
            fn any_command_line_parses_or_fails_with_one_line_that_never_shows_the_password(
                args in prop::collection::vec(arg(), 0..8)
            ) {
                match parse(args.iter().cloned(), &BTreeMap::new()) {
                    Ok(Invocation::Run(s) | Invocation::Check(s) | Invocation::Healthcheck(s)) => {
                        let shown = (s.to_string(), format!("{s:?}"));
                        prop_assert!(!shown.0.contains(PASSWORD) && !shown.1.contains(PASSWORD));
                    }
                    Ok(Invocation::Help | Invocation::Version) => {}
                    Err(e) => {
                        prop_assert!(!e.0.contains('\n'), "{}", e.0);
                        prop_assert!(!e.0.is_empty());
                        prop_assert!(!e.0.contains(PASSWORD), "{}", e.0);
                    }
                }
            }
        }
    }
}
