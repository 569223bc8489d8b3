//! The operator's console: the HTML pages of the admin port (each also JSON by `Accept`), what
//! they read beyond the admin state (`Console`), and the forms' POST handling. A page whose
//! source this server lacks is neither routed nor in the navigation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use warp::filters::BoxedFilter;
use warp::http::header::{HeaderMap, CONTENT_TYPE, HOST, ORIGIN};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::history::MetricsHistory;
use super::html::{
    form_pairs, page, percent_decode, see_other, stylesheet_response, wants_html, Nav,
};
use super::pages::campaigns::{self, CampaignSource};
use super::pages::clients::{self, ClientSource};
use super::pages::jobs::{self, JobHistory};
use super::pages::logging::{self, LevelChange, LogLevelControl};
use super::pages::metrics;
use super::pages::overview::{self, Connections, OverviewInputs};
use super::{calendar, now, storage_answers, AdminState};
use crate::adapters::http::filters::{limited_body, params, with_state, BodyLimit, Params};
#[allow(unused_imports)] // named by the #[utoipa::path] attributes only
use crate::adapters::http::openapi::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, RequestTimeout, Unavailable,
};
use crate::adapters::http::rejection::{errors_response, invalid, reject, ApiError};
use crate::config::LogLevel;
use crate::domain::service::jobs::JobKind;
use crate::domain::service::Services;

/// Connections open now on each listener, counted by the server loop.
#[derive(Debug, Clone, Default)]
pub struct OpenConnections {
    pub api: Arc<AtomicUsize>,
    pub admin: Arc<AtomicUsize>,
}

impl OpenConnections {
    fn read(&self) -> Connections {
        Connections {
            api: self.api.load(Ordering::Relaxed),
            admin: self.admin.load(Ordering::Relaxed),
        }
    }
}

/// What the console's pages read besides the admin state.
pub struct Console {
    /// The metrics history, filled by `history::run_sampler`.
    pub history: Arc<MetricsHistory>,
    /// Clock seconds per real second.
    pub speed: u32,
    pub logging: Option<Arc<dyn LogLevelControl>>,
    pub connections: Option<OpenConnections>,
    pub campaigns: Option<Arc<dyn CampaignSource>>,
    pub clients: Option<Arc<dyn ClientSource>>,
    pub jobs: Option<Arc<dyn JobHistory>>,
}

impl Console {
    /// What an application built in code has without more: the campaign, client and job pages
    /// from the services, an empty history, no log control, no connection count.
    pub fn basic(services: &Services) -> Console {
        Console {
            history: Arc::new(MetricsHistory::default()),
            speed: 1,
            logging: None,
            connections: None,
            campaigns: Some(Arc::new(services.campaigns.clone())),
            clients: Some(Arc::new(services.clients.clone())),
            jobs: Some(Arc::new(services.jobs.clone())),
        }
    }

    /// The pages this console offers, in navigation order.
    pub fn pages(&self) -> Vec<Nav> {
        Nav::ALL
            .into_iter()
            .filter(|p| match p {
                Nav::Jobs => self.jobs.is_some(),
                Nav::Campaigns => self.campaigns.is_some(),
                Nav::Clients => self.clients.is_some(),
                Nav::Overview | Nav::Logging | Nav::Metrics => true,
            })
            .collect()
    }
}

pub struct ConsoleState {
    pub admin: Arc<AdminState>,
    pub console: Console,
    pub pages: Vec<Nav>,
}

/// Bodies of the console's forms: small, and quick to arrive.
pub const FORM_LIMIT: BodyLimit = BodyLimit {
    bytes: 4096,
    timeout: Duration::from_secs(10),
};

/// How long the overview waits for the storage to answer its health check.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

type Accept = Option<String>;

fn accept() -> impl Filter<Extract = (Accept,), Error = Rejection> + Clone {
    warp::header::optional::<String>("accept")
}

/// A POST from a page of another origin (a form on some web site the operator visits, aimed at
/// the admin port): browsers say so in `Origin` or `Sec-Fetch-Site`; scripts send neither.
/// An opaque `Origin: null` (sent under some referrer policies) counts as this origin only when
/// `Sec-Fetch-Site` says `same-origin`.
pub fn cross_site(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let fetch_site = header("sec-fetch-site");
    if let Some(origin) = header(ORIGIN.as_str()).filter(|o| *o != "null") {
        let host = headers.get(HOST).and_then(|v| v.to_str().ok());
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        return authority.is_none() || authority != host;
    }
    if header(ORIGIN.as_str()) == Some("null") {
        return fetch_site != Some("same-origin");
    }
    matches!(fetch_site, Some("cross-site" | "same-site"))
}

pub fn forbidden_cross_site() -> Response {
    errors_response(
        StatusCode::FORBIDDEN,
        &["cross-site request refused: use the console's own pages or a script".to_string()],
    )
}

