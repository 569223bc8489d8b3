//! The public API (browser extension, CORS, no token) and the private API (dashboard, bearer
//! token) over warp. Routes live in `public` and `private`, shapes in `dto`, the mapping of
//! failures to statuses in `rejection`; this module joins them and wraps the whole with the
//! per-request log line, metrics and CORS headers.

pub mod compress;
pub mod dto;
mod export;
pub mod filters;
pub mod openapi;
mod private;
mod public;
pub mod ratelimit;
pub mod rejection;
pub mod routes;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use secrecy::SecretString;
use warp::filters::path::FullPath;
use warp::filters::BoxedFilter;
use warp::http::header::{self, HeaderMap, HeaderValue};
use warp::http::{Method, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::domain::service::Services;
use crate::ports::Metrics;

pub use ratelimit::Rate;
pub use routes::{classify, RouteMatch};

/// Limits on what one request may ask of the server. The defaults are those of the settings
/// (`http.body_timeout`, `http.rate_limit.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Public routes (registration, ping, sketch submission). The default, 2 MiB, holds a
    /// submission of 10,001 encrypted values of 100 digits plus as many raw values.
    pub public_body_bytes: u64,
    /// Private routes (campaigns). The default, 8 MiB, holds a vocabulary of 10,000 queries of
    /// several long terms each.
    pub private_body_bytes: u64,
    /// How long a client may take to send a body once its headers are in (408 beyond).
    pub body_timeout: Duration,
    /// Registrations (`POST /api/clients`) per client address.
    pub register_rate: Rate,
    /// Pings (`GET|POST /api/clients/{name}/ping`) per client address.
    pub ping_rate: Rate,
    /// Answers 404 for a path no route has, and 405, per client address: beyond it they are
    /// 429 (a flood of them is throttled like the routes above).
    pub unknown_route_rate: Rate,
}

impl Limits {
    /// The default limits without any rate limit.
    pub fn unlimited_rates() -> Self {
        Limits {
            register_rate: Rate::OFF,
            ping_rate: Rate::OFF,
            unknown_route_rate: Rate::OFF,
            ..Limits::default()
        }
    }
}

/// 10 registrations a minute per address, 20 at once: a household or an office behind one
/// address registers a few browsers, not hundreds.
pub const DEFAULT_REGISTER_RATE: Rate = Rate {
    per_minute: 10,
    burst: 20,
};
/// 60 pings a minute per address, 120 at once: each client pings about once a day, spread over
/// an hour, so this leaves room for thousands of clients behind one NAT.
pub const DEFAULT_PING_RATE: Rate = Rate {
    per_minute: 60,
    burst: 120,
};
/// 60 unknown routes or wrong methods a minute per address, 120 at once
/// (`http.rate_limit.unknown*`): no client of the API asks for them, so this only stops scans
/// and floods.
pub const DEFAULT_UNKNOWN_ROUTE_RATE: Rate = Rate {
    per_minute: 60,
    burst: 120,
};
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for Limits {
    fn default() -> Self {
        Limits {
            public_body_bytes: 2 * 1024 * 1024,
            private_body_bytes: 8 * 1024 * 1024,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            register_rate: DEFAULT_REGISTER_RATE,
            ping_rate: DEFAULT_PING_RATE,
            unknown_route_rate: DEFAULT_UNKNOWN_ROUTE_RATE,
        }
    }
}

/// Everything the API routes need.
pub struct ApiState {
    pub services: Services,
    /// Bearer token of the private API.
    pub access_token: SecretString,
    pub metrics: Arc<dyn Metrics>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    pub limits: Limits,
}

/// Every public and private route, failures answered with `{"errors": [...]}`, one log line
/// and one metric per request, CORS headers on the public routes only.
pub fn api_routes(state: ApiState) -> BoxedFilter<(Response,)> {
    let state = Arc::new(state);
    let metrics = state.metrics.clone();
    let unknown = Arc::new(ratelimit::RateLimiter::new(state.limits.unknown_route_rate));
    let api = public::routes(&state)
        .or(private::routes(&state))
        .unify()
        .recover(rejection::recover)
        .unify();
    let routes = warp::any()
        .map(Instant::now)
        .and(warp::method())
        .and(warp::path::full())
        .and(warp::header::headers_cloned())
        .and(filters::client_ip(&state))
        .and(api)
        .map(
            move |started: Instant,
                  method: Method,
                  path: FullPath,
                  headers: HeaderMap,
                  ip: Option<std::net::IpAddr>,
                  mut res: Response| {
                let matched = classify(&method, path.as_str());
                let unknown_route = res.status() == StatusCode::METHOD_NOT_ALLOWED
                    || (res.status() == StatusCode::NOT_FOUND && matched.pattern.is_none());
                if let (true, Some(ip)) = (unknown_route, ip) {
                    if let Err(wait) = unknown.check(ip, started) {
                        res = rejection::api_response(&rejection::ApiError::TooManyRequests(wait));
                    }
                }
                if matched.public {
                    add_cors(&mut res, &headers);
                }
                if res.status() == StatusCode::METHOD_NOT_ALLOWED {
                    if let Ok(allow) = HeaderValue::from_str(&matched.allow.join(", ")) {
                        res.headers_mut().insert(header::ALLOW, allow);
                    }
                }
                let latency = started.elapsed();
                let status = res.status().as_u16();
                // Never the concrete path or query: names identify people, and the query may
                // hold the access token.
                tracing::info!(
                    method = %method,
                    route = matched.label(),
                    status,
                    latency_ms = %format_args!("{:.3}", latency.as_secs_f64() * 1000.0),
                    "request"
                );
                metrics.http_request(matched.label(), method.as_str(), status, latency);
                let accept = headers
                    .get(header::ACCEPT_ENCODING)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                (accept, res)
            },
        );
    routes.untuple_one().then(compress::maybe_gzip).boxed()
}

/// `value` as JSON with `status`.
pub(crate) fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    warp::reply::with_status(warp::reply::json(value), status).into_response()
}

pub(crate) fn no_content() -> Response {
    let mut res = Response::default();
    *res.status_mut() = StatusCode::NO_CONTENT;
    res
}

const CORS_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";

/// Echoes the request's origin and allows the methods and headers it asks for.
fn add_cors(res: &mut Response, request: &HeaderMap) {
    let headers = res.headers_mut();
    if let Some(origin) = request.get(header::ORIGIN) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(CORS_METHODS),
    );
    if let Some(asked) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}
