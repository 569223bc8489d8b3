//! Keeps the Dockerfile and the deployment guide honest without a Docker engine: the
//! Dockerfile is parsed and checked against the binary's defaults and `config.example.toml`,
//! and every `pdd-server` command line of `docs/deploying.md` is run through the binary with
//! `-check_config`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use pdd_server::config::{DEFAULT_MAXMIND_DB, SPECS};

const IMAGE: &str = "pdd-server";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_pdd-server")
}

/// Runs the binary with a clean environment and a time limit.
fn run(args: &[String], env: &BTreeMap<String, String>, cwd: &Path) -> Output {
    let mut child = Command::new(binary())
        .args(args)
        .env_clear()
        .envs(env)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("pdd-server {args:?} did not exit within 20 s");
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn spec_default(name: &str) -> &'static str {
    SPECS
        .iter()
        .find(|s| s.name == name)
        .and_then(|s| s.default)
        .unwrap_or_else(|| panic!("setting {name} has a default"))
}

/// The port of a `host:port` default such as `:8000`.
fn port_of(host_port: &str) -> u16 {
    host_port.rsplit_once(':').unwrap().1.parse().unwrap()
}

/// `# "name" = value` or `# name = value` lines of config.example.toml, unquoted.
fn example_defaults() -> BTreeMap<String, String> {
    read("config.example.toml")
        .lines()
        .filter_map(|line| line.strip_prefix("# "))
        .filter_map(|line| line.split_once(" = "))
        .filter(|(name, _)| !name.contains(' ') || name.starts_with('"'))
        .map(|(name, value)| {
            (
                name.trim_matches('"').to_owned(),
                value.trim().trim_matches('"').to_owned(),
            )
        })
        .collect()
}

// ---- Dockerfile ------------------------------------------------------------------------------

#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

#[derive(Debug, Default)]
struct Stage {
    from: String,
    name: Option<String>,
    instructions: Vec<Instruction>,
}

impl Stage {
    fn all<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.instructions
            .iter()
            .filter(move |i| i.keyword == keyword)
            .map(|i| i.args.as_str())
    }

    fn last<'a>(&'a self, keyword: &'a str) -> Option<&'a str> {
        self.all(keyword).last()
    }
}

/// Instructions with continuation lines joined and comments dropped, grouped by stage.
fn dockerfile() -> Vec<Stage> {
    let text = read("Dockerfile");
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                logical.push(std::mem::take(&mut current));
            }
        }
    }
    let mut stages: Vec<Stage> = Vec::new();
    for line in logical {
        let (keyword, args) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let keyword = keyword.to_ascii_uppercase();
        let args = args.split_whitespace().collect::<Vec<_>>().join(" ");
        if keyword == "FROM" {
            let words: Vec<&str> = args.split(' ').collect();
            let name = match words.as_slice() {
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some(name.to_string()),
                _ => None,
            };
            stages.push(Stage {
                from: words[0].to_owned(),
                name,
                instructions: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            stage.instructions.push(Instruction { keyword, args });
        }
    }
    stages
}

/// `["a", "b"]` → `a`, `b`.
fn exec_form(args: &str) -> Vec<String> {
    let inner = args
        .trim()
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or_else(|| panic!("{args} is not in exec form"));
    inner
        .split(',')
        .map(|w| w.trim().trim_matches('"').to_owned())
        .collect()
}

#[test]
fn dockerfile_builds_the_release_binary_with_every_adapter_and_no_test_double() {
    let stages = dockerfile();
    assert!(
        stages.len() >= 3,
        "build, country database and runtime stages"
    );
    let build = stages
        .iter()
        .find(|s| s.from.starts_with("rust:"))
        .expect("a stage from the rust image");
    let run = build
        .all("RUN")
        .find(|r| r.contains("cargo build"))
        .expect("the build stage runs cargo build");
    assert!(run.contains("cargo build --release --locked"), "{run}");
    let cargo_toml = read("Cargo.toml");
    let features: Vec<&str> = cargo_toml
        .split("[features]")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty() && !l.starts_with('['))
        .filter_map(|l| l.split_once(" = ").map(|(name, _)| name.trim()))
        .filter(|name| *name != "default")
        .collect();
    // The four adapters, then the test doubles.
    assert_eq!(
        features,
        ["mysql", "maxmind", "datadog", "sentry", "test-util"]
    );
    let default = cargo_toml
        .lines()
        .find(|l| l.starts_with("default = "))
        .expect("the default features");
    for adapter in &features[..4] {
        assert!(
            default.contains(&format!("\"{adapter}\"")),
            "{adapter} is a default feature: {default}"
        );
    }
    assert!(!default.contains("test-util"), "{default}");
    // The default features compile every adapter in; --all-features would add the test doubles.
    assert!(
        !run.contains("--no-default-features")
            && !run.contains("--all-features")
            && !run.contains("--features"),
        "every adapter and no test double is compiled in: {run}"
    );
    assert!(run.contains("target/release/pdd-server"), "{run}");
}