/// A field of a POST: from the query string, else from a form body.
pub fn field(params: &Params, headers: &HeaderMap, body: &[u8], name: &str) -> Option<String> {
    if let Some(v) = params.get(name) {
        return Some(v.to_string());
    }
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return None;
    }
    form_pairs(body)
        .into_iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Whether the client of a POST wants a page back (a browser's form) rather than JSON.
pub fn wants_page(accept: &Accept) -> bool {
    wants_html(accept.as_deref())
}

fn not_routed() -> BoxedFilter<(Response,)> {
    warp::any()
        .and_then(|| async { Err::<Response, _>(warp::reject::not_found()) })
        .boxed()
}

/// Every page of the console.
pub fn routes(state: &Arc<ConsoleState>) -> BoxedFilter<(Response,)> {
    let campaign_pages = if state.console.campaigns.is_some() {
        campaigns_page(state)
            .or(campaign_page(state))
            .unify()
            .boxed()
    } else {
        not_routed()
    };
    let clients = if state.console.clients.is_some() {
        clients_page(state).boxed()
    } else {
        not_routed()
    };
    let jobs = if state.console.jobs.is_some() {
        jobs_page(state).boxed()
    } else {
        not_routed()
    };
    overview_page(state)
        .or(stylesheet())
        .unify()
        .or(logging_page(state))
        .unify()
        .or(set_level(state))
        .unify()
        .or(metrics_page(state))
        .unify()
        .or(campaign_pages)
        .unify()
        .or(clients)
        .unify()
        .or(jobs)
        .unify()
        .boxed()
}

#[utoipa::path(
    get, path = "/admin/static/admin.css", tag = "admin",
    summary = "The console's stylesheet",
    responses((status = 200, description = "The stylesheet", body = String, content_type = "text/css")),
)]
fn stylesheet() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("admin" / "static" / "admin.css")
        .and(warp::get())
        .map(stylesheet_response)
}

/// GET /admin
#[utoipa::path(
    get, path = "/admin", tag = "admin",
    summary = "The console's overview",
    description = "An HTML page, or its model as JSON when `Accept` prefers `application/json`.",
    responses(
        (status = 200, description = "The page", content(
            (overview::Overview = "application/json"),
            (String = "text/html"),
        )),
    ),
)]
fn overview_page(
    state: &Arc<ConsoleState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("admin")
        .and(warp::get())
        .and(accept())
        .and(with_state(state))
        .then(|accept: Accept, state: Arc<ConsoleState>| async move {
            let now = now(&state.admin);
            let reachable = tokio::time::timeout(HEALTH_TIMEOUT, storage_answers(&state.admin))
                .await
                .unwrap_or(false);
            let schema_version = if reachable {
                tokio::time::timeout(HEALTH_TIMEOUT, state.admin.storage.schema_version())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .flatten()
            } else {
                None
            };
            let window = state
                .console
                .history
                .window(now - chrono::Duration::hours(1));
            let calendar = calendar(&state.admin);
            let model = overview::overview(OverviewInputs {
                info: &state.admin.info,
                now,
                storage_reachable: reachable,
                schema_version,
                connections: state.console.connections.as_ref().map(|c| c.read()),
                calendar: &calendar,
                speed: state.console.speed,
                history: &window,
            });
            page(accept.as_deref(), &model, |m| {
                overview::render(m, &state.pages)
            })
        })
}

/// GET /admin/logging
#[utoipa::path(
    get, path = "/admin/logging", tag = "admin",
    summary = "The log level",
    description = "An HTML page, or its model as JSON when `Accept` prefers `application/json`.",
    responses(
        (status = 200, description = "The page", content(
            (logging::Logging = "application/json"),
            (String = "text/html"),
        )),
    ),
)]
fn logging_page(
    state: &Arc<ConsoleState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("admin" / "logging")
        .and(warp::get())
        .and(accept())
        .and(with_state(state))
        .map(|accept: Accept, state: Arc<ConsoleState>| {
            let model = logging::logging(state.console.logging.as_deref());
            page(accept.as_deref(), &model, |m| {
                logging::render(m, &state.pages)
            })
        })
}

