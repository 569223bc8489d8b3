//! The dependency rule, checked on the source files under `src/`:
//! - the entities and rules (`src/domain` outside `src/domain/service`) name none of
//!   `crate::ports`, `crate::adapters`, `crate::app`, `crate::config`;
//! - nothing under `src/domain` names `crate::adapters` or `crate::app`;
//! - `src/ports` names none of `crate::domain::service`, `crate::adapters`, `crate::app`;
//! - no `Instant::now()`, `Utc::now()` (nor `SystemTime::now()`, `Local::now()`) under
//!   `src/domain` outside `#[cfg(test)]` items: time comes from the `Clock` port.
//!
//! Paths are read as the compiler would: `super::` chains are resolved from the file's module
//! (an inline module's `super` is counted from the file, which can only make the check
//! stricter), groups `crate::{a, b::{c, d}}` are expanded, and comments and the insides of
//! string and character literals are ignored.

use std::path::Path;

const ENTITY_FORBIDDEN: &[&str] = &["ports", "adapters", "app", "config"];
const DOMAIN_FORBIDDEN: &[&str] = &["adapters", "app"];
const PORTS_FORBIDDEN: &[&str] = &["domain::service", "adapters", "app"];
const WALL_CLOCK_READS: &[&str] = &[
    "Instant::now(",
    "Utc::now(",
    "SystemTime::now(",
    "Local::now(",
];

