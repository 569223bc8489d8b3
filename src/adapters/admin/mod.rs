//! The admin interface, on its own port and never exposed publicly: health, ping, metrics (JSON
//! and Prometheus), server information, running a job now as if fired at a given time, and the
//! operator's console (`console`: HTML pages, each also JSON).

pub mod console;
pub mod history;
pub mod html;
pub mod pages;
pub mod svg;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use warp::filters::path::FullPath;
use warp::filters::BoxedFilter;
use warp::http::header::{HeaderMap, HeaderValue, ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use warp::http::{Method, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::adapters::http::dto::{format_time, parse_time};
use crate::adapters::http::filters::{limited_body, params, with_state, Params};
use crate::adapters::http::rejection::{self, errors_response, invalid, reject, ApiError};
use crate::adapters::http::routes::{classify_in, RouteSpec};
#[allow(unused_imports)] // named by the #[utoipa::path] attributes only
use crate::adapters::http::{
    dto::schema::TimeIn,
    openapi::{
        BadRequest, Forbidden, JobName, JobReportOut, MetricsOut, NotFound, PayloadTooLarge,
        RequestTimeout, Unavailable,
    },
};
use crate::adapters::metrics::registry::Registry;
use crate::domain::service::jobs::{JobKind, JobReport};
use crate::domain::service::Services;
use crate::domain::time::Calendar;
use crate::domain::time::{self, millis};
use crate::ports::{Clock, Storage};
use console::{Console, ConsoleState};

/// What `/admin/server_info` tells besides the uptime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    pub version: String,
    pub build: String,
    /// When the server started, read from the services' clock (the uptime is measured on it).
    pub start_time: DateTime<Utc>,
    /// Kinds of the adapters in use (`memory`, `none`, `registry`...).
    pub storage: String,
    pub geocoder: String,
    pub metrics: String,
}

/// What the admin interface works with, given when it is built.
pub struct AdminState {
    /// The jobs to run on demand.
    pub services: Services,
    /// Asked whether it answers, for `/health`.
    pub storage: Arc<dyn Storage>,
    /// The services' clock: a job's default firing time and the uptime are read on it.
    pub clock: Arc<dyn Clock>,
    pub registry: Arc<Registry>,
    pub info: ServerInfo,
}

impl AdminState {
    /// Now on the services' clock, to the millisecond as they work.
    fn now(&self) -> DateTime<Utc> {
        millis(self.clock.now())
    }
}

/// The admin routes by pattern (the OpenAPI description must name each, see `http::openapi`).
pub const ADMIN_ROUTES: &[RouteSpec] = &[
    ("GET", "/health", false),
    ("GET", "/admin/ping", false),
    ("GET", "/admin/metrics.json", false),
    ("GET", "/metrics", false),
    ("GET", "/admin/server_info", false),
    ("POST", "/admin/jobs/{job}", false),
    ("GET", "/admin", false),
    ("GET", "/admin/static/admin.css", false),
    ("GET", "/admin/logging", false),
    ("POST", "/admin/logging", false),
    ("GET", "/admin/metrics", false),
    ("GET", "/admin/campaigns", false),
    ("GET", "/admin/campaigns/{name}", false),
    ("GET", "/admin/clients", false),
    ("GET", "/admin/jobs", false),
];

/// Now, by the services' clock. The one place the admin interface reads the time.
fn now(state: &AdminState) -> DateTime<Utc> {
    state.now()
}

/// The reference zone's calendar.
fn calendar(state: &AdminState) -> Calendar {
    *state.services.jobs.calendar()
}

/// Whether the storage answers its health check.
async fn storage_answers(state: &AdminState) -> bool {
    state.storage.health().await.is_ok()
}

/// Every admin route with the console an application built in code has by default
/// (`Console::basic`).
pub fn admin_routes(state: AdminState) -> BoxedFilter<(Response,)> {
    let console = Console::basic(&state.services);
    admin_routes_with(state, console)
}

/// Every admin route; failures answered with `{"errors": [...]}`, or with a page showing them
/// to a client that prefers HTML (a browser); each request logged at debug level (health checks
/// and scrapes would drown the API's lines).
pub fn admin_routes_with(state: AdminState, console: Console) -> BoxedFilter<(Response,)> {
    let state = Arc::new(state);
    let console = Arc::new(ConsoleState {
        admin: state.clone(),
        pages: console.pages(),
        console,
    });
    let pages: Arc<[html::Nav]> = console.pages.clone().into();
    let routes = health(&state)
        .or(ping())
        .unify()
        .or(metrics_json(&state))
        .unify()
        .or(prometheus(&state))
        .unify()
        .or(server_info(&state))
        .unify()
        .or(run_job(&console))
        .unify()
        .or(console::routes(&console))
        .unify()
        .recover(rejection::recover)
        .unify();
    warp::any()
        .map(Instant::now)
        .and(warp::method())
        .and(warp::path::full())
        .and(warp::header::optional::<String>("accept"))
        .and(routes)
        .then(
            move |started: Instant,
                  method: Method,
                  path: FullPath,
                  accept: Option<String>,
                  res: Response| {
                let pages = pages.clone();
                async move {
                    let res = if html::wants_html(accept.as_deref()) {
                        error_page(res, &pages).await
                    } else {
                        res
                    };
                    (started, method, path, res)
                }
            },
        )
        .map(
            |(started, method, path, mut res): (Instant, Method, FullPath, Response)| {
                let matched = classify_in(ADMIN_ROUTES, &method, path.as_str());
                if res.status() == StatusCode::METHOD_NOT_ALLOWED {
                    if let Ok(allow) = HeaderValue::from_str(&matched.allow.join(", ")) {
                        res.headers_mut().insert(ALLOW, allow);
                    }
                }
                tracing::debug!(
                    method = %method,
                    route = matched.label(),
                    status = res.status().as_u16(),
                    latency_ms = %format_args!("{:.3}", started.elapsed().as_secs_f64() * 1000.0),
                    "admin request"
                );
                res
            },
        )
        .boxed()
}

/// An error answered as `{"errors": [...]}` turned into a page showing the messages (same
/// status and headers); any other answer as it is.
async fn error_page(res: Response, pages: &[html::Nav]) -> Response {
    let is_json = res
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !(res.status().is_client_error() || res.status().is_server_error()) || !is_json {
        return res;
    }
    let (parts, mut body) = res.into_parts();
    let mut bytes = Vec::new();
    while let Some(Ok(frame)) =
        std::future::poll_fn(|cx| hyper::body::Body::poll_frame(Pin::new(&mut body), cx)).await
    {
        if let Ok(data) = frame.into_data() {
            bytes.extend_from_slice(&data);
        }
    }
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<String>,
    }
    let errors = serde_json::from_slice::<Errors>(&bytes)
        .map(|e| e.errors)
        .unwrap_or_default();
    let mut page = html::html_response(
        parts.status,
        html::error_document(parts.status, &errors, pages),
    );
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH && !page.headers().contains_key(name) {
            page.headers_mut().insert(name, value.clone());
        }
    }
    page
}