/// POST /admin/logging?level=L (or a form's `level`): applies it at once; a browser is sent
/// back to the page, a script gets `{"level", "previous"}`.
#[utoipa::path(
    post, path = "/admin/logging", tag = "admin",
    summary = "Change the log level at once",
    description = "`level` in the query or in a form body. A browser (preferring HTML) is sent \
        back to the page; a script gets the new and the previous level.",
    params(("level" = Option<String>, Query,
        pattern = "^(ALL|TRACE|DEBUG|INFO|WARN|ERROR|OFF)$", description = "The new level")),
    request_body(content = Option<String>, content_type = "application/x-www-form-urlencoded",
        description = "`level=INFO`, when not in the query"),
    responses(
        (status = 200, description = "Changed", body = logging::LevelChange),
        (status = 303, description = "Changed; back to the page (a browser)",
            headers(("Location" = String, description = "`/admin/logging`"))),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
    ),
)]
fn set_level(
    state: &Arc<ConsoleState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("admin" / "logging")
        .and(warp::post())
        .and(params())
        .and(warp::header::headers_cloned())
        .and(accept())
        .and(limited_body(FORM_LIMIT))
        .and(with_state(state))
        .and_then(
            |params: Params,
             headers: HeaderMap,
             accept: Accept,
             body: bytes::Bytes,
             state: Arc<ConsoleState>| async move {
                if cross_site(&headers) {
                    return Ok(forbidden_cross_site());
                }
                let expected = "should be one of ALL, TRACE, DEBUG, INFO, WARN, ERROR, OFF";
                let level: LogLevel = field(&params, &headers, &body, "level")
                    .ok_or_else(|| invalid("level", expected))?
                    .parse()
                    .map_err(|_| invalid("level", expected))?;
                let Some(control) = &state.console.logging else {
                    return Err(reject(ApiError::NotFound(
                        "the log level of this process cannot be changed from here".into(),
                    )));
                };
                let previous = control.level();
                if let Err(e) = control.set_level(level) {
                    tracing::error!(error = %e, "cannot change the log level");
                    return Ok(errors_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &["internal server error".to_string()],
                    ));
                }
                Ok::<_, Rejection>(if wants_page(&accept) {
                    see_other("/admin/logging")
                } else {
                    warp::reply::json(&LevelChange {
                        level: level.as_str(),
                        previous: previous.as_str(),
                    })
                    .into_response()
                })
            },
        )
}

/// GET /admin/metrics
#[utoipa::path(
    get, path = "/admin/metrics", tag = "admin",
    summary = "The metrics of the last day, charted",
    description = "An HTML page, or its model as JSON when `Accept` prefers `application/json`.",
    responses(
        (status = 200, description = "The page", content(
            (metrics::MetricsPage = "application/json"),
            (String = "text/html"),
        )),
    ),
)]
fn metrics_page(
    state: &Arc<ConsoleState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("admin" / "metrics")
        .and(warp::get())
        .and(accept())
        .and(with_state(state))
        .map(|accept: Accept, state: Arc<ConsoleState>| {
            let now = now(&state.admin);
            let window = state
                .console
                .history
                .window(now - chrono::Duration::days(1));
            let model = metrics::metrics_page(&window, now);
            page(accept.as_deref(), &model, |m| {
                metrics::render(m, &state.pages)
            })
        })
}

/// GET /admin/campaigns
#[utoipa::path(
    get, path = "/admin/campaigns", tag = "admin",
    summary = "The campaigns and their latest figures",
    description = "An HTML page, or its model as JSON when `Accept` prefers `application/json`.",
    responses(
        (status = 200, description = "The page", content(
            (campaigns::CampaignsPage = "application/json"),
            (String = "text/html"),
        )),
        (status = 503, response = Unavailable),
    ),
)]
fn campaigns_page(
    state: &Arc<ConsoleState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("admin" / "campaigns")
        .and(warp::get())
        .and(accept())
        .and(with_state(state))
        .and_then(|accept: Accept, state: Arc<ConsoleState>| async move {
            let Some(source) = &state.console.campaigns else {
                return Err(warp::reject::not_found());
            };
            let all = source.campaigns().await.map_err(reject)?;
            let model = campaigns::campaigns_page(&all, &calendar(&state.admin), now(&state.admin));
            Ok::<_, Rejection>(page(accept.as_deref(), &model, |m| {
                campaigns::render_list(m, &state.pages)
            }))
        })
}