/// Every `.rs` file under `dir`, as (path relative to `root` with `/`, text).
fn sources(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(root, &path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            let relative = path.strip_prefix(root).unwrap();
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

/// The module a file under `src/` defines: `domain/campaign.rs` is `domain::campaign`,
/// `domain/mod.rs` is `domain`, `lib.rs` the crate root.
fn module_of(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = path.split('/').map(str::to_string).collect();
    let file = parts.pop().unwrap_or_default();
    match file.as_str() {
        "mod.rs" | "lib.rs" | "main.rs" => {}
        other => parts.push(other.trim_end_matches(".rs").to_string()),
    }
    parts
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `chars[i]` follows a lone `b` (a byte string's prefix).
fn byte_prefix(chars: &[char], i: usize) -> bool {
    i > 0 && chars[i - 1] == 'b' && (i < 2 || !is_ident(chars[i - 2]))
}

/// The code without comments, with the insides of string and character literals blanked
/// (line breaks kept).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev_ident = i > 0 && is_ident(chars[i - 1]);
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (!prev_ident || byte_prefix(&chars, i))
            && matches!(next, Some('"') | Some('#'))
        {
            // A raw string r"…", r#"…"# or br"…", or an identifier starting with r.
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            out.push_str("r\"");
            i = j + 1;
            while i < chars.len() {
                if chars[i] == '"' && (1..=hashes).all(|h| chars.get(i + h) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push('"');
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A character literal ('x', '\n', '\''); otherwise a lifetime.
            out.push_str("' '");
            i += if next == Some('\\') { 2 } else { 1 };
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `code` without the items marked `#[cfg(test)]` (a module with its body, or one item).
fn without_tests(code: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let item = &rest[at + MARK.len()..];
        let (mut depth, mut nested) = (0usize, 0usize);
        let mut end = item.len();
        for (i, c) in item.char_indices() {
            match c {
                '(' | '[' => nested += 1,
                ')' | ']' => nested = nested.saturating_sub(1),
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                ';' if depth == 0 && nested == 0 => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// `a::b::{c, d::{e, f as g}, self}` as flat paths: `a::b::c`, `a::b::d::e`, `a::b::d::f`,
/// `a::b`.
fn expand(path: &str) -> Vec<String> {
    let path: String = path.split_whitespace().collect::<Vec<_>>().join(" ");
    let Some(open) = path.find('{') else {
        let flat = path.split(" as ").next().unwrap_or("").trim();
        return vec![flat.trim_end_matches("::").to_string()];
    };
    let head = path[..open].trim_end_matches("::");
    let inner = &path[open + 1..];
    let inner = inner.strip_suffix('}').unwrap_or(inner);
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .flat_map(expand)
        .map(|tail| match tail.as_str() {
            "self" => head.to_string(),
            _ if head.is_empty() => tail,
            _ => format!("{head}::{tail}"),
        })
        .collect()
}

/// Every path of this crate named in `code` (written in module `module`), resolved from the
/// crate root: `crate::ports::Clock` is `ports::Clock`; `super::super::ports` from
/// `domain::campaign` is `ports`.
fn crate_paths(code: &str, module: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let starts = ["crate::", "super::", "self::"];
    let chars: Vec<(usize, char)> = code.char_indices().collect();
    // The end of the last path read: the paths inside its groups are read with it.
    let mut read_to = 0;
    for (k, &(at, _)) in chars.iter().enumerate() {
        if at < read_to {
            continue;
        }
        let rest = &code[at..];
        if !starts.iter().any(|s| rest.starts_with(s)) {
            continue;
        }
        if k > 0 && (is_ident(chars[k - 1].1) || chars[k - 1].1 == ':') {
            continue;
        }
        // The whole path, with its groups.
        let mut depth = 0;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    end = i;
                    break;
                }
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                c if is_ident(c) || c == ':' || c == '*' => {}
                ',' | ' ' | '\n' | '\t' | '\r' if depth > 0 => {}
                _ => {
                    end = i;
                    break;
                }
            }
        }
        read_to = at + end;
        for path in expand(&rest[..end]) {
            let mut segments: Vec<&str> = path.split("::").collect();
            let mut base: Vec<String> = module.to_vec();
            match segments.first() {
                Some(&"crate") => {
                    base.clear();
                    segments.remove(0);
                }
                Some(&"self") => {
                    segments.remove(0);
                }
                _ => {
                    while segments.first() == Some(&"super") {
                        base.pop();
                        segments.remove(0);
                    }
                }
            }
            base.extend(segments.iter().map(|s| s.to_string()));
            out.push(base.join("::"));
        }
    }
    out
}

fn names(path: &str, prefix: &str) -> bool {
    path == prefix || path.starts_with(&format!("{prefix}::"))
}

/// Every break of the rule in one file (`path` relative to `src/`).
fn violations(path: &str, text: &str) -> Vec<String> {
    let code = code_only(text);
    let module = module_of(path);
    let forbidden: &[&str] = if path.starts_with("domain/service/") {
        DOMAIN_FORBIDDEN
    } else if path.starts_with("domain/") {
        ENTITY_FORBIDDEN
    } else if path.starts_with("ports/") {
        PORTS_FORBIDDEN
    } else {
        &[]
    };
    let mut found = Vec::new();
    for named in crate_paths(&code, &module) {
        for prefix in forbidden {
            if names(&named, prefix) {
                found.push(format!("{path} names crate::{named}"));
            }
        }
    }
    if path.starts_with("domain/") {
        let compact: String = without_tests(&code)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        for read in WALL_CLOCK_READS {
            if compact.contains(read) {
                found.push(format!(
                    "{path} reads the time with {read}) (use the Clock port)"
                ));
            }
        }
    }
    found
}

#[test]
fn the_source_tree_keeps_the_dependency_rule() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    let checked: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    for expected in [
        "domain/campaign.rs",
        "domain/error.rs",
        "domain/service/catalog.rs",
        "ports/mod.rs",
        "ports/storage/mod.rs",
    ] {
        assert!(
            checked.contains(&expected),
            "{expected} not found in {checked:?}"
        );
    }
    let found: Vec<String> = files
        .iter()
        .flat_map(|(path, text)| violations(path, text))
        .collect();
    assert!(
        found.is_empty(),
        "the dependency rule is broken:\n{}",
        found.join("\n")
    );
}

#[test]
fn entities_may_not_name_ports_adapters_app_or_config() {
    for line in [
        "use crate::ports::Clock;",
        "use super::super::ports::storage::StorageError;",
        "use crate::{domain::time::Day, config::Settings};",
        "fn f(c: &dyn crate::adapters::clock::SystemClock) {}",
        "use crate::app::scheduler;",
        "use crate::{ports};",
    ] {
        assert!(
            !violations("domain/campaign.rs", line).is_empty(),
            "{line} passed"
        );
    }
    for line in [
        "use super::time::Day;",
        "use crate::domain::sketch::{Group, Sketch};",
        "use super::*;",
        "// Unlike crate::ports, this names nothing.",
        r#"const S: &str = "crate::ports";"#,
        "fn f<'a>(s: &'a str) -> char { let _ = s; '{' }",
    ] {
        assert_eq!(
            violations("domain/campaign.rs", line),
            Vec::<String>::new(),
            "{line}"
        );
    }
}

#[test]
fn services_may_use_the_ports_but_no_adapter_nor_the_app() {
    assert!(violations(
        "domain/service/jobs.rs",
        "use crate::ports::{Clock, Storage};"
    )
    .is_empty());
    assert!(violations("domain/service/mod.rs", "use super::super::ports::Clock;").is_empty());
    for line in [
        "use crate::{domain::time::Day, adapters::clock::SystemClock};",
        "use crate::app::Parts;",
        "use super::super::super::adapters::storage::memory::MemoryStorage;",
    ] {
        assert!(
            !violations("domain/service/jobs.rs", line).is_empty(),
            "{line} passed"
        );
    }
}

#[test]
fn ports_may_not_name_services_adapters_or_the_app() {
    for line in [
        "use crate::domain::service::ServiceError;",
        "use crate::domain::{campaign::Campaign, service::jobs::JobKind};",
        "use super::super::domain::service::Context;",
        "use crate::adapters::http::ApiState;",
        "use crate::app::Parts;",
    ] {
        assert!(
            !violations("ports/storage/mod.rs", line).is_empty(),
            "{line} passed"
        );
    }
    assert!(violations(
        "ports/storage/mod.rs",
        "use crate::domain::campaign::Campaign;"
    )
    .is_empty());
    assert!(violations("ports/storage/clients.rs", "use super::StorageResult;").is_empty());
}

#[test]
fn the_domain_reads_no_wall_clock_outside_tests() {
    let reads = "fn f() -> DateTime<Utc> { chrono::Utc::now() }\n";
    assert!(!violations("domain/time.rs", reads).is_empty());
    let instant = "fn f() { let t = std::time::Instant :: now (); }\n";
    assert!(!violations("domain/service/catalog.rs", instant).is_empty());
    let in_tests = "fn f() {}\n#[cfg(test)]\nmod tests {\n    fn g() { let _ = Utc::now(); }\n}\n";
    assert!(violations("domain/time.rs", in_tests).is_empty());
    let after_tests = format!("{in_tests}fn h() {{ Utc::now(); }}\n");
    assert!(!violations("domain/time.rs", &after_tests).is_empty());
    let mentioned = "// Utc::now() is never read here\nconst M: &str = \"Instant::now()\";\n";
    assert!(violations("domain/time.rs", mentioned).is_empty());
    assert!(violations("adapters/clock.rs", reads).is_empty());
}

#[test]
fn groups_expand_into_every_path() {
    assert_eq!(
        expand("crate::{a, b::{c, d as e}, self}"),
        vec!["crate::a", "crate::b::c", "crate::b::d", "crate"]
    );
    assert_eq!(
        crate_paths(
            "use super::{x::Y, super::z};",
            &module_of("domain/service/ping.rs")
        ),
        vec!["domain::service::x::Y", "domain::z"]
    );
}
