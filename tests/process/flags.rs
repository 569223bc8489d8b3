//! The command line as operators use it: `-help`, mistakes that stop the server with one line
//! and exit code 2, and the production flags of `docs/deploying.md` (its Example).

use crate::server::{run, Server};

/// Every flag of the README's flags table and `docs/deploying.md` with the default it must show in `-help`.
const FLAGS: &[(&str, &str)] = &[
    ("http.port", "\":8000\""),
    ("admin.port", "\":9990\""),
    ("api.access_token", "random"),
    ("mysql_server", "unset"),
    ("mysql_user", "\"root\""),
    ("mysql_password", "empty"),
    ("mysql_database", "\"pdd\""),
    ("geocoder", "\"none\""),
    (
        "geocoder.maxmind_db",
        "\"/usr/share/pdd-server/country.mmdb\"",
    ),
    ("datadog_server", "unset"),
    ("groups", "\"naive\""),
    ("timezone", "\"Europe/London\""),
    ("prune_threshold", "\"15.days\""),
    ("testing_mode", "false"),
    ("log_level", "\"INFO\""),
    ("config", "unset"),
    ("http.trusted_proxies", "empty"),
];

#[test]
fn help_exits_0_and_lists_every_flag_with_its_default() {
    for flag in ["-help", "--help", "-h"] {
        let out = run(&[flag], &[]);
        assert!(out.status.success(), "{flag}: {}", out.stderr);
        assert_eq!(out.stderr, "");
        for (name, default) in FLAGS {
            let line = out
                .stdout
                .lines()
                .find(|l| {
                    let l = l.trim_start();
                    l.starts_with(&format!("-{name}=")) || l.starts_with(&format!("-{name} "))
                })
                .unwrap_or_else(|| panic!("{flag} does not list -{name}:\n{}", out.stdout));
            assert!(line.contains(&format!("default: {default}")), "{line}");
        }
        for other in ["-check_config", "-version", "SENTRY_DSN", "ENVIRONMENT"] {
            assert!(out.stdout.contains(other), "{other}");
        }
    }
}

#[test]
fn an_unknown_flag_exits_2_with_one_line_naming_it() {
    for (args, line) in [
        (vec!["-nope=1"], "error: unknown flag -nope (see -help)\n"),
        (
            vec!["--http.prot=:1"],
            "error: unknown flag --http.prot (see -help)\n",
        ),
        (
            vec!["-http.port=:0", "-mysql-server=localhost:3306"],
            "error: unknown flag -mysql-server (see -help)\n",
        ),
        (
            vec!["serve"],
            "error: unexpected argument \"serve\" (flags start with -)\n",
        ),
    ] {
        let out = run(&args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(out.stderr, line, "{args:?}");
        assert_eq!(out.stdout, "", "{args:?}");
    }
}

#[test]
fn an_invalid_value_exits_2_with_one_line_naming_the_setting_and_value() {
    for (args, env, setting, value) in [
        (vec!["-http.port=8000"], vec![], "http.port", "8000"),
        (
            vec!["-admin.port", "localhost"],
            vec![],
            "admin.port",
            "localhost",
        ),
        (vec!["-geocoder=google"], vec![], "geocoder", "google"),
        (vec!["-groups=smart"], vec![], "groups", "smart"),
        (
            vec!["-timezone=Europe/Londres"],
            vec![],
            "timezone",
            "Europe/Londres",
        ),
        (
            vec!["-prune_threshold=2.weeks"],
            vec![],
            "prune_threshold",
            "2.weeks",
        ),
        (vec!["-log_level=chatty"], vec![], "log_level", "chatty"),
        (
            vec!["-http.trusted_proxies=10.0.0.0/40"],
            vec![],
            "http.trusted_proxies",
            "10.0.0.0/40",
        ),
        (
            vec![],
            vec![("PDD_MYSQL_SERVER", "db")],
            "mysql_server",
            "db",
        ),
    ] {
        let out = run(&args, &env);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        let line = out.stderr.trim_end();
        assert!(
            line.starts_with(&format!("error: invalid {setting} (from ")),
            "{line}"
        );
        assert!(line.contains(&format!("{value:?}")), "{line}");
    }
}

#[test]
fn an_invalid_setting_in_the_config_file_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pdd.toml");
    std::fs::write(
        &path,
        "mysql_server = \"localhost:3306\"\nmysql_pasword = \"x\"\n",
    )
    .unwrap();
    let out = run(&[&format!("-config={}", path.display())], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        out.stderr,
        format!(
            "error: unknown setting \"mysql_pasword\" in config file \"{}\"\n",
            path.display()
        )
    );
}

