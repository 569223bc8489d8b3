//! The public API, used by the browser extension: registration, ping, sketch submission, and
//! the CORS preflight. No token.

use std::net::IpAddr;
use std::sync::Arc;

use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::dto::{ClientIn, ClientOut, ClientUpdateIn, PingIn, PingOut, SubmissionIn};
use super::filters::{client_ip, json_body, optional_json_body, with_state};
use super::rejection::reject;
use super::{json, no_content, ApiState};

pub fn routes(state: &Arc<ApiState>) -> BoxedFilter<(Response,)> {
    register(state)
        .or(update_client(state))
        .unify()
        .or(delete_client(state))
        .unify()
        .or(ping_get(state))
        .unify()
        .or(ping_post(state))
        .unify()
        .or(submit(state))
        .unify()
        .or(preflight())
        .unify()
        .boxed()
}

/// POST /api/clients
fn register(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "clients")
        .and(warp::post())
        .and(json_body::<ClientIn>(state.limits.public_body_bytes))
        .and(with_state(state))
        .and_then(|body: ClientIn, state: Arc<ApiState>| async move {
            let client = state
                .services
                .clients
                .register(body.into())
                .await
                .map_err(reject)?;
            Ok::<_, Rejection>(json(StatusCode::CREATED, &ClientOut::from(&client)))
        })
}

/// PATCH /api/clients/{name}
fn update_client(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "clients" / String)
        .and(warp::patch())
        .and(json_body::<ClientUpdateIn>(state.limits.public_body_bytes))
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
    body: PingIn,
    ip: Option<IpAddr>,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let response = state
        .services
        .ping
        .ping(&name, body.into_input(ip))
        .await
        .map_err(reject)?;
    Ok(json(StatusCode::OK, &PingOut::from(&response)))
}

/// GET /api/clients/{name}/ping
fn ping_get(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "clients" / String / "ping")
        .and(warp::get())
        .map(|name| (name, PingIn::default()))
        .untuple_one()
        .and(client_ip(state))
        .and(with_state(state))
        .and_then(ping)
}

/// POST /api/clients/{name}/ping
fn ping_post(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "clients" / String / "ping")
        .and(warp::post())
        .and(optional_json_body::<PingIn>(state.limits.public_body_bytes))
        .and(client_ip(state))
        .and(with_state(state))
        .and_then(ping)
}

/// PATCH /api/sketches/{name}
fn submit(state: &Arc<ApiState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "sketches" / String)
        .and(warp::patch())
        .and(json_body::<SubmissionIn>(state.limits.public_body_bytes))
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
