//! Error reporting to Sentry: panics and error-level log events become Sentry events tagged
//! with the environment; info and warn events ride along as breadcrumbs. Every event and
//! breadcrumb is scrubbed before it leaves: no request bodies, cookies, credentials, query
//! strings, user addresses or anything that looks like a token.

use std::borrow::Cow;

use ::sentry::protocol::{Breadcrumb, Context, Event, Request, Value};
use ::sentry::types::Dsn;
use ::sentry::{ClientInitGuard, ClientOptions};
use anyhow::Context as _;
use tracing::{Level, Subscriber};
use tracing_subscriber::filter::{filter_fn, LevelFilter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

const FILTERED: &str = "[Filtered]";

/// Starts reporting to `dsn`; reports stop (after a bounded flush) when the guard is dropped,
/// so `main` keeps it until exit. Call it first thing in `main`, before the runtime starts
/// threads, so that every thread reports to this client. The error for an invalid DSN does
/// not repeat the DSN, which holds a key.
pub fn init(dsn: &str, environment: &str) -> anyhow::Result<ClientInitGuard> {
    let dsn = parse_dsn(dsn)?;
    let mut options = ClientOptions::new()
        .release(concat!("pdd-server@", env!("CARGO_PKG_VERSION")))
        .environment(environment.to_owned())
        .send_default_pii(false)
        .before_send(|event| Some(scrub_event(event)))
        .before_breadcrumb(|breadcrumb| Some(scrub_breadcrumb(breadcrumb)));
    options.dsn = Some(dsn);
    Ok(::sentry::init(options))
}

/// Checks a DSN as `init` would, for `-check_config`; the error does not repeat it.
pub fn check_dsn(dsn: &str) -> anyhow::Result<()> {
    parse_dsn(dsn).map(drop)
}

fn parse_dsn(dsn: &str) -> anyhow::Result<Dsn> {
    dsn.trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("invalid SENTRY_DSN")
}

/// The layer to add to the tracing subscriber: error-level events become Sentry events, info
/// and warn events breadcrumbs attached to the next one; debug and trace are not sent. With
/// no client initialised it does nothing.
pub fn layer<S>() -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    use ::sentry::integrations::tracing::{BreadcrumbLayer, ErrorLayer};

    // Breadcrumbs first, so the events logged just before an error are attached to it. A
    // `Vec` of layers rather than `and_then`: the per-layer filters of two layers chained
    // with `and_then` never let the breadcrumbs through.
    let layers: Vec<Box<dyn Layer<S> + Send + Sync>> = vec![
        BreadcrumbLayer::new()
            .with_filter(filter_fn(|meta| {
                matches!(*meta.level(), Level::INFO | Level::WARN)
            }))
            .boxed(),
        ErrorLayer::new().with_filter(LevelFilter::ERROR).boxed(),
    ];
    layers
}

/// Words that mark a field, header or `name=value` as secret. Over-matching only costs a
/// detail in a report.
const SENSITIVE: &[&str] = &[
    "token",
    "passw",
    "pwd",
    "secret",
    "auth",
    "cookie",
    "key",
    "dsn",
    "credential",
    "session",
    "bearer",
    "signature",
    "body",
    "payload",
    "encrypted",
];

/// Request headers that may be kept; every other one is dropped.
const SAFE_HEADERS: &[&str] = &[
    "accept",
    "content-length",
    "content-type",
    "host",
    "user-agent",
];

fn is_sensitive(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SENSITIVE.iter().any(|word| name.contains(word))
}