#[test]
fn dockerfile_runtime_agrees_with_the_binary_defaults_and_config_example() {
    let stages = dockerfile();
    let runtime = stages.last().unwrap();
    assert!(
        runtime.from.starts_with("debian:") && runtime.from.ends_with("-slim"),
        "slim Debian runtime: {}",
        runtime.from
    );
    let install = runtime
        .all("RUN")
        .find(|r| r.contains("apt-get install"))
        .expect("runtime installs packages");
    assert!(install.contains("ca-certificates"), "{install}");
    assert!(install.contains("tzdata"), "{install}");

    // Entry point: the binary, found on PATH under the name cargo gives it.
    let bin_name = Path::new(binary()).file_name().unwrap().to_str().unwrap();
    assert_eq!(bin_name, "pdd-server");
    assert_eq!(
        exec_form(runtime.last("ENTRYPOINT").expect("ENTRYPOINT")),
        [bin_name]
    );
    let build_name = stages
        .iter()
        .find(|s| s.from.starts_with("rust:"))
        .and_then(|s| s.name.clone())
        .expect("named build stage");
    assert!(
        runtime.all("COPY").any(|c| c
            == format!("--from={build_name} /usr/local/bin/{bin_name} /usr/local/bin/{bin_name}")),
        "the binary is copied onto PATH"
    );

    // Ports: the defaults of -http.port and -admin.port, as config.example.toml shows them.
    let example = example_defaults();
    let http = spec_default("http.port");
    let admin = spec_default("admin.port");
    assert_eq!(example["http.port"], http);
    assert_eq!(example["admin.port"], admin);
    let exposed: Vec<u16> = runtime
        .all("EXPOSE")
        .flat_map(|e| e.split(' ').map(|p| p.parse::<u16>().unwrap()))
        .collect();
    assert_eq!(exposed, [port_of(http), port_of(admin)]);
    assert_eq!(exposed, [8000, 9990]);

    // The country database at the default -geocoder.maxmind_db.
    assert_eq!(spec_default("geocoder.maxmind_db"), DEFAULT_MAXMIND_DB);
    assert_eq!(example["geocoder.maxmind_db"], DEFAULT_MAXMIND_DB);
    let db_stage = stages
        .iter()
        .find(|s| {
            s.all("RUN")
                .any(|r| r.contains("geo-whois-asn-country-mmdb"))
        })
        .expect("a stage fetches the country database");
    let db_stage_name = db_stage.name.clone().expect("named database stage");
    assert!(
        runtime
            .all("COPY")
            .any(|c| c.starts_with(&format!("--from={db_stage_name} "))
                && c.ends_with(&format!(" {DEFAULT_MAXMIND_DB}"))),
        "the database lands at {DEFAULT_MAXMIND_DB}"
    );

    // A non-root user, created in the image.
    let user = runtime.last("USER").expect("USER");
    let uid = user.split(':').next().unwrap();
    assert!(!["root", "0"].contains(&uid), "runs as {user}");
    assert!(
        runtime
            .all("RUN")
            .any(|r| r.contains("useradd") && r.contains(&format!("--uid {uid}"))),
        "user {uid} is created"
    );

    // The health check needs nothing but the binary.
    let health = runtime.last("HEALTHCHECK").expect("HEALTHCHECK");
    let cmd = health.split_once("CMD ").expect("HEALTHCHECK CMD").1;
    assert_eq!(exec_form(cmd), [bin_name, "-healthcheck"]);
}

#[test]
fn dockerignore_keeps_the_target_directory_out() {
    let ignore = read(".dockerignore");
    assert!(
        ignore
            .lines()
            .any(|l| l.trim() == "target/" || l.trim() == "target"),
        "{ignore}"
    );
}

