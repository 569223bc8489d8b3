//! The private API, used by the analysts' dashboard: campaigns, results and exports, clients,
//! activity and stats. Every route checks the bearer token after its path and method.

use std::sync::Arc;

use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::dto::StatsResponse;
use super::filters::{auth, with_state, BodyLimit};
use super::rejection::reject;
use super::{json, ApiState};
#[allow(unused_imports)] // named by the #[utoipa::path] attributes only
use crate::adapters::http::openapi::{BadRequest, Unauthorized, Unavailable};

pub(in crate::adapters::http) mod campaigns;
pub(in crate::adapters::http) mod clients;

use campaigns::{
    create_campaign, delete_campaign, get_campaign, list_campaigns, result, results,
    update_campaign,
};
use clients::{activity, client_activity, get_client, list_clients};

pub fn routes(state: &Arc<ApiState>) -> BoxedFilter<(Response,)> {
    list_campaigns(state)
        .or(create_campaign(state))
        .unify()
        .or(get_campaign(state))
        .unify()
        .or(update_campaign(state))
        .unify()
        .or(delete_campaign(state))
        .unify()
        .or(results(state))
        .unify()
        .or(result(state))
        .unify()
        .boxed()
        .or(list_clients(state))
        .unify()
        .or(get_client(state))
        .unify()
        .or(client_activity(state))
        .unify()
        .or(activity(state))
        .unify()
        .or(stats(state))
        .unify()
        .boxed()
}

fn body_limit(state: &ApiState) -> BodyLimit {
    BodyLimit {
        bytes: state.limits.private_body_bytes,
        timeout: state.limits.body_timeout,
    }
}

/// GET /api/stats
#[utoipa::path(
    get, path = "/api/stats", tag = "private", security(("bearer" = []), ("access_token" = [])),
    summary = "Counts for the dashboard's home page",
    responses(
        (status = 200, description = "The counts", body = StatsResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 503, response = Unavailable),
    ),
)]
fn stats(state: &Arc<ApiState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "stats")
        .and(warp::get())
        .and(auth(state))
        .and(with_state(state))
        .and_then(|state: Arc<ApiState>| async move {
            let stats = state.services.campaigns.stats().await.map_err(reject)?;
            Ok::<_, Rejection>(json(StatusCode::OK, &StatsResponse::from(stats)))
        })
}