pub(crate) fn scrub_event(mut event: Event<'static>) -> Event<'static> {
    event.user = None;
    if let Some(request) = event.request.take() {
        event.request = Some(scrub_request(request));
    }
    event.message = event.message.map(|m| scrub_text(&m));
    if let Some(entry) = event.logentry.as_mut() {
        entry.message = scrub_text(&entry.message);
        entry.params.iter_mut().for_each(scrub_value);
    }
    for exception in event.exception.values.iter_mut() {
        exception.value = exception.value.take().map(|v| scrub_text(&v));
    }
    for (name, value) in event.tags.iter_mut() {
        *value = if is_sensitive(name) {
            FILTERED.to_owned()
        } else {
            scrub_text(value)
        };
    }
    scrub_map(&mut event.extra);
    for context in event.contexts.values_mut() {
        if let Context::Other(map) = context {
            scrub_map(map);
        }
    }
    let breadcrumbs = std::mem::take(&mut event.breadcrumbs.values);
    event.breadcrumbs.values = breadcrumbs.into_iter().map(scrub_breadcrumb).collect();
    event
}

pub(crate) fn scrub_breadcrumb(mut breadcrumb: Breadcrumb) -> Breadcrumb {
    breadcrumb.message = breadcrumb.message.map(|m| scrub_text(&m));
    scrub_map(&mut breadcrumb.data);
    breadcrumb
}

/// Keeps the method, the URL without credentials, query or fragment, and harmless headers.
fn scrub_request(request: Request) -> Request {
    let url = request.url.map(|mut url| {
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_query(None);
        url.set_fragment(None);
        url
    });
    let headers = request
        .headers
        .into_iter()
        .filter(|(name, _)| SAFE_HEADERS.contains(&name.to_ascii_lowercase().as_str()))
        .collect();
    Request {
        url,
        method: request.method,
        headers,
        ..Request::default()
    }
}

fn scrub_map(map: &mut ::sentry::protocol::Map<String, Value>) {
    for (name, value) in map.iter_mut() {
        if is_sensitive(name) {
            *value = Value::String(FILTERED.to_owned());
        } else {
            scrub_value(value);
        }
    }
}

fn scrub_value(value: &mut Value) {
    match value {
        Value::String(s) => *s = scrub_text(s),
        Value::Array(items) => items.iter_mut().for_each(scrub_value),
        Value::Object(map) => {
            for (name, value) in map.iter_mut() {
                if is_sensitive(name) {
                    *value = Value::String(FILTERED.to_owned());
                } else {
                    scrub_value(value);
                }
            }
        }
        _ => {}
    }
}

/// Free text (a message, an error's text): hides the word after `Bearer`/`Basic`, the value
/// of `name=value` and `name: value` when the name is sensitive, the credentials and query
/// of URLs, and long opaque strings that look like tokens or keys.
pub(crate) fn scrub_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut hide_next = false;
    for piece in split_keep_whitespace(text) {
        if piece.chars().all(char::is_whitespace) {
            out.push_str(piece);
            continue;
        }
        let bare = piece.trim_matches(|c: char| !c.is_alphanumeric() && c != '_');
        let lower = bare.to_ascii_lowercase();
        // After an authorization scheme comes the credential, even when the scheme itself
        // was hidden as the value of `Authorization:`.
        let scheme = lower == "bearer" || lower == "basic";
        if hide_next {
            out.push_str(FILTERED);
            hide_next = scheme;
            continue;
        }
        if scheme {
            hide_next = true;
            out.push_str(piece);
            continue;
        }
        // `password: hunter2`: the name ends the word, the value is the next word.
        if piece.ends_with(':') || piece.ends_with('=') {
            let name = piece.trim_end_matches([':', '=']);
            if is_sensitive(name.trim_matches(|c: char| !c.is_alphanumeric() && c != '_')) {
                hide_next = true;
                out.push_str(piece);
                continue;
            }
        }
        out.push_str(&scrub_word(piece));
    }
    out
}

