//! Server-rendered pages of the operator's console: escaping, the shared layout with its
//! navigation, the stylesheet served from the admin port itself, the headers every page carries
//! (a strict Content-Security-Policy: no script at all, styles from this port only), and the
//! choice between HTML and the same model as JSON by `Accept`.

use std::fmt::{self, Write as _};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Serialize, Serializer};
use warp::http::header::{
    HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION,
    REFERRER_POLICY, VARY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use warp::http::StatusCode;
use warp::reply::Response;

use crate::adapters::http::dto::format_time;

/// No script, no frame, nothing from elsewhere: styles from this port's stylesheet only (the
/// charts are inline SVG drawn with presentation attributes, which CSP does not govern), forms
/// posting to this port only.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Where the stylesheet is served, compiled into the binary.
pub const STYLESHEET_PATH: &str = "/admin/static/admin.css";
pub const STYLESHEET: &str = include_str!("admin.css");

/// Text made safe for HTML element content and double- or single-quoted attribute values.
pub struct Escaped<'a>(pub &'a str);

/// Escapes `s` when displayed: `write!(out, "<td>{}</td>", esc(name))`.
pub fn esc(s: &str) -> Escaped<'_> {
    Escaped(s)
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// Percent-encodes one path segment (campaign names in links).
pub fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a space when `plus`); malformed escapes are kept as
/// they are, invalid UTF-8 replaced.
pub fn percent_decode(s: &str, plus: bool) -> String {
    let s = s.as_bytes();
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' if plus => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                let hex = std::str::from_utf8(&s[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes `application/x-www-form-urlencoded` pairs.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (percent_decode(k, true), percent_decode(v, true)),
            None => (percent_decode(pair, true), String::new()),
        })
        .collect()
}

/// Serialises a time as the API writes it (`2018-05-12T00:00:00.000Z`).
pub fn ser_time<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(t))
}

pub fn ser_opt_time<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => ser_time(t, s),
        None => s.serialize_none(),
    }
}

/// A time as an operator reads it: local to the reference zone, to the second, with the offset.
pub fn local_time(t: &DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// `3 d 4 h`, `5 min 2 s`: a span in its two largest units.
pub fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min {s} s")
    } else {
        format!("{s} s")
    }
}

/// A number for a table: integers without a fraction, others to three significant places.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return group_thousands(v as i64);
    }
    let magnitude = v.abs();
    if magnitude >= 100.0 {
        format!("{v:.0}")
    } else if magnitude >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The pages of the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Jobs,
    Campaigns,
    Clients,
    Logging,
    Metrics,
}

impl Nav {
    pub const ALL: [Nav; 6] = [
        Nav::Overview,
        Nav::Jobs,
        Nav::Campaigns,
        Nav::Clients,
        Nav::Logging,
        Nav::Metrics,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Nav::Overview => "/admin",
            Nav::Jobs => "/admin/jobs",
            Nav::Campaigns => "/admin/campaigns",
            Nav::Clients => "/admin/clients",
            Nav::Logging => "/admin/logging",
            Nav::Metrics => "/admin/metrics",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Nav::Overview => "Overview",
            Nav::Jobs => "Jobs",
            Nav::Campaigns => "Campaigns",
            Nav::Clients => "Clients",
            Nav::Logging => "Logging",
            Nav::Metrics => "Metrics",
        }
    }
}

/// A whole document: the layout around `body`, with `title` and the navigation bar naming the
/// pages this server offers (`pages`), `current` marked.
pub fn document(title: &str, current: Nav, pages: &[Nav], body: &str) -> String {
    layout(title, Some(current), pages, body)
}

/// The page a browser gets instead of an error's `{"errors": [...]}`: the status and each
/// message, as text.
pub fn error_document(status: StatusCode, errors: &[String], pages: &[Nav]) -> String {
    let mut body = String::from("<ul class=\"errors\">");
    for e in errors {
        let _ = write!(body, "<li>{}</li>", esc(e));
    }
    body.push_str("</ul><p><a href=\"/admin\">Back to the overview</a></p>");
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    layout(&title, None, pages, &body)
}