fn text(status: StatusCode, body: &'static str) -> Response {
    warp::reply::with_status(body, status).into_response()
}

/// GET /health: 200 `OK` when the storage answers, 503 otherwise.
#[utoipa::path(
    get, path = "/health", tag = "admin",
    summary = "Whether the storage answers",
    responses(
        (status = 200, description = "`OK`", body = String, content_type = "text/plain"),
        (status = 503, response = Unavailable),
    ),
)]
fn health(
    state: &Arc<AdminState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("health")
        .and(warp::get())
        .and(with_state(state))
        .then(|state: Arc<AdminState>| async move {
            match state.storage.health().await {
                Ok(()) => text(StatusCode::OK, "OK"),
                Err(e) => {
                    tracing::warn!(error = %e, "health check: storage does not answer");
                    errors_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        &["storage: does not answer".to_string()],
                    )
                }
            }
        })
}

/// GET /admin/ping
#[utoipa::path(
    get, path = "/admin/ping", tag = "admin",
    summary = "Whether the server answers",
    responses((status = 200, description = "`pong`", body = String, content_type = "text/plain")),
)]
fn ping() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("admin" / "ping")
        .and(warp::get())
        .map(|| text(StatusCode::OK, "pong"))
}

/// GET /admin/metrics.json
#[utoipa::path(
    get, path = "/admin/metrics.json", tag = "admin",
    summary = "The metrics as JSON",
    responses((status = 200, description = "Metric name with its labels → value", body = MetricsOut)),
)]
fn metrics_json(
    state: &Arc<AdminState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("admin" / "metrics.json")
        .and(warp::get())
        .and(with_state(state))
        .map(|state: Arc<AdminState>| warp::reply::json(&state.registry.snapshot()).into_response())
}