// ---- docs/deploying.md -------------------------------------------------------------------------

/// The production example of the previous server's deployment page, kept verbatim in `docs/deploying.md#example`.
const SEED_EXAMPLE: &str = r"docker run \
  --net host \
  --detach \
  --restart=always \
  --env 'SENTRY_DSN=https://<public>:<private>@sentry.io/302347' \
  --env ENVIRONMENT=production \
  --name pdd-server \
  pddisense/pdd-server \
    -mysql_server=localhost:3306 \
    -mysql_user=pdd \
    -mysql_password=<mysql password> \
    -datadog_server=127.0.0.1:8125 \
    -geocoder=maxmind \
    -api.access_token=<access token> \
    -http.port=:8000 \
    -admin.port=:9000";

#[test]
fn the_guide_keeps_the_production_example_with_only_the_image_renamed() {
    let guide = read("docs/deploying.md");
    let ours = SEED_EXAMPLE.replace("  pddisense/pdd-server \\", &format!("  {IMAGE} \\"));
    assert!(guide.contains(&ours), "docs/deploying.md lost the example");
}

/// Shell commands of the ```bash blocks, continuation lines joined.
fn guide_commands() -> Vec<String> {
    let guide = read("docs/deploying.md");
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut current = String::new();
    for line in guide.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block && line.trim() == "```bash";
            continue;
        }
        if !in_block {
            continue;
        }
        match line.trim_end().strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                commands.push(std::mem::take(&mut current).trim().to_owned());
            }
        }
    }
    commands
}

/// Splits like a POSIX shell: quotes, backslashes and `$PWD`; `<placeholder>`s become
/// `a-placeholder-value` first (long enough for an access token).
fn shell_words(command: &str, pwd: &str) -> Vec<String> {
    let mut text = String::new();
    let mut rest = command;
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').expect("closed placeholder") + open;
        text.push_str(&rest[..open]);
        text.push_str("a-placeholder-value");
        rest = &rest[close + 1..];
    }
    text.push_str(rest);
    let text = text.replace("$PWD", pwd);

    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// What a `docker run` or direct invocation gives the server.
#[derive(Debug)]
struct Invocation {
    command: String,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    /// Container path → host path.
    mounts: Vec<(String, String)>,
}

/// Values the test gives variables the guide passes through from the shell (`--env NAME`).
fn passed_through(name: &str, exported: &BTreeMap<String, String>) -> String {
    if let Some(value) = exported.get(name) {
        return value.clone();
    }
    match name {
        "PDD_API_ACCESS_TOKEN" => "a-test-token-of-thirty-characters".into(),
        "PDD_MYSQL_PASSWORD" => "a test password".into(),
        other => panic!("the guide passes {other} through; give it a test value here"),
    }
}

const DOCKER_BOOLEAN_OPTIONS: &[&str] = &[
    "--rm",
    "--detach",
    "-d",
    "-i",
    "-t",
    "-it",
    "--init",
    "--read-only",
    "--interactive",
    "--tty",
];

