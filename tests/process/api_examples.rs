//! Runs every example of docs/api.md, in the page's order, against the built server on memory
//! storage, and checks each answer against the one the page writes: the status, the headers it
//! names, and the body. Placeholders (`<client-name>`…) are bound from the answers, as the
//! page's placeholder table says. What the server chooses afresh on each run is compared by
//! shape only: names (UUIDs), times and other digits, `day` and `round`, the order of
//! `publicKeys`; a body elided with `…` is checked for the keys or lines it shows.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use crate::server::Server;

const TOKEN: &str = "an-example-token-for-the-docs";

/// One example: the shell commands of a ```bash block and the ```http answer after it.
#[derive(Debug)]
struct Example {
    line: usize,
    commands: Vec<String>,
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn examples(page: &str) -> Vec<Example> {
    let mut blocks: Vec<(usize, &str, Vec<&str>)> = Vec::new();
    let mut lines = page.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let Some(lang) = line.strip_prefix("```") else {
            continue;
        };
        let mut body = Vec::new();
        for (_, line) in lines.by_ref() {
            if line.starts_with("```") {
                break;
            }
            body.push(line);
        }
        blocks.push((i + 1, lang.trim(), body));
    }
    let mut out = Vec::new();
    for pair in blocks.windows(2) {
        let [(line, "bash", bash), (_, "http", http)] = pair else {
            continue;
        };
        let mut commands = Vec::new();
        let mut current = String::new();
        for l in bash {
            match l.trim_end().strip_suffix('\\') {
                Some(head) => current.push_str(head),
                None => {
                    current.push_str(l);
                    commands.push(std::mem::take(&mut current).trim().to_string());
                }
            }
        }
        let status: u16 = http[0]
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("docs/api.md:{line}: no status line"));
        let blank = http.iter().position(|l| l.is_empty()).unwrap_or(http.len());
        let headers = http[1..blank]
            .iter()
            .map(|h| {
                let (name, value) = h.split_once(':').expect("a header line");
                (name.trim().to_lowercase(), value.trim().to_string())
            })
            .collect();
        let body = http.get(blank + 1..).unwrap_or_default().join("\n");
        out.push(Example {
            line: *line,
            commands,
            status,
            headers,
            body,
        });
    }
    out
}

/// What a command printed, read as an HTTP answer (the command runs with `curl -i`).
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn run(command: &str, server: &Server) -> Answer {
    let command = command
        .replace("127.0.0.1:8000", &server.http.to_string())
        .replace("127.0.0.1:9990", &server.admin.to_string());
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "curl() {{ command curl -i \"$@\"; }}\nset -e\n{command}"
        ))
        .env("TOKEN", TOKEN)
        .output()
        .expect("bash runs");
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    assert!(out.status.success(), "`{command}` failed: {text}");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut head = head.lines();
    let status = head
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("`{command}` printed no HTTP answer: {text}"));
    let headers = head
        .filter_map(|h| h.split_once(':'))
        .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

/// `s` with each UUID as `U` and each run of digits as `9`: the shape of a value the server
/// chooses afresh on every run.
fn shape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        let uuid = rest.len() >= 36
            && rest.is_char_boundary(36)
            && rest[..36].char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            });
        if uuid {
            out.push('U');
            rest = &rest[36..];
            continue;
        }
        let c = rest.chars().next().unwrap();
        if c.is_ascii_digit() {
            if !out.ends_with('9') {
                out.push('9');
            }
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The placeholders bound so far.
#[derive(Default)]
struct Bindings(BTreeMap<String, String>);

impl Bindings {
    fn apply(&self, text: &str) -> String {
        self.0
            .iter()
            .fold(text.to_string(), |t, (k, v)| t.replace(k, v))
    }

    /// Binds `<name>` (or, when that is bound to another value, `<other-name>`) to `actual`.
    fn bind(&mut self, placeholder: &str, actual: &str) -> Result<(), String> {
        let other = placeholder.replacen('<', "<other-", 1);
        for p in [placeholder.to_string(), other] {
            match self.0.get(&p) {
                Some(v) if v == actual => return Ok(()),
                Some(_) => continue,
                None => {
                    self.0.insert(p, actual.to_string());
                    return Ok(());
                }
            }
        }
        Err(format!(
            "{placeholder} is bound to another value than {actual}"
        ))
    }
}

fn placeholder(s: &str) -> Option<&str> {
    (s.starts_with('<') && s.ends_with('>') && !s.contains(' ')).then_some(s)
}

/// Compares an answer's JSON with the page's, binding placeholders on the way.
fn same(expected: &Value, actual: &Value, key: &str, b: &mut Bindings) -> Result<(), String> {
    match (expected, actual) {
        (Value::String(e), Value::String(a)) => match placeholder(e) {
            Some(p) => b.bind(p, a),
            None if shape(&b.apply(e)) == shape(a) => Ok(()),
            None => Err(format!("{key}: {a:?} where the page has {e:?}")),
        },
        (Value::Number(_), Value::Number(a)) if key == "day" || key == "round" => {
            b.bind("<day>", &a.to_string())
        }
        (Value::Number(_), Value::Number(_)) if key == "uptimeSeconds" => Ok(()),
        (Value::Array(e), Value::Array(a)) if key == "publicKeys" => {
            let (mut e, mut a) = (e.clone(), a.clone());
            e.sort_by_key(Value::to_string);
            a.sort_by_key(Value::to_string);
            (e == a).then_some(()).ok_or(format!("publicKeys: {a:?}"))
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!(
                    "{key}: {} elements where the page has {}",
                    a.len(),
                    e.len()
                ));
            }
            e.iter().zip(a).try_for_each(|(e, a)| same(e, a, key, b))
        }
        (Value::Object(e), Value::Object(a)) => {
            let (ek, ak): (Vec<_>, Vec<_>) = (e.keys().collect(), a.keys().collect());
            if ek != ak {
                return Err(format!("{key}: fields {ak:?} where the page has {ek:?}"));
            }
            e.iter().try_for_each(|(k, v)| same(v, &a[k], k, b))
        }
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("{key}: {a} where the page has {e}")),
    }
}

