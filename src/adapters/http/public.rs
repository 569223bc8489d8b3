//! The public API, used by the browser extension: registration, ping, sketch submission, and
//! the CORS preflight. No token; registration and ping are rate limited per client address.

use std::net::IpAddr;
use std::sync::Arc;

use warp::filters::BoxedFilter;
use warp::http::header::{HeaderValue, CONTENT_TYPE};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::dto::{ping_json, ClientIn, ClientOut, ClientUpdateIn, PingIn, PingOut, SubmissionIn};
use super::filters::{json_body, optional_json_body, rate_limited, with_state, BodyLimit};
#[allow(unused_imports)] // named by the #[utoipa::path] attributes only
use super::openapi::{
    BadRequest, Conflict, Gone, NotFound, PayloadTooLarge, RequestTimeout, TooManyRequests,
    Unavailable,
};
use super::ratelimit::RateLimiter;
use super::rejection::reject;
use super::{json, no_content, ApiState};

fn body_limit(state: &ApiState) -> BodyLimit {
    BodyLimit {
        bytes: state.limits.public_body_bytes,
        timeout: state.limits.body_timeout,
    }
}

pub fn routes(state: &Arc<ApiState>) -> BoxedFilter<(Response,)> {
    let registrations = Arc::new(RateLimiter::new(state.limits.register_rate));
    // GET and POST pings draw from the same buckets.
    let pings = Arc::new(RateLimiter::new(state.limits.ping_rate));
    register(state, registrations)
        .or(update_client(state))
        .unify()
        .or(delete_client(state))
        .unify()
        .or(ping_get(state, pings.clone()))
        .unify()
        .or(ping_post(state, pings))
        .unify()
        .or(submit(state))
        .unify()
        .or(preflight())
        .unify()
        .or(openapi_json())
        .unify()
        .boxed()
}

/// POST /api/clients
#[utoipa::path(
    post, path = "/api/clients", tag = "public",
    summary = "Register a browser extension",
    description = "The server chooses `name` and `createTime`. Unknown fields are ignored, \
        never stored. Rate limited per client address (`-http.rate_limit.register`).",
    request_body = ClientIn,
    responses(
        (status = 201, description = "Registered", body = ClientOut),
        (status = 400, response = BadRequest),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    ),
)]
fn register(
    state: &Arc<ApiState>,
    limiter: Arc<RateLimiter>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "clients")
        .and(warp::post())
        .and(rate_limited(state, limiter))
        .and(json_body::<ClientIn>(body_limit(state)))
        .and(with_state(state))
        .and_then(
            |_: Option<IpAddr>, body: ClientIn, state: Arc<ApiState>| async move {
                let client = state
                    .services
                    .clients
                    .register(body.into())
                    .await
                    .map_err(reject)?;
                Ok::<_, Rejection>(json(StatusCode::CREATED, &ClientOut::from(&client)))
            },
        )
}

/// PATCH /api/clients/{name}
#[utoipa::path(
    patch, path = "/api/clients/{name}", tag = "public",
    summary = "Set or clear the external name",
    description = "A non-empty string replaces `externalName`; `null` or `\"\"` clears it; \
        absent leaves it as it is.",
    params(("name" = String, Path, description = "The client's name")),
    request_body = ClientUpdateIn,
    responses(
        (status = 200, description = "The client as stored", body = ClientOut),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ),
)]
fn update_client(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "clients" / String)
        .and(warp::patch())
        .and(json_body::<ClientUpdateIn>(body_limit(state)))
        .and(with_state(state))
        .and_then(
            |name: String, body: ClientUpdateIn, state: Arc<ApiState>| async move {
                let client = state
                    .services
                    .clients
                    .update(&name, body.external_name)
                    .await
                    .map_err(reject)?;
                Ok::<_, Rejection>(json(StatusCode::OK, &ClientOut::from(&client)))
            },
        )
}