/// GET /metrics: Prometheus text format.
#[utoipa::path(
    get, path = "/metrics", tag = "admin",
    summary = "The metrics in the Prometheus text format 0.0.4",
    responses((status = 200, description = "The metrics", body = String, content_type = "text/plain")),
)]
fn prometheus(
    state: &Arc<AdminState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("metrics")
        .and(warp::get())
        .and(with_state(state))
        .map(|state: Arc<AdminState>| {
            let mut res = Response::new(state.registry.prometheus().into());
            res.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            res
        })
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ServerInfo)]
struct ServerInfoOut<'a> {
    version: &'a str,
    build: &'a str,
    start_time: String,
    uptime_seconds: i64,
    storage: &'a str,
    geocoder: &'a str,
    metrics: &'a str,
}

/// GET /admin/server_info
#[utoipa::path(
    get, path = "/admin/server_info", tag = "admin",
    summary = "Version, build, uptime and the adapters in use",
    responses((status = 200, description = "The server", body = ServerInfoOut)),
)]
fn server_info(
    state: &Arc<AdminState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("admin" / "server_info")
        .and(warp::get())
        .and(with_state(state))
        .map(|state: Arc<AdminState>| {
            let info = &state.info;
            let now = now(&state);
            let out = ServerInfoOut {
                version: &info.version,
                build: &info.build,
                start_time: format_time(&info.start_time),
                uptime_seconds: (now - info.start_time).num_seconds().max(0),
                storage: &info.storage,
                geocoder: &info.geocoder,
                metrics: &info.metrics,
            };
            warp::reply::json(&out).into_response()
        })
}

/// A job report as JSON: its counts flattened, `failed` when non-empty, `interrupted` when true.
fn report_json(report: &JobReport) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (key, n) in &report.counts {
        map.insert((*key).to_string(), (*n).into());
    }
    if !report.failed.is_empty() {
        map.insert("failed".into(), report.failed.clone().into());
    }
    if report.interrupted {
        map.insert("interrupted".into(), true.into());
    }
    serde_json::Value::Object(map)
}

/// POST /admin/jobs/{job}[?at=T]: runs the job now, as if fired at T (default: now). `at` may
/// also come in a form body; a browser (preferring HTML) gets a page back, anyone else JSON.
#[utoipa::path(
    post, path = "/admin/jobs/{job}", tag = "admin",
    summary = "Run a nightly job now",
    description = "As if fired at `at` (default now), given in the query or in a form body. A \
        manual run neither waits for nor marks the scheduled firing. A browser (preferring \
        HTML) gets a page; anyone else the report as JSON.",
    params(
        ("job" = JobName, Path, description = "The job (an unknown one is 404)"),
        ("at" = Option<TimeIn>, Query, description = "An RFC 3339 time or epoch milliseconds"),
    ),
    request_body(content = Option<String>, content_type = "application/x-www-form-urlencoded",
        description = "`at=...`, when not in the query"),
    responses(
        (status = 200, description = "What the job did", content(
            (JobReportOut = "application/json"),
            (String = "text/html"),
        )),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ),
)]
fn run_job(
    state: &Arc<ConsoleState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("admin" / "jobs" / String)
        .and(warp::post())
        .and(params())
        .and(warp::header::headers_cloned())
        .and(limited_body(console::FORM_LIMIT))
        .and(with_state(state))
        .and_then(
            |job: String,
             params: Params,
             headers: HeaderMap,
             body: bytes::Bytes,
             state: Arc<ConsoleState>| async move {
                let Ok(kind) = job.parse::<JobKind>() else {
                    let names: Vec<&str> = JobKind::ALL.iter().map(|j| j.name()).collect();
                    return Err(reject(ApiError::NotFound(format!(
                        "unknown job; jobs are {}",
                        names.join(", ")
                    ))));
                };
                if console::cross_site(&headers) {
                    return Ok(console::forbidden_cross_site());
                }
                let at = match console::field(&params, &headers, &body, "at") {
                    None => now(&state.admin),
                    Some(t) => match parse_time(&t) {
                        Some(t) if time::in_range(t) => t,
                        Some(_) => return Err(invalid("at", time::TIME_RANGE_MESSAGE)),
                        None => {
                            return Err(invalid(
                                "at",
                                "should be an RFC 3339 time or epoch milliseconds",
                            ))
                        }
                    },
                };
                let report = state
                    .admin
                    .services
                    .jobs
                    .run(kind, at)
                    .await
                    .map_err(reject)?;
                let accept = headers.get("accept").and_then(|v| v.to_str().ok());
                Ok::<_, Rejection>(if html::wants_html(accept) {
                    let page = pages::jobs::render_report(kind, &at, &report, &state.pages);
                    html::html_response(StatusCode::OK, page)
                } else {
                    warp::reply::json(&report_json(&report)).into_response()
                })
            },
        )
}