/// The page's body for one command's answer.
fn check_body(expected: &str, actual: &str, b: &mut Bindings) -> Result<(), String> {
    let expected = expected.trim();
    let actual = actual.trim();
    if expected.contains('…') {
        // Elided: the keys shown must be there (JSON), or the lines shown (text).
        if expected.starts_with('{') {
            let doc: Value = serde_json::from_str(actual).map_err(|e| e.to_string())?;
            let text = doc.to_string();
            for key in expected.split('"').skip(1).step_by(2) {
                if expected.contains(&format!("\"{key}\":"))
                    && !text.contains(&format!("\"{key}\":"))
                {
                    return Err(format!("no {key:?} in the answer"));
                }
            }
        } else {
            let lines: Vec<String> = actual.lines().map(shape).collect();
            for line in expected.lines().filter(|l| !l.contains('…')) {
                if !lines.contains(&shape(line)) {
                    return Err(format!("no line like {line:?} in the answer"));
                }
            }
        }
        return Ok(());
    }
    match serde_json::from_str::<Value>(expected) {
        Ok(e) => {
            let a: Value = serde_json::from_str(actual)
                .map_err(|err| format!("not JSON ({err}): {actual}"))?;
            same(&e, &a, "body", b)
        }
        Err(_) if shape(&b.apply(expected)) == shape(actual) => Ok(()),
        Err(_) => Err(format!("{actual:?} where the page has {expected:?}")),
    }
}

#[test]
fn every_example_of_the_api_page_answers_as_the_page_says() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md"))
        .expect("docs/api.md");
    let examples = examples(&page);
    assert!(
        examples.len() > 40,
        "only {} examples found",
        examples.len()
    );
    let server = Server::start(&[], &[("PDD_API_ACCESS_TOKEN", TOKEN)]);
    let mut bindings = Bindings::default();
    let mut commands = 0;
    for ex in &examples {
        // One body per command, or one body for all of them.
        let lines: Vec<&str> = ex.body.lines().filter(|l| !l.trim().is_empty()).collect();
        let per_command = ex.commands.len() > 1 && lines.len() == ex.commands.len();
        for (i, command) in ex.commands.iter().enumerate() {
            let command = bindings.apply(command);
            assert!(
                !command.contains('<'),
                "docs/api.md:{}: unbound placeholder in `{command}`",
                ex.line
            );
            let answer = run(&command, &server);
            commands += 1;
            let at = format!("docs/api.md:{}: `{command}`", ex.line);
            assert_eq!(answer.status, ex.status, "{at}: {}", answer.body);
            for (name, value) in &ex.headers {
                let got: Vec<&str> = answer
                    .headers
                    .iter()
                    .filter(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
                    .collect();
                assert!(
                    got.contains(&value.as_str()),
                    "{at}: {name}: {got:?}, not {value:?}"
                );
            }
            let expected = if per_command {
                lines[i]
            } else {
                ex.body.as_str()
            };
            if let Err(e) = check_body(expected, &answer.body, &mut bindings) {
                panic!("{at}: {e}\nanswer: {}", answer.body);
            }
        }
    }
    assert!(commands > 50, "only {commands} commands ran");
}

#[test]
fn shapes_ignore_what_the_server_chooses() {
    assert_eq!(
        shape("2026-11-28T23:10:05.621Z"),
        shape("2018-05-01T00:00:00.000Z")
    );
    assert_eq!(
        shape("1795907534302_0c3b5d3e-8f1a-4a57-9d0e-6f1b2f7a9c41"),
        "9_U"
    );
    assert_ne!(shape("flu"), shape("fever"));
}
