//! The geocoder, DogStatsD and Sentry adapters as the binary wires them from flags and
//! environment: a served ping is located through a trusted proxy's header and counted on a
//! UDP socket standing in for the Datadog agent; bad adapter settings stop start-up.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::server::{run, Server};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// `name:value|type|#tags` lines, tags sorted.
fn statsd_lines(
    socket: &UdpSocket,
    wanted: impl Fn(&[(String, String, Vec<String>)]) -> bool,
) -> Vec<(String, String, Vec<String>)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut lines = Vec::new();
    let mut buf = [0u8; 65536];
    while !wanted(&lines) && Instant::now() < deadline {
        let Ok(n) = socket.recv(&mut buf) else {
            continue;
        };
        for line in std::str::from_utf8(&buf[..n]).unwrap().lines() {
            let (name, rest) = line.split_once(':').unwrap();
            let mut fields = rest.split('|');
            fields.next();
            let kind = fields.next().unwrap().to_owned();
            let mut tags: Vec<String> = fields
                .find_map(|f| f.strip_prefix('#'))
                .map(|t| t.split(',').map(str::to_owned).collect())
                .unwrap_or_default();
            tags.sort();
            lines.push((name.to_owned(), kind, tags));
        }
    }
    lines
}

fn tags(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|t| t.to_string()).collect();
    v.sort();
    v
}

#[test]
fn a_ping_through_a_trusted_proxy_is_located_by_the_country_database_and_counted_in_dogstatsd() {
    let agent = UdpSocket::bind("127.0.0.1:0").unwrap();
    agent
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let agent_addr = agent.local_addr().unwrap().to_string();
    let db = fixture("geoip2-country.mmdb");
    let mut server = Server::start(
        &[
            "-geocoder=maxmind",
            &format!("-geocoder.maxmind_db={db}"),
            &format!("-datadog_server={agent_addr}"),
            "-http.trusted_proxies=127.0.0.1/32",
            "-api.access_token=a-token-for-the-adapters-test",
        ],
        &[("ENVIRONMENT", "ci")],
    );
    let http = reqwest::blocking::Client::new();

    let client: Value = http
        .post(server.url("/api/clients"))
        .json(&json!({"publicKey": "04ab", "browser": "chrome"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let name = client["name"].as_str().unwrap();
    let ping = http
        .post(server.url(&format!("/api/clients/{name}/ping")))
        .header("X-Forwarded-For", "81.2.69.160")
        .json(&json!({"extensionVersion": "1.2.0", "timezone": "Europe/London"}))
        .send()
        .unwrap();
    assert_eq!(ping.status().as_u16(), 200);

    let details: Value = http
        .get(server.url(&format!("/api/clients/{name}")))
        .bearer_auth("a-token-for-the-adapters-test")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(details["countryCode"], "GB");

    let info: Value = http
        .get(server.admin_url("/admin/server_info"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(info["geocoder"], "maxmind");
    assert_eq!(info["metrics"], "registry+datadog");

    let ping_route = [
        "environment:ci",
        "method:POST",
        "route:/api/clients/{name}/ping",
        "status:200",
    ];
    let expected = [
        (
            "pdd.ping".to_owned(),
            "c".to_owned(),
            tags(&["environment:ci"]),
        ),
        (
            "pdd.http.requests".to_owned(),
            "c".to_owned(),
            tags(&ping_route),
        ),
        (
            "pdd.http.latency".to_owned(),
            "ms".to_owned(),
            tags(&ping_route),
        ),
        (
            "pdd.clients.registered".to_owned(),
            "c".to_owned(),
            tags(&["environment:ci"]),
        ),
    ];
    let lines = statsd_lines(&agent, |lines| expected.iter().all(|e| lines.contains(e)));
    for e in &expected {
        assert!(lines.contains(e), "{e:?} not among {lines:?}");
    }
    // Every metric carries the environment; no metric name holds a client's name.
    for (metric, _, tags) in &lines {
        assert!(
            tags.contains(&"environment:ci".to_owned()),
            "{metric} {tags:?}"
        );
        assert!(!metric.contains(name), "{metric}");
    }
    assert_eq!(server.terminate().code(), Some(0));
}

fn check_config(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut all = args.to_vec();
    all.push("-check_config");
    let out = run(&all, env);
    (out.status.code(), out.stderr)
}

#[test]
fn an_unreadable_country_database_stops_start_up_with_a_line_naming_it() {
    let (code, stderr) = check_config(
        &[
            "-geocoder=maxmind",
            "-geocoder.maxmind_db=/nonexistent/country.mmdb",
        ],
        &[],
    );
    assert_eq!(code, Some(2));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "error: geocoder.maxmind_db=/nonexistent/country.mmdb: not a readable country database: "
        ),
        "{stderr}"
    );
}

#[test]
fn a_file_that_is_not_a_country_database_stops_start_up() {
    let (code, stderr) = check_config(
        &[
            "-geocoder=maxmind",
            &format!("-geocoder.maxmind_db={}", fixture("make_mmdb.py")),
        ],
        &[],
    );
    assert_eq!(code, Some(2));
    assert!(stderr.contains("geocoder.maxmind_db="), "{stderr}");
    assert!(stderr.contains("metadata"), "{stderr}");
}

#[test]
fn the_maxmind_geocoder_and_dogstatsd_pass_check_config_with_valid_settings() {
    let (code, stderr) = check_config(
        &[
            "-geocoder=maxmind",
            &format!("-geocoder.maxmind_db={}", fixture("country-code.mmdb")),
            "-datadog_server=127.0.0.1:8125",
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn an_invalid_sentry_dsn_stops_start_up_without_repeating_it() {
    let env = [("SENTRY_DSN", "not-a-dsn-but-a-secret-key-1234")];
    let (code, stderr) = check_config(&[], &env);
    assert_eq!(code, Some(2));
    assert!(stderr.starts_with("error: invalid SENTRY_DSN"), "{stderr}");
    assert!(
        !stderr.contains("not-a-dsn-but-a-secret-key-1234"),
        "{stderr}"
    );
}

#[test]
fn a_valid_sentry_dsn_passes_check_config() {
    let env = [
        ("SENTRY_DSN", "http://public@127.0.0.1:9/1"),
        ("ENVIRONMENT", "ci"),
    ];
    let (code, stderr) = check_config(&[], &env);
    assert_eq!(code, Some(0), "{stderr}");
}
