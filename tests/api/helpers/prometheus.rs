//! A strict reader of the Prometheus text exposition format, to check what `/metrics` serves.

use std::collections::HashMap;

/// One sample of the Prometheus text format.
#[derive(Debug, Clone, PartialEq)]
pub struct PromSample {
    pub name: String,
    pub labels: Labels,
    pub value: f64,
}

impl PromSample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn is_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

/// `{a="x",b="y\"z"}` → pairs, unescaping `\\`, `\"` and `\n`; the rest of the line after `}`.
type Labels = Vec<(String, String)>;

fn parse_labels(s: &str) -> Result<(Labels, &str), String> {
    let mut rest = s.strip_prefix('{').ok_or("no {")?;
    let mut labels = Vec::new();
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let (name, r) = rest.split_once("=\"").ok_or("no =\"")?;
        if !is_name(name, false) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = r.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((_, '\n')) => return Err("raw line break in label value".into()),
                Some((_, c)) => value.push(c),
            }
        };
        labels.push((name.to_string(), value));
        rest = &r[end + 1..];
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err("expected , or }".into());
        }
    }
}

/// Parses the text exposition format (0.0.4) strictly: `# HELP` / `# TYPE` lines (one TYPE per
/// family, before its samples), samples `name{labels} value` of a typed family, histogram
/// buckets cumulative and ending with `le="+Inf"` equal to `_count`.
pub fn parse_prometheus(text: &str) -> Result<Vec<PromSample>, String> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), Some(_)) if is_name(name, true) => {}
                (Some("TYPE"), Some(name), Some(kind))
                    if is_name(name, true)
                        && ["counter", "gauge", "histogram", "summary", "untyped"]
                            .contains(&kind) =>
                {
                    if types.insert(name.into(), kind.into()).is_some() {
                        return Err(format!("second TYPE: {line}"));
                    }
                }
                _ => return Err(format!("bad comment: {line}")),
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or(format!("no value: {line}"))?;
        let name = &line[..name_end];
        if !is_name(name, true) {
            return Err(format!("bad name: {line}"));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(|e| format!("{e}: {line}"))?
        } else {
            (Vec::new(), &line[name_end..])
        };
        let value = rest
            .strip_prefix(' ')
            .ok_or(format!("no space before value: {line}"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().map_err(|_| format!("bad value: {line}"))?,
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|b| types.get(*b).is_some_and(|k| k == "histogram"))
            .unwrap_or(name);
        if !types.contains_key(family) {
            return Err(format!("sample before its TYPE: {line}"));
        }
        samples.push(PromSample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    // Histogram series: buckets cumulative, +Inf last and equal to _count.
    for s in samples.iter().filter(|s| s.name.ends_with("_count")) {
        let family = s.name.trim_end_matches("_count");
        if types.get(family).map(String::as_str) != Some("histogram") {
            continue;
        }
        let bucket_name = format!("{family}_bucket");
        let buckets: Vec<&PromSample> = samples
            .iter()
            .filter(|b| {
                b.name == bucket_name
                    && b.labels
                        .iter()
                        .filter(|(k, _)| k != "le")
                        .eq(s.labels.iter())
            })
            .collect();
        let counts: Vec<f64> = buckets.iter().map(|b| b.value).collect();
        if !counts.windows(2).all(|w| w[0] <= w[1]) {
            return Err(format!("buckets of {family} not cumulative"));
        }
        match buckets.last() {
            Some(b) if b.label("le") == Some("+Inf") && b.value == s.value => {}
            _ => return Err(format!("last bucket of {family} is not +Inf = count")),
        }
    }
    Ok(samples)
}