/// GET /admin/campaigns/{name}
#[utoipa::path(
    get, path = "/admin/campaigns/{name}", tag = "admin",
    summary = "One campaign's settings and daily figures",
    description = "An HTML page, or its model as JSON when `Accept` prefers `application/json`.",
    params(("name" = String, Path, description = "The campaign's name")),
    responses(
        (status = 200, description = "The page", content(
            (campaigns::CampaignPage = "application/json"),
            (String = "text/html"),
        )),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
fn campaign_page(
    state: &Arc<ConsoleState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("admin" / "campaigns" / String)
        .and(warp::get())
        .and(accept())
        .and(with_state(state))
        .and_then(
            |name: String, accept: Accept, state: Arc<ConsoleState>| async move {
                let Some(source) = &state.console.campaigns else {
                    return Err(warp::reject::not_found());
                };
                let name = percent_decode(&name, false);
                let figures = source.campaign(&name).await.map_err(reject)?;
                let model =
                    campaigns::campaign_page(&figures, &calendar(&state.admin), now(&state.admin));
                Ok::<_, Rejection>(page(accept.as_deref(), &model, |m| {
                    campaigns::render_one(m, &state.pages)
                }))
            },
        )
}

/// GET /admin/clients
#[utoipa::path(
    get, path = "/admin/clients", tag = "admin",
    summary = "Registrations and activity by day, countries, extension versions",
    description = "An HTML page, or its model as JSON when `Accept` prefers `application/json`. \
        404 when this server's console has no source for the page (an application built in code without one).",
    responses(
        (status = 200, description = "The page", content(
            (clients::ClientsPage = "application/json"),
            (String = "text/html"),
        )),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
fn clients_page(
    state: &Arc<ConsoleState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("admin" / "clients")
        .and(warp::get())
        .and(accept())
        .and(with_state(state))
        .and_then(|accept: Accept, state: Arc<ConsoleState>| async move {
            let Some(source) = &state.console.clients else {
                return Err(warp::reject::not_found());
            };
            let now = now(&state.admin);
            let calendar = calendar(&state.admin);
            // The days before today, and today when counted early (by a run asked as of a
            // later time): the page keeps the last `DAYS` of them.
            let to = calendar.local_date(now);
            let from = to - chrono::Duration::days(i64::from(clients::DAYS));
            let figures = source.client_figures(from, to).await.map_err(reject)?;
            let model = clients::clients_page(&figures, calendar.time_zone().name(), now);
            Ok::<_, Rejection>(page(accept.as_deref(), &model, |m| {
                clients::render(m, &state.pages)
            }))
        })
}

/// GET /admin/jobs
#[utoipa::path(
    get, path = "/admin/jobs", tag = "admin",
    summary = "The nightly jobs' schedule and latest runs",
    description = "An HTML page, or its model as JSON when `Accept` prefers `application/json`. \
        404 when this server's console has no source for the page (an application built in code without one).",
    responses(
        (status = 200, description = "The page", content(
            (jobs::JobsPage = "application/json"),
            (String = "text/html"),
        )),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
fn jobs_page(
    state: &Arc<ConsoleState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("admin" / "jobs")
        .and(warp::get())
        .and(accept())
        .and(with_state(state))
        .and_then(|accept: Accept, state: Arc<ConsoleState>| async move {
            let Some(source) = &state.console.jobs else {
                return Err(warp::reject::not_found());
            };
            let mut runs = Vec::with_capacity(JobKind::ALL.len());
            for job in JobKind::ALL {
                runs.push(source.job_runs(job, jobs::RUNS).await.map_err(reject)?);
            }
            let model = jobs::jobs_page(runs, &calendar(&state.admin), now(&state.admin));
            Ok::<_, Rejection>(page(accept.as_deref(), &model, |m| {
                jobs::render(m, &state.pages)
            }))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn posts_from_another_origin_are_refused_and_scripts_pass() {
        assert!(!cross_site(&headers(&[("host", "127.0.0.1:9990")])));
        assert!(!cross_site(&headers(&[
            ("host", "127.0.0.1:9990"),
            ("origin", "http://127.0.0.1:9990")
        ])));
        assert!(cross_site(&headers(&[
            ("host", "127.0.0.1:9990"),
            ("origin", "http://127.0.0.1:8000")
        ])));
        assert!(cross_site(&headers(&[
            ("host", "127.0.0.1:9990"),
            ("origin", "null")
        ])));
        assert!(!cross_site(&headers(&[
            ("host", "127.0.0.1:9990"),
            ("origin", "null"),
            ("sec-fetch-site", "same-origin")
        ])));
        assert!(cross_site(&headers(&[
            ("host", "127.0.0.1:9990"),
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(!cross_site(&headers(&[
            ("host", "127.0.0.1:9990"),
            ("sec-fetch-site", "same-origin")
        ])));
    }

    #[test]
    fn a_page_back_only_when_html_is_preferred() {
        let browser =
            Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8".to_string());
        assert!(wants_page(&browser));
        assert!(!wants_page(&None));
        assert!(!wants_page(&Some("*/*".into())));
        assert!(!wants_page(&Some("application/json".into())));
        assert!(wants_page(&Some("text/html".into())));
    }

    #[test]
    fn post_fields_come_from_the_query_or_a_form_body() {
        let form = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let none = Params::default();
        assert_eq!(
            field(&none, &form, b"level=DEBUG", "level").as_deref(),
            Some("DEBUG")
        );
        assert_eq!(
            field(&none, &HeaderMap::new(), b"level=DEBUG", "level"),
            None
        );
        assert_eq!(field(&none, &form, b"other=1", "level"), None);
    }
}