/// DELETE /api/clients/{name}
#[utoipa::path(
    delete, path = "/api/clients/{name}", tag = "public",
    summary = "Unregister",
    description = "Deletes the client and its activity.",
    params(("name" = String, Path, description = "The client's name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
fn delete_client(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "clients" / String)
        .and(warp::delete())
        .and(with_state(state))
        .and_then(|name: String, state: Arc<ApiState>| async move {
            state.services.clients.delete(&name).await.map_err(reject)?;
            Ok::<_, Rejection>(no_content())
        })
}

async fn ping(
    name: String,
    ip: Option<IpAddr>,
    body: PingIn,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let response = state
        .services
        .ping
        .ping(&name, body.into_input(ip))
        .await
        .map_err(reject)?;
    let mut res = Response::new(ping_json(&response).into());
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(res)
}

/// GET /api/clients/{name}/ping
#[utoipa::path(
    get, path = "/api/clients/{name}/ping", tag = "public",
    summary = "Ping without telling a version or time zone",
    description = "Records an activity and answers the sketches to submit. An unknown client \
        gets 404 (the extension then registers again). Rate limited per client address \
        (`-http.rate_limit.ping`).",
    params(("name" = String, Path, description = "The client's name")),
    responses(
        (status = 200, description = "The commands and the active vocabulary", body = PingOut),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    ),
)]
fn ping_get(
    state: &Arc<ApiState>,
    limiter: Arc<RateLimiter>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "clients" / String / "ping")
        .and(warp::get())
        .and(rate_limited(state, limiter))
        .map(|name, ip| (name, ip, PingIn::default()))
        .untuple_one()
        .and(with_state(state))
        .and_then(ping)
}

/// POST /api/clients/{name}/ping
#[utoipa::path(
    post, path = "/api/clients/{name}/ping", tag = "public",
    summary = "Ping",
    description = "As the GET, and records `extensionVersion` and `timezone` when given. The \
        body may be empty.",
    params(("name" = String, Path, description = "The client's name")),
    request_body(content = Option<PingIn>, description = "Optional"),
    responses(
        (status = 200, description = "The commands and the active vocabulary", body = PingOut),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    ),
)]
fn ping_post(
    state: &Arc<ApiState>,
    limiter: Arc<RateLimiter>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "clients" / String / "ping")
        .and(warp::post())
        .and(rate_limited(state, limiter))
        .and(optional_json_body::<PingIn>(body_limit(state)))
        .and(with_state(state))
        .and_then(ping)
}

/// PATCH /api/sketches/{name}
#[utoipa::path(
    patch, path = "/api/sketches/{name}", tag = "public",
    summary = "Submit a sketch",
    description = "Checks, in order: the sketch exists (404), is not yet submitted (409), its \
        campaign exists (404) and its window is open (410), then the vectors (400). The first \
        accepted submission wins.",
    params(("name" = String, Path, description = "The sketch's name (`sketchName` of a command)")),
    request_body = SubmissionIn,
    responses(
        (status = 204, description = "Accepted and folded into its group's sum"),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 409, response = Conflict),
        (status = 410, response = Gone),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ),
)]
fn submit(state: &Arc<ApiState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "sketches" / String)
        .and(warp::patch())
        .and(json_body::<SubmissionIn>(body_limit(state)))
        .and(with_state(state))
        .and_then(
            |name: String, body: SubmissionIn, state: Arc<ApiState>| async move {
                state
                    .services
                    .sketches
                    .submit(&name, body.into())
                    .await
                    .map_err(reject)?;
                Ok::<_, Rejection>(no_content())
            },
        )
}

/// OPTIONS on the public paths: the CORS preflight (headers added by the wrapper).
fn preflight() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    fn ok() -> Response {
        let mut res = Response::default();
        *res.status_mut() = StatusCode::OK;
        res
    }
    let options = warp::options;
    warp::path!("api" / "clients")
        .and(options())
        .map(ok)
        .or(warp::path!("api" / "clients" / String)
            .and(options())
            .map(|_| ok()))
        .unify()
        .or(warp::path!("api" / "clients" / String / "ping")
            .and(options())
            .map(|_| ok()))
        .unify()
        .or(warp::path!("api" / "sketches" / String)
            .and(options())
            .map(|_| ok()))
        .unify()
}

/// GET /api/openapi.json
#[utoipa::path(
    get, path = "/api/openapi.json", tag = "public",
    summary = "This description",
    description = "The OpenAPI 3.1 description of the public, private and admin interfaces \
        (also in the repository as docs/openapi.json).",
    responses((status = 200, description = "The description", body = Object)),
)]
fn openapi_json() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "openapi.json")
        .and(warp::get())
        .map(|| {
            let mut res = Response::new(super::openapi::document_text().into());
            res.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            res
        })
}
