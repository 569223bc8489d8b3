//! The command line. clap does not know single-dash long flags (`-http.port=:8000`), so known
//! names are first normalised to `--name=value`; anything unknown is refused there with one
//! line naming it, before clap sees it.

use std::ffi::OsString;
use std::fmt::Write;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, Command};

use super::{ConfigError, DEFAULT_ENVIRONMENT, SPECS};

/// Flags that are not settings: they choose what the program does.
const MODES: &[(&str, &str)] = &[
    (
        "check_config",
        "validate every setting (and open the geocoder database) and exit without serving",
    ),
    (
        "healthcheck",
        "ask the admin interface (-admin.port) of a server running here for /health; exit 0 when healthy, 1 otherwise",
    ),
    ("help", "print this help and exit (also --help, -h)"),
    ("version", "print the version and exit"),
];

/// The clap command: every setting as `--name=value` (booleans `--name[=bool]`), plus the modes.
pub fn command() -> Command {
    let mut cmd = Command::new("pdd-server")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Private Data Donor API server")
        .disable_help_flag(true)
        .disable_version_flag(true)
        .args_override_self(true);
    for spec in SPECS {
        let arg = Arg::new(spec.name)
            .long(spec.name)
            .help(spec.help)
            .require_equals(true)
            .action(ArgAction::Set);
        let arg = match spec.value {
            Some(v) => arg.value_name(v).num_args(1).allow_hyphen_values(true),
            None => arg
                .value_name("bool")
                .num_args(0..=1)
                .default_missing_value("true"),
        };
        cmd = cmd.arg(arg);
    }
    for (name, help) in MODES {
        let arg = Arg::new(*name)
            .long(*name)
            .help(*help)
            .action(ArgAction::SetTrue);
        let arg = if *name == "help" { arg.short('h') } else { arg };
        cmd = cmd.arg(arg);
    }
    cmd
}

/// The command line, parsed.
#[derive(Debug, Default)]
pub(super) struct Flags {
    /// `(setting, value)` in command-line order (only those given).
    pub values: Vec<(String, String)>,
    pub help: bool,
    pub version: bool,
    pub check_config: bool,
    pub healthcheck: bool,
}

fn is_bool_literal(s: &str) -> bool {
    matches!(s.to_ascii_lowercase().as_str(), "true" | "false")
}

/// Rewrites the single-dash and separate-value forms of known flags as `--name=value`.
fn normalise(args: Vec<String>) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::with_capacity(args.len());
    let mut help = false;
    let mut iter = args.into_iter().peekable();
    while let Some(arg) = iter.next() {
        let body = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .filter(|b| !b.is_empty() && !b.starts_with('-'));
        let Some(body) = body else {
            return Err(ConfigError::new(format!(
                "unexpected argument {arg:?} (flags start with -)"
            )));
        };
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        if name == "h" || MODES.iter().any(|(m, _)| *m == name) {
            let name = if name == "h" { "help" } else { name };
            help |= name == "help";
            if value.is_some() {
                return Err(ConfigError::new(format!("flag -{name} takes no value")));
            }
            out.push(format!("--{name}"));
            continue;
        }
        let Some(spec) = SPECS.iter().find(|s| s.name == name) else {
            if help {
                continue;
            }
            let shown = &arg[..arg.len() - body.len() + name.len()];
            return Err(ConfigError::new(format!(
                "unknown flag {shown} (see -help)"
            )));
        };
        let value = match value {
            Some(v) => v,
            None if spec.is_bool() => {
                if iter.peek().is_some_and(|next| is_bool_literal(next)) {
                    iter.next().unwrap_or_default()
                } else {
                    "true".to_string()
                }
            }
            None => match iter.next() {
                Some(v) => v,
                None if help => continue,
                None => return Err(ConfigError::new(format!("flag -{name} needs a value"))),
            },
        };
        out.push(format!("--{name}={value}"));
    }
    Ok(out)
}

pub(super) fn parse_flags<I, S>(args: I) -> Result<Flags, ConfigError>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let args: Vec<String> = args
        .into_iter()
        .map(|a| {
            a.into()
                .into_string()
                .map_err(|a| ConfigError::new(format!("argument {a:?} is not valid UTF-8")))
        })
        .collect::<Result<_, _>>()?;
    // -help anywhere wins, even over mistakes elsewhere on the line.
    let wants_help = args
        .iter()
        .any(|a| matches!(a.as_str(), "-help" | "--help" | "-h"));
    let normalised = match normalise(args) {
        Ok(n) => n,
        Err(_) if wants_help => {
            return Ok(Flags {
                help: true,
                ..Flags::default()
            })
        }
        Err(e) => return Err(e),
    };
    let matches = command()
        .try_get_matches_from(std::iter::once("pdd-server".to_string()).chain(normalised))
        .map_err(|e| {
            // clap's rendering is several lines: keep its first, which names the problem.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid command line");
            ConfigError::new(first.trim_start_matches("error: ").to_string())
        })?;
    let mut flags = Flags {
        help: matches.get_flag("help"),
        version: matches.get_flag("version"),
        check_config: matches.get_flag("check_config"),
        healthcheck: matches.get_flag("healthcheck"),
        values: Vec::new(),
    };
    for spec in SPECS {
        if matches.value_source(spec.name) == Some(ValueSource::CommandLine) {
            if let Some(v) = matches.get_one::<String>(spec.name) {
                flags.values.push((spec.name.to_string(), v.clone()));
            }
        }
    }
    Ok(flags)
}