fn split_keep_whitespace(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if in_space != Some(space) {
            if i > start {
                pieces.push(&text[start..i]);
            }
            start = i;
            in_space = Some(space);
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

fn scrub_word(word: &str) -> String {
    if let Some(scheme_end) = word.find("://") {
        return scrub_url(word, scheme_end);
    }
    if looks_like_token(word) {
        return FILTERED.to_owned();
    }
    // `a=1&token=abc;pwd=x`, `token:abc`, `"token":"abc"`.
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while !rest.is_empty() {
        let end = rest.find(['&', ';', ',']).unwrap_or(rest.len());
        let (pair, tail) = rest.split_at(end);
        out.push_str(&scrub_pair(pair));
        match tail.chars().next() {
            Some(sep) => {
                out.push(sep);
                rest = &tail[sep.len_utf8()..];
            }
            None => rest = tail,
        }
    }
    out
}

fn scrub_pair(pair: &str) -> String {
    if let Some(at) = pair.find(['=', ':']) {
        let name = pair[..at].trim_matches(|c: char| !c.is_alphanumeric() && c != '_');
        if is_sensitive(name) && at + 1 < pair.len() {
            return format!("{}{FILTERED}", &pair[..=at]);
        }
    }
    pair.to_owned()
}

/// `scheme://user:password@host/path?query` → `scheme://[Filtered]@host/path?[Filtered]`.
fn scrub_url(word: &str, scheme_end: usize) -> String {
    let (scheme, rest) = word.split_at(scheme_end + 3);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority: Cow<str> = match authority.rfind('@') {
        Some(at) => format!("{FILTERED}@{}", &authority[at + 1..]).into(),
        None => authority.into(),
    };
    let path: Cow<str> = match path.find(['?', '#']) {
        Some(q) => format!("{}{}{FILTERED}", &path[..q], &path[q..=q]).into(),
        None => path.into(),
    };
    format!("{scheme}{authority}{path}")
}

/// 20 or more characters of a token alphabet, mixing letters and digits: an access token,
/// a key, a hash. Words made only of letters (or only of digits) are left alone.
fn looks_like_token(word: &str) -> bool {
    let word =
        word.trim_matches(|c: char| matches!(c, '"' | '\'' | '(' | ')' | '[' | ']' | ',' | '.'));
    word.len() >= 20
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/' | '=' | '.'))
        && word.chars().any(|c| c.is_ascii_digit())
        && word.chars().any(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::sentry::protocol::{Exception, Map, User};

    #[test]
    fn text_hides_bearer_tokens_and_sensitive_pairs() {
        assert_eq!(
            scrub_text("Authorization: Bearer abc.def"),
            "Authorization: [Filtered] [Filtered]"
        );
        assert_eq!(
            scrub_text("got bearer xyz here"),
            "got bearer [Filtered] here"
        );
        assert_eq!(
            scrub_text("login failed password=hunter2 user=pdd"),
            "login failed password=[Filtered] user=pdd"
        );
        assert_eq!(
            scrub_text("a=1&access_token=s3cret;x=2"),
            "a=1&access_token=[Filtered];x=2"
        );
        assert_eq!(
            scrub_text("token: s3cret and more"),
            "token: [Filtered] and more"
        );
        assert_eq!(
            scrub_text(r#"{"token":"abc","n":1}"#),
            r#"{"token":[Filtered],"n":1}"#
        );
    }

    #[test]
    fn text_hides_url_credentials_and_query_strings() {
        assert_eq!(
            scrub_text("cannot reach mysql://pdd:hunter2@db:3306/pdd now"),
            "cannot reach mysql://[Filtered]@db:3306/pdd now"
        );
        assert_eq!(
            scrub_text("GET http://h/api/campaigns?token=abc#top"),
            "GET http://h/api/campaigns?[Filtered]"
        );
        assert_eq!(scrub_text("see http://h/a/b"), "see http://h/a/b");
    }

    #[test]
    fn text_hides_long_opaque_strings_but_keeps_ordinary_words() {
        assert_eq!(
            scrub_text("token Zm9vYmFyYmF6cXV4MTIzNDU2 rejected"),
            "token [Filtered] rejected"
        );
        assert_eq!(
            scrub_text("storage failure: connection refused (os error 111)"),
            "storage failure: connection refused (os error 111)"
        );
        assert_eq!(
            scrub_text("campaign 2018-05-12T00:00:00.000Z internationalisation"),
            "campaign 2018-05-12T00:00:00.000Z internationalisation"
        );
    }

    #[test]
    fn events_lose_bodies_cookies_credentials_queries_and_users() {
        let mut headers = Map::new();
        headers.insert("Authorization".to_owned(), "Bearer abc".to_owned());
        headers.insert("Cookie".to_owned(), "sid=1".to_owned());
        headers.insert("X-Forwarded-For".to_owned(), "81.2.69.160".to_owned());
        headers.insert("Content-Type".to_owned(), "application/json".to_owned());
        let mut extra = Map::new();
        extra.insert("api_token".to_owned(), Value::from("abc"));
        extra.insert("route".to_owned(), Value::from("/api/ping"));
        extra.insert(
            "nested".to_owned(),
            serde_json::json!({"password": "x", "items": ["password=y", 3]}),
        );
        let mut fields = Map::new();
        fields.insert("public_key".to_owned(), Value::from("123"));
        fields.insert("error".to_owned(), Value::from("bad password=hunter2"));
        let mut event = Event {
            message: Some("failed with Bearer abc".to_owned()),
            user: Some(User {
                ip_address: Some("81.2.69.160".parse().unwrap()),
                ..User::default()
            }),
            request: Some(Request {
                url: Some("https://u:p@example.org/api/x?token=abc#f".parse().unwrap()),
                method: Some("POST".to_owned()),
                data: Some(r#"{"encrypted_values":["1"]}"#.to_owned()),
                query_string: Some("token=abc".to_owned()),
                cookies: Some("sid=1".to_owned()),
                headers,
                ..Request::default()
            }),
            extra,
            ..Event::default()
        };
        event
            .contexts
            .insert("Rust Tracing Fields".to_owned(), Context::Other(fields));
        event.exception.values.push(Exception {
            ty: "Error".to_owned(),
            value: Some("token=abc".to_owned()),
            ..Exception::default()
        });
        event.tags.insert("session".to_owned(), "s".to_owned());
        event
            .tags
            .insert("route".to_owned(), "/api/ping".to_owned());

        let event = scrub_event(event);

        let request = event.request.as_ref().unwrap();
        assert_eq!(
            request.url.as_ref().unwrap().as_str(),
            "https://example.org/api/x"
        );
        assert_eq!(request.method.as_deref(), Some("POST"));
        assert_eq!(request.data, None);
        assert_eq!(request.query_string, None);
        assert_eq!(request.cookies, None);
        assert_eq!(
            request.headers.iter().collect::<Vec<_>>(),
            vec![(&"Content-Type".to_owned(), &"application/json".to_owned())]
        );
        assert!(event.user.is_none());
        assert_eq!(
            event.message.as_deref(),
            Some("failed with Bearer [Filtered]")
        );
        assert_eq!(
            event.exception.values[0].value.as_deref(),
            Some("token=[Filtered]")
        );
        assert_eq!(event.extra["api_token"], "[Filtered]");
        assert_eq!(event.extra["route"], "/api/ping");
        assert_eq!(
            event.extra["nested"],
            serde_json::json!({"password": "[Filtered]", "items": ["password=[Filtered]", 3]})
        );
        let Context::Other(fields) = &event.contexts["Rust Tracing Fields"] else {
            panic!("context kind changed");
        };
        assert_eq!(fields["public_key"], "[Filtered]");
        assert_eq!(fields["error"], "bad password=[Filtered]");
        assert_eq!(event.tags["session"], "[Filtered]");
        assert_eq!(event.tags["route"], "/api/ping");
    }

    #[test]
    fn an_invalid_dsn_is_an_error_that_does_not_repeat_it() {
        let err = init("nonsense-with-key-abc", "test").err().expect("fails");
        let text = format!("{err:#}");
        assert!(text.starts_with("invalid SENTRY_DSN"), "{text}");
        assert!(!text.contains("nonsense-with-key-abc"), "{text}");
        let err = check_dsn("nonsense-with-key-abc").expect_err("fails");
        assert!(!format!("{err:#}").contains("nonsense-with-key-abc"));
        check_dsn("https://public@o0.ingest.sentry.io/42").unwrap();
    }
}
