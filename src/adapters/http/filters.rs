//! Filters shared by the routes: state injection, size- and time-limited JSON bodies of bounded
//! depth, the bearer token check, query parameters, the client's address and its rate limits.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use ipnet::IpNet;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use warp::http::header::{HeaderMap, AUTHORIZATION, CONTENT_LENGTH};
use warp::{Filter, Rejection};

use super::ratelimit::RateLimiter;
use super::rejection::{invalid, reject, ApiError};
use super::ApiState;

/// Deepest nesting of arrays and objects accepted in a JSON body. The deepest shape the API
/// reads is 4 levels (`{"vocabulary": {"queries": [{"terms": [...]}]}}`); unknown fields may
/// nest further (the extension sends its whole local state when it registers again), but not
/// without end.
pub const MAX_JSON_DEPTH: usize = 32;

pub fn with_state<S: Send + Sync + 'static>(
    state: &Arc<S>,
) -> impl Filter<Extract = (Arc<S>,), Error = Infallible> + Clone {
    let state = state.clone();
    warp::any().map(move || state.clone())
}

/// How much of a body to read, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit {
    pub bytes: u64,
    pub timeout: Duration,
}

async fn read_limited(
    headers: HeaderMap,
    stream: impl Stream<Item = Result<impl Buf, warp::Error>>,
    limit: BodyLimit,
) -> Result<Bytes, Rejection> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit.bytes) {
        return Err(reject(ApiError::TooLarge(limit.bytes)));
    }
    let read = async {
        let mut buf = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
        let mut stream = std::pin::pin!(stream);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| reject(ApiError::Body(format!("unreadable: {e}"))))?;
            if (buf.len() + chunk.remaining()) as u64 > limit.bytes {
                return Err(reject(ApiError::TooLarge(limit.bytes)));
            }
            buf.put(chunk);
        }
        Ok(buf.freeze())
    };
    tokio::time::timeout(limit.timeout, read)
        .await
        .unwrap_or_else(|_| Err(reject(ApiError::BodyTimeout(limit.timeout))))
}

/// The body, at most `limit.bytes` (413 beyond, whether or not a length was declared), in at
/// most `limit.timeout` (408 beyond: a client trickling its body must not hold a connection).
pub fn limited_body(
    limit: BodyLimit,
) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::header::headers_cloned()
        .and(warp::body::stream())
        .and_then(move |headers, stream| read_limited(headers, stream, limit))
}

/// Whether arrays and objects nest deeper than `max` anywhere in `json` (brackets inside
/// strings do not count). One pass, no allocation: run before parsing so that no parser, skipping
/// or not, ever walks an absurd depth.
pub fn nested_deeper_than(json: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Rejection> {
    if nested_deeper_than(bytes, MAX_JSON_DEPTH) {
        return Err(reject(ApiError::Body(format!(
            "nested deeper than {MAX_JSON_DEPTH} levels"
        ))));
    }
    super::dto::from_json_slice(bytes).map_err(|e| reject(ApiError::Body(e.to_string())))
}

/// A JSON body within `limit`, whatever its declared content type (the extension's `fetch` may
/// send JSON as `text/plain`).
pub fn json_body<T: DeserializeOwned + Send>(
    limit: BodyLimit,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    limited_body(limit).and_then(|bytes: Bytes| async move { parse_json::<T>(&bytes) })
}

/// Like `json_body`, but an empty body, or `null` (which means absent), reads as the default.
pub fn optional_json_body<T: DeserializeOwned + Default + Send>(
    limit: BodyLimit,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    limited_body(limit).and_then(|bytes: Bytes| async move {
        if bytes.trim_ascii().is_empty() || bytes.trim_ascii() == b"null" {
            Ok(T::default())
        } else {
            parse_json::<T>(&bytes)
        }
    })
}

/// Query parameters, in order. Unknown ones are the caller's to ignore.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter: `true`/`false` in any case, or `1`/`0`.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, Rejection> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(None),
            Some("true") | Some("1") => Ok(Some(true)),
            Some("false") | Some("0") => Ok(Some(false)),
            Some(_) => Err(invalid(name, "should be true or false")),
        }
    }

    /// A non-negative integer parameter.
    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Rejection> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| invalid(name, "should be a non-negative integer")),
        }
    }
}