/// `-help`: every flag with its default and meaning, in the single-dash style operators use.
pub fn help_text() -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "pdd-server {} — Private Data Donor API server\n\n\
         Usage: pdd-server [-flag=value ...]\n\n\
         Flags are written -name=value, -name value or --name=value; a boolean flag alone means\n\
         true. Every setting can also be given in a TOML file (-config) or in the environment as\n\
         PDD_<NAME>, dots as underscores, upper case (e.g. PDD_API_ACCESS_TOKEN).\n\
         Precedence: defaults < config file < environment < flags.\n\nFlags:",
        env!("CARGO_PKG_VERSION")
    );
    for spec in SPECS {
        let flag = match spec.value {
            Some(v) => format!("-{}=<{v}>", spec.name),
            None => format!("-{}", spec.name),
        };
        let _ = writeln!(out, "  {flag:<36} default: {}", spec.shown_default);
        let _ = writeln!(out, "      {}", spec.help);
    }
    for (name, help) in MODES {
        let _ = writeln!(out, "  -{name}");
        let _ = writeln!(out, "      {help}");
    }
    let _ = write!(
        out,
        "\nEnvironment:\n  \
         SENTRY_DSN     report panics and errors to Sentry (default: unset, no reporting)\n  \
         ENVIRONMENT    tags Sentry events and Datadog metrics as environment:<value> \
         (default: {DEFAULT_ENVIRONMENT})\n"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Result<Vec<String>, ConfigError> {
        normalise(args.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn clap_command_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn normalisation_rewrites_known_flags_to_gnu_equals_form() {
        assert_eq!(
            norm(&[
                "-mysql_server=localhost:3306",
                "-http.port",
                ":8000",
                "--admin.port=:9000",
                "--log_level",
                "DEBUG",
                "-testing_mode",
                "-api.access_token",
                "-starts-with-dash",
                "-check_config",
                "-h",
            ])
            .unwrap(),
            [
                "--mysql_server=localhost:3306",
                "--http.port=:8000",
                "--admin.port=:9000",
                "--log_level=DEBUG",
                "--testing_mode=true",
                "--api.access_token=-starts-with-dash",
                "--check_config",
                "--help",
            ]
        );
        assert_eq!(
            norm(&["-testing_mode", "FALSE"]).unwrap(),
            ["--testing_mode=FALSE"]
        );
        assert_eq!(norm(&["-http.port="]).unwrap(), ["--http.port="]);
    }

    #[test]
    fn normalisation_names_unknown_flags_as_written() {
        assert_eq!(
            norm(&["-bogus"]).unwrap_err().0,
            "unknown flag -bogus (see -help)"
        );
        assert_eq!(
            norm(&["--bogus.flag=1"]).unwrap_err().0,
            "unknown flag --bogus.flag (see -help)"
        );
        assert_eq!(
            norm(&["---http.port=1"]).unwrap_err().0,
            "unexpected argument \"---http.port=1\" (flags start with -)"
        );
        assert_eq!(
            norm(&["-"]).unwrap_err().0,
            "unexpected argument \"-\" (flags start with -)"
        );
        assert_eq!(
            norm(&["-help=yes"]).unwrap_err().0,
            "flag -help takes no value"
        );
    }

    #[test]
    fn help_lists_every_flag_with_its_default() {
        let help = help_text();
        for spec in SPECS {
            let line = help
                .lines()
                .find(|l| {
                    l.trim_start().starts_with(&format!("-{}", spec.name)) && {
                        let rest = &l.trim_start()[spec.name.len() + 1..];
                        rest.starts_with('=') || rest.starts_with(' ')
                    }
                })
                .unwrap_or_else(|| panic!("-help does not list -{}", spec.name));
            assert!(line.contains(spec.shown_default), "{line}");
        }
        for (mode, _) in MODES {
            assert!(help.contains(&format!("  -{mode}\n")), "{mode}");
        }
        assert!(help.contains("SENTRY_DSN") && help.contains("ENVIRONMENT"));
    }
}
