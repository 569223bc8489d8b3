//! Filters shared by the routes: state injection, size-limited JSON bodies, the bearer token
//! check, query parameters and the client's address.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use ipnet::IpNet;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use warp::http::header::{HeaderMap, AUTHORIZATION, CONTENT_LENGTH};
use warp::{Filter, Rejection};

use super::rejection::{invalid, reject, ApiError};
use super::ApiState;

pub fn with_state<S: Send + Sync + 'static>(
    state: &Arc<S>,
) -> impl Filter<Extract = (Arc<S>,), Error = Infallible> + Clone {
    let state = state.clone();
    warp::any().map(move || state.clone())
}

async fn read_limited(
    headers: HeaderMap,
    stream: impl Stream<Item = Result<impl Buf, warp::Error>>,
    limit: u64,
) -> Result<Bytes, Rejection> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(reject(ApiError::TooLarge(limit)));
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    let mut stream = std::pin::pin!(stream);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| reject(ApiError::Body(format!("unreadable: {e}"))))?;
        if (buf.len() + chunk.remaining()) as u64 > limit {
            return Err(reject(ApiError::TooLarge(limit)));
        }
        buf.put(chunk);
    }
    Ok(buf.freeze())
}

/// The body, at most `limit` bytes (413 beyond, whether or not a length was declared).
pub fn limited_body(limit: u64) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::header::headers_cloned()
        .and(warp::body::stream())
        .and_then(move |headers, stream| read_limited(headers, stream, limit))
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Rejection> {
    serde_json::from_slice(bytes).map_err(|e| reject(ApiError::Body(e.to_string())))
}

/// A JSON body of at most `limit` bytes, whatever its declared content type (the extension's
/// `fetch` may send JSON as `text/plain`).
pub fn json_body<T: DeserializeOwned + Send>(
    limit: u64,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    limited_body(limit).and_then(|bytes: Bytes| async move { parse_json::<T>(&bytes) })
}

/// Like `json_body`, but an empty body reads as the default.
pub fn optional_json_body<T: DeserializeOwned + Default + Send>(
    limit: u64,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    limited_body(limit).and_then(|bytes: Bytes| async move {
        if bytes.iter().all(u8::is_ascii_whitespace) {
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

pub fn client_ip(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Option<IpAddr>,), Error = Infallible> + Clone {
    let state = state.clone();
    warp::addr::remote()
        .and(warp::header::headers_cloned())
        .map(move |peer, headers: HeaderMap| client_ip_from(peer, &headers, &state.trusted_proxies))
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