fn invocations(pwd: &str) -> Vec<Invocation> {
    let mut exported = BTreeMap::new();
    let mut found = Vec::new();
    for command in guide_commands() {
        let words = shell_words(&command, pwd);
        match words.first().map(String::as_str) {
            Some("export") => {
                // Values computed by a command substitution are stand-ins here.
                for pair in &words[1..] {
                    if let Some((name, _)) = pair.split_once('=') {
                        exported
                            .insert(name.to_owned(), "an-exported-test-value-0123456789".into());
                    }
                }
            }
            Some("docker") if words.get(1).map(String::as_str) == Some("run") => {
                let mut env = BTreeMap::new();
                let mut mounts = Vec::new();
                let mut i = 2;
                while i < words.len() && words[i].starts_with('-') {
                    let (option, inline) = match words[i].split_once('=') {
                        Some((o, v)) if o.starts_with("--") => (o.to_owned(), Some(v.to_owned())),
                        _ => (words[i].clone(), None),
                    };
                    let value = if DOCKER_BOOLEAN_OPTIONS.contains(&option.as_str()) {
                        None
                    } else if inline.is_some() {
                        inline
                    } else {
                        i += 1;
                        Some(words[i].clone())
                    };
                    match (option.as_str(), value) {
                        ("--env" | "-e", Some(v)) => match v.split_once('=') {
                            Some((name, value)) => {
                                env.insert(name.to_owned(), value.to_owned());
                            }
                            None => {
                                let value = passed_through(&v, &exported);
                                env.insert(v, value);
                            }
                        },
                        ("--volume" | "-v", Some(v)) => {
                            let parts: Vec<&str> = v.split(':').collect();
                            mounts.push((parts[1].to_owned(), parts[0].to_owned()));
                        }
                        _ => {}
                    }
                    i += 1;
                }
                assert_eq!(words.get(i).map(String::as_str), Some(IMAGE), "{command}");
                found.push(Invocation {
                    command,
                    args: words[i + 1..].to_vec(),
                    env,
                    mounts,
                });
            }
            Some(program) if program == "pdd-server" || program.ends_with("/pdd-server") => {
                found.push(Invocation {
                    command: command.clone(),
                    args: words[1..].to_vec(),
                    env: BTreeMap::new(),
                    mounts: Vec::new(),
                });
            }
            _ => {}
        }
    }
    found
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

#[test]
fn every_server_command_of_the_guide_passes_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let pwd = dir.path().to_str().unwrap().to_owned();
    // What the guide's commands find in the current directory.
    std::fs::copy(
        root().join("config.example.toml"),
        dir.path().join("pdd.toml"),
    )
    .unwrap();
    std::fs::copy(
        fixture("geoip2-country.mmdb"),
        dir.path().join("GeoLite2-Country.mmdb"),
    )
    .unwrap();
    let shipped_db = fixture("country-code.mmdb");

    let found = invocations(&pwd);
    let production = found
        .iter()
        .filter(|inv| inv.args.iter().any(|a| a == "-admin.port=:9000"))
        .count();
    assert_eq!(
        production, 1,
        "the production example is among the commands"
    );
    assert!(found.len() >= 10, "{} commands found", found.len());

    for inv in found {
        // The container's paths are the host files mounted there.
        let mut env = BTreeMap::new();
        env.insert(
            "PDD_GEOCODER_MAXMIND_DB".to_owned(),
            shipped_db.display().to_string(),
        );
        for (name, value) in &inv.env {
            env.insert(name.clone(), value.clone());
        }
        let mut args = inv.args.clone();
        for (container, host) in &inv.mounts {
            assert!(Path::new(host).exists(), "{host} for {}", inv.command);
            if container == DEFAULT_MAXMIND_DB {
                env.insert("PDD_GEOCODER_MAXMIND_DB".to_owned(), host.clone());
            }
            for arg in args.iter_mut() {
                *arg = arg.replace(container.as_str(), host);
            }
        }
        if !args.iter().any(|a| a == "-check_config") {
            args.push("-check_config".to_owned());
        }
        let out = run(&args, &env, dir.path());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}\nargs {args:?}\nstdout {}\nstderr {}",
            inv.command,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_wrong_flag_in_a_command_fails_check_config() {
    // The check above would catch a drifted flag: the same dry run refuses one.
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &["-mysql_servr=localhost:3306".into(), "-check_config".into()],
        &BTreeMap::new(),
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mysql_servr"));
}

// ---- -healthcheck --------------------------------------------------------------------------

/// Answers every connection with `status` and remembers the request lines.
fn tiny_admin(status: &'static str) -> (u16, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let request = String::from_utf8_lossy(&request);
            let _ = tx.send(request.lines().next().unwrap_or("").to_owned());
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nOK"
            );
        }
    });
    (port, rx)
}

fn healthcheck(admin_port: u16) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut env = BTreeMap::new();
    env.insert(
        "PDD_ADMIN_PORT".to_owned(),
        format!("127.0.0.1:{admin_port}"),
    );
    run(&["-healthcheck".to_owned()], &env, dir.path())
}

#[test]
fn healthcheck_finds_the_admin_port_in_the_environment_and_exits_0_on_200() {
    let (port, requests) = tiny_admin("200 OK");
    let out = healthcheck(port);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        requests.recv_timeout(Duration::from_secs(5)).unwrap(),
        "GET /health HTTP/1.0"
    );
}

#[test]
fn healthcheck_exits_1_when_the_admin_health_answers_503() {
    let (port, _requests) = tiny_admin("503 Service Unavailable");
    assert_eq!(healthcheck(port).status.code(), Some(1));
}