#[test]
fn check_config_validates_and_exits_0_without_serving() {
    // Ports that are surely taken: checking must not try to bind them.
    let busy = Server::start(&[], &[]);
    let out = run(
        &[
            &format!("-http.port={}", busy.http),
            &format!("-admin.port={}", busy.admin),
            "-groups=frequency",
            "-prune_threshold=36.hours",
            "-check_config",
        ],
        &[("PDD_API_ACCESS_TOKEN", "from-the-environment-123")],
    );
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("configuration OK"), "{}", out.stdout);
    assert!(!out.stdout.contains(" listening "), "{}", out.stdout);
    assert!(!out.stdout.contains("from-the-environment-123"));
}

#[test]
fn the_deployment_pages_production_flags_are_accepted() {
    // The page's example, flags spelled exactly as there; secrets replaced by stand-ins.
    let production = [
        "-mysql_server=localhost:3306",
        "-mysql_user=pdd",
        "-mysql_password=stand-in-password",
        "-datadog_server=127.0.0.1:8125",
        "-geocoder=maxmind",
        "-api.access_token=stand-in-access-token",
        "-http.port=:8000",
        "-admin.port=:9000",
    ];
    let env = [
        ("SENTRY_DSN", "https://public:private@127.0.0.1:9/302347"),
        ("ENVIRONMENT", "production"),
    ];
    // Without the adapters (storage, metrics, geocoder, Sentry), every other flag checks out.
    let plain: Vec<&str> = production
        .iter()
        .copied()
        .filter(|f| {
            !f.starts_with("-mysql_server")
                && !f.starts_with("-datadog_server")
                && !f.starts_with("-geocoder")
        })
        .chain(["-check_config"])
        .collect();
    let out = run(&plain, &env[1..]);
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("configuration OK"));
    for secret in ["stand-in-password", "stand-in-access-token"] {
        assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
    }

    // The whole line, with the country database pointed at a test fixture (the image ships
    // one at the default path).
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/geoip2-country.mmdb"
    );
    let db = format!("-geocoder.maxmind_db={fixture}");
    let mut full: Vec<&str> = production.to_vec();
    full.extend([db.as_str(), "-check_config"]);
    let out = run(&full, &env);
    for secret in ["stand-in-password", "stand-in-access-token", "private@"] {
        assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
    }
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("configuration OK"));
}

#[test]
fn healthcheck_exits_0_while_the_server_runs_and_1_once_it_is_gone() {
    let mut server = Server::start(&[], &[]);
    let port = format!("-admin.port={}", server.admin);
    let out = run(&["-healthcheck", &port], &[]);
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "healthy\n");
    assert!(server.terminate().success());
    let out = run(&["-healthcheck", &port], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.starts_with("unhealthy: "), "{}", out.stdout);
}

#[test]
fn config_file_errors_name_the_file_line_and_key_never_a_secret_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pdd.toml");
    let config = format!("-config={}", path.display());
    for (text, expected) in [
        (
            // A syntax error on the token's line: the parser would quote the line.
            "log_level = \"INFO\"\napi.access_token = \"TOKsecret-never-printed\n",
            format!(
                "config: {:?} is not valid TOML: line 2, key api.access_token",
                path.display().to_string()
            ),
        ),
        (
            "\"http.port\" = 5\n",
            format!(
                "invalid http.port (from config file {:?}): expected a string, found an integer",
                path.display().to_string()
            ),
        ),
        (
            "api.access_token = \"TOKsecret\"\n",
            format!(
                "invalid api.access_token (from config file {:?}): shorter than 16 characters (value not shown: it is a secret)",
                path.display().to_string()
            ),
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let out = run(&[&config, "-check_config"], &[]);
        assert_eq!(out.status.code(), Some(2), "{text}: {}", out.stderr);
        assert_eq!(out.stderr, format!("error: {expected}\n"), "{text}");
        assert!(!out.stdout.contains("TOKsecret") && !out.stderr.contains("TOKsecret"));
    }
}

#[test]
fn a_blank_or_short_access_token_exits_2_without_printing_it() {
    for (args, env, why) in [
        (vec!["-api.access_token= "], vec![], "blank"),
        (
            vec!["-api.access_token=a"],
            vec![],
            "shorter than 16 characters",
        ),
        (
            vec![],
            vec![("PDD_API_ACCESS_TOKEN", "short-SECRET")],
            "shorter than 16 characters",
        ),
    ] {
        let out = run(&args, &env);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", out.stderr);
        let source = if env.is_empty() {
            "flag -api.access_token"
        } else {
            "environment variable PDD_API_ACCESS_TOKEN"
        };
        assert_eq!(
            out.stderr,
            format!("error: invalid api.access_token (from {source}): {why} (value not shown: it is a secret)\n")
        );
        assert!(!out.stderr.contains("SECRET") && out.stdout.is_empty());
    }
}