fn layout(title: &str, current: Option<Nav>, pages: &[Nav], body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · pdd-server admin</title>\
         <link rel=\"stylesheet\" href=\"{STYLESHEET_PATH}\"></head><body>\
         <header><span class=\"brand\">pdd-server</span><nav>",
        esc(title)
    );
    for page in pages {
        let class = if Some(*page) == current {
            " class=\"current\" aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<a href=\"{}\"{class}>{}</a>",
            page.path(),
            page.label()
        );
    }
    let _ = writeln!(
        out,
        "</nav></header><main><h1>{}</h1>{body}</main></body></html>",
        esc(title)
    );
    out
}

fn security_headers(res: &mut Response) {
    let headers = res.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Not `no-referrer`: under it browsers send `Origin: null` with the console's own forms.
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
}

/// An HTML document with the console's headers.
pub fn html_response(status: StatusCode, document: String) -> Response {
    let mut res = Response::new(document.into());
    *res.status_mut() = status;
    security_headers(&mut res);
    let headers = res.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(VARY, HeaderValue::from_static("Accept"));
    res
}

/// A model as JSON (same headers as the HTML but the type).
pub fn json_response<T: Serialize>(model: &T) -> Response {
    let body = serde_json::to_vec(model).unwrap_or_else(|_| b"{}".to_vec());
    let mut res = Response::new(body.into());
    security_headers(&mut res);
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(VARY, HeaderValue::from_static("Accept"));
    res
}

/// 303 to `location` (after a form's POST, so that reloading does not post again).
pub fn see_other(location: &'static str) -> Response {
    let mut res = Response::new(Default::default());
    *res.status_mut() = StatusCode::SEE_OTHER;
    security_headers(&mut res);
    res.headers_mut()
        .insert(LOCATION, HeaderValue::from_static(location));
    res
}

/// The stylesheet, cacheable for an hour (it changes only with the binary).
pub fn stylesheet_response() -> Response {
    let mut res = Response::new(STYLESHEET.into());
    security_headers(&mut res);
    let headers = res.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
    res
}

/// How much `accept` wants `wanted` (`type/subtype`): the `q` of its most specific range
/// (`type/subtype`, then `type/*`, then `*/*`) and that specificity; (0, 0) when no range
/// covers it. Compared as a pair: a higher `q` wins, then a more specific mention.
fn preference(accept: &str, wanted: &str) -> (f32, u8) {
    let (kind, _) = wanted.split_once('/').unwrap_or((wanted, ""));
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let specificity = if media == wanted {
            3
        } else if media.strip_suffix("/*") == Some(kind) {
            2
        } else if media == "*/*" {
            1
        } else {
            continue;
        };
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    match best {
        Some((s, q)) if q > 0.0 => (q, s),
        _ => (0.0, 0),
    }
}

fn prefers(accept: Option<&str>, this: &str, that: &str) -> bool {
    accept.is_some_and(|a| {
        let (mine, theirs) = (preference(a, this), preference(a, that));
        mine.0 > 0.0 && (mine.0 > theirs.0 || (mine.0 == theirs.0 && mine.1 > theirs.1))
    })
}

/// Whether `accept` prefers `application/json` to `text/html`. No header, `*/*` or a tie:
/// no.
pub fn wants_json(accept: Option<&str>) -> bool {
    prefers(accept, "application/json", "text/html")
}

/// Whether `accept` prefers `text/html` to `application/json` (a browser).
pub fn wants_html(accept: Option<&str>) -> bool {
    prefers(accept, "text/html", "application/json")
}

/// A page: `model` as JSON when `accept` prefers it, else the document `render` makes of it.
pub fn page<T: Serialize>(
    accept: Option<&str>,
    model: &T,
    render: impl FnOnce(&T) -> String,
) -> Response {
    if wants_json(accept) {
        json_response(model)
    } else {
        html_response(StatusCode::OK, render(model))
    }
}