/// The query parameters (400 when the query string is not URL-encoded pairs).
pub fn params() -> impl Filter<Extract = (Params,), Error = Rejection> + Clone {
    warp::query::<Vec<(String, String)>>().map(Params)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Constant-time in the content of the tokens (their lengths are not secret).
fn same_token(given: &str, expected: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// Requires the access token in `Authorization: Bearer` or in `access_token` (401 otherwise).
/// Put it after the path and method filters so unknown paths still answer 404.
pub fn auth(state: &Arc<ApiState>) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    let state = state.clone();
    warp::header::headers_cloned()
        .and(params())
        .and_then(move |headers: HeaderMap, params: Params| {
            let state = state.clone();
            async move {
                let expected = state.access_token.expose_secret();
                let ok = [bearer(&headers), params.get("access_token")]
                    .into_iter()
                    .flatten()
                    .any(|given| same_token(given, expected));
                if ok {
                    Ok(())
                } else {
                    Err(reject(ApiError::Unauthorized))
                }
            }
        })
        .untuple_one()
}

fn trusted(proxies: &[IpNet], ip: IpAddr) -> bool {
    proxies.iter().any(|net| net.contains(&ip))
}

/// The client's address: the socket peer, or, when the peer is a trusted proxy, the right-most
/// `X-Forwarded-For` address that is not itself a trusted proxy.
pub fn client_ip_from(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    proxies: &[IpNet],
) -> Option<IpAddr> {
    let mut ip = peer?.ip().to_canonical();
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    for entry in forwarded.into_iter().rev() {
        if !trusted(proxies, ip) {
            break;
        }
        match entry.trim().parse::<IpAddr>() {
            Ok(next) => ip = next.to_canonical(),
            Err(_) => break,
        }
    }
    Some(ip)
}

/// The socket peer of a connection, put in each request's extensions by the server's own
/// accept loop (`app::serve`); warp's own `remote()` is filled only by `warp::serve` and
/// `warp::test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// The socket peer, wherever the server put it.
pub fn peer() -> impl Filter<Extract = (Option<SocketAddr>,), Error = Infallible> + Clone {
    warp::ext::optional::<PeerAddr>()
        .and(warp::addr::remote())
        .map(|ours: Option<PeerAddr>, warps: Option<SocketAddr>| ours.map(|p| p.0).or(warps))
}

pub fn client_ip(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Option<IpAddr>,), Error = Infallible> + Clone {
    let state = state.clone();
    peer()
        .and(warp::header::headers_cloned())
        .map(move |peer, headers: HeaderMap| client_ip_from(peer, &headers, &state.trusted_proxies))
}

/// The client's address, after taking one request from its bucket in `limiter` (429 with
/// `Retry-After` when there is none left). A request without a known address is not limited.
pub fn rate_limited(
    state: &Arc<ApiState>,
    limiter: Arc<RateLimiter>,
) -> impl Filter<Extract = (Option<IpAddr>,), Error = Rejection> + Clone {
    client_ip(state).and_then(move |ip: Option<IpAddr>| {
        let result = match ip {
            Some(addr) => limiter
                .check(addr, Instant::now())
                .map(|()| ip)
                .map_err(|wait| reject(ApiError::TooManyRequests(wait))),
            None => Ok(None),
        };
        futures::future::ready(result)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderValue;

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarded_address_is_used_only_behind_trusted_proxies() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = |s: &str| Some(SocketAddr::new(s.parse().unwrap(), 5000));
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_ip_from(peer("198.51.100.1"), &xff(&["203.0.113.9"]), &proxies),
            ip("198.51.100.1")
        );
        // Right-most untrusted address; a spoofed left part is not believed.
        assert_eq!(
            client_ip_from(
                peer("10.0.0.2"),
                &xff(&["1.2.3.4, 203.0.113.9", "10.0.0.7"]),
                &proxies
            ),
            ip("203.0.113.9")
        );
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(
            client_ip_from(peer("10.0.0.2"), &xff(&["unknown"]), &proxies),
            ip("10.0.0.2")
        );
        // IPv4-mapped IPv6 peers are seen as IPv4.
        assert_eq!(
            client_ip_from(peer("::ffff:10.0.0.2"), &xff(&["203.0.113.9"]), &proxies),
            ip("203.0.113.9")
        );
        assert_eq!(client_ip_from(None, &xff(&["203.0.113.9"]), &proxies), None);
    }

    #[test]
    fn nesting_depth_counts_brackets_outside_strings_only() {
        assert!(!nested_deeper_than(br#"{"a": [1, {"b": []}]}"#, 4));
        assert!(nested_deeper_than(br#"{"a": [1, {"b": []}]}"#, 3));
        assert!(!nested_deeper_than(br#"{"a": "[[[[[[{{{{"}"#, 1));
        assert!(!nested_deeper_than(br#"{"a": "\"[[[["}"#, 1));
        assert!(!nested_deeper_than(br#"{"a": "\\"}"#, 1));
        assert!(nested_deeper_than(br#"{"a": "\\", "b": [[]]}"#, 2));
        assert!(!nested_deeper_than(b"]]]]}}}}[", 1));
        assert!(!nested_deeper_than(b"", 0));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer abc"));
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abd", "abc"));
        assert!(!same_token("ab", "abc"));
    }
}