/// An HTML table's header row.
pub fn thead(out: &mut String, columns: &[&str]) {
    out.push_str("<thead><tr>");
    for c in columns {
        let _ = write!(out, "<th>{}</th>", esc(c));
    }
    out.push_str("</tr></thead>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_both_quotes() {
        assert_eq!(
            esc("<script>alert('x' & \"y\")</script>").to_string(),
            "&lt;script&gt;alert(&#39;x&#39; &amp; &quot;y&quot;)&lt;/script&gt;"
        );
        assert_eq!(esc("plain é").to_string(), "plain é");
        assert_eq!(esc("").to_string(), "");
        assert_eq!(esc("&amp;").to_string(), "&amp;amp;");
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path_segment("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(path_segment("a/b c\"<"), "a%2Fb%20c%22%3C");
        assert_eq!(path_segment("é"), "%C3%A9");
    }

    #[test]
    fn form_bodies_decode_plus_and_percent_escapes() {
        assert_eq!(
            form_pairs(b"level=DEBUG&at=2018-05-11T01%3A00%3A00%2B01%3A00&x=a+b&flag&bad=%zz%4"),
            vec![
                ("level".into(), "DEBUG".into()),
                ("at".into(), "2018-05-11T01:00:00+01:00".into()),
                ("x".into(), "a b".into()),
                ("flag".into(), String::new()),
                ("bad".into(), "%zz%4".into()),
            ]
        );
        assert_eq!(form_pairs(b""), Vec::<(String, String)>::new());
        assert_eq!(form_pairs(b"a=%"), vec![("a".into(), "%".into())]);
        assert_eq!(percent_decode("c-1%22%3E+x", false), "c-1\">+x");
        assert_eq!(percent_decode(&path_segment("a/é \"<"), false), "a/é \"<");
    }

    #[test]
    fn json_only_when_preferred_to_html() {
        assert!(wants_json(Some("application/json")));
        assert!(wants_json(Some("application/json, text/plain, */*")));
        assert!(wants_json(Some("text/html;q=0.5, application/json")));
        assert!(!wants_json(None));
        assert!(!wants_json(Some("*/*")));
        assert!(!wants_json(Some("text/html")));
        assert!(!wants_json(Some(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(!wants_json(Some("application/json;q=0")));
        assert!(!wants_json(Some("application/json, text/html")));
        assert!(wants_json(Some("application/*")));
        assert!(wants_html(Some(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(!wants_html(None));
        assert!(!wants_html(Some("*/*")));
        assert!(!wants_html(Some("application/json")));
    }

    #[test]
    fn numbers_and_spans_read_well() {
        assert_eq!(number(1234567.0), "1,234,567");
        assert_eq!(number(-1000.0), "-1,000");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(0.01234), "0.012");
        assert_eq!(number(12.345), "12.35");
        assert_eq!(number(f64::NAN), "–");
        assert_eq!(span(0), "0 s");
        assert_eq!(span(62), "1 min 2 s");
        assert_eq!(span(3 * 3600 + 120), "3 h 2 min");
        assert_eq!(span(2 * 86_400 + 5 * 3600 + 7), "2 d 5 h");
    }

    #[test]
    fn an_error_page_shows_the_status_and_each_message_as_text() {
        let doc = error_document(
            StatusCode::NOT_FOUND,
            &["not found".into(), "<b>bold</b>".into()],
            &[Nav::Overview, Nav::Jobs],
        );
        assert!(doc.contains("<title>404 Not Found · pdd-server admin</title>"));
        assert!(doc.contains("<h1>404 Not Found</h1>"));
        assert!(doc.contains("<li>not found</li><li>&lt;b&gt;bold&lt;/b&gt;</li>"));
        assert!(doc.contains("<a href=\"/admin/jobs\">Jobs</a>"));
        assert!(!doc.contains("aria-current"));
    }

    #[test]
    fn the_document_escapes_its_title_and_marks_the_current_page() {
        let doc = document(
            "<b>x</b>",
            Nav::Logging,
            &[Nav::Overview, Nav::Logging],
            "<p>body</p>",
        );
        assert!(doc.contains("<title>&lt;b&gt;x&lt;/b&gt; · pdd-server admin</title>"));
        assert!(doc.contains("<a href=\"/admin\">Overview</a>"));
        assert!(doc.contains(
            "<a href=\"/admin/logging\" class=\"current\" aria-current=\"page\">Logging</a>"
        ));
        assert!(!doc.contains("/admin/metrics\""));
        assert!(doc.contains("<link rel=\"stylesheet\" href=\"/admin/static/admin.css\">"));
        assert!(!doc.contains("<script"));
        assert!(!doc.contains("style=\""));
    }
}
