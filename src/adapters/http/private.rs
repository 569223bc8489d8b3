//! The private API, used by the analysts' dashboard: campaigns, results and exports, clients,
//! activity and stats. Every route checks the bearer token after its path and method.

use std::sync::Arc;

use warp::filters::BoxedFilter;
use warp::http::header::{HeaderMap, ACCEPT};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::dto::{
    ActivityList, ActivityOut, AggregationOut, CampaignIn, CampaignList, CampaignOut,
    ClientDetailsOut, ClientList, ClientOut, ResultList, StatsResponse,
};
use super::export;
use super::filters::{auth, json_body, params, with_state, BodyLimit, Params};
use super::rejection::{invalid, reject, ApiError};
use super::{json, no_content, ApiState};
use crate::domain::time::Day;

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

/// GET /api/campaigns[?active=true|false]
fn list_campaigns(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "campaigns")
        .and(warp::get())
        .and(auth(state))
        .and(params())
        .and(with_state(state))
        .and_then(|params: Params, state: Arc<ApiState>| async move {
            let active = params.bool("active")?;
            let campaigns = state
                .services
                .campaigns
                .list(active)
                .await
                .map_err(reject)?;
            let list = CampaignList {
                campaigns: campaigns
                    .iter()
                    .map(|c| CampaignOut::new(c, false))
                    .collect(),
            };
            Ok::<_, Rejection>(json(StatusCode::OK, &list))
        })
}

/// POST /api/campaigns
fn create_campaign(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "campaigns")
        .and(warp::post())
        .and(auth(state))
        .and(json_body::<CampaignIn>(body_limit(state)))
        .and(with_state(state))
        .and_then(|body: CampaignIn, state: Arc<ApiState>| async move {
            let campaign = state
                .services
                .campaigns
                .create(body.into())
                .await
                .map_err(reject)?;
            Ok::<_, Rejection>(json(
                StatusCode::CREATED,
                &CampaignOut::new(&campaign, true),
            ))
        })
}

/// GET /api/campaigns/{name}
fn get_campaign(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "campaigns" / String)
        .and(warp::get())
        .and(auth(state))
        .and(with_state(state))
        .and_then(|name: String, state: Arc<ApiState>| async move {
            let campaign = state.services.campaigns.get(&name).await.map_err(reject)?;
            Ok::<_, Rejection>(json(StatusCode::OK, &CampaignOut::new(&campaign, true)))
        })
}

/// PUT /api/campaigns/{name}
fn update_campaign(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "campaigns" / String)
        .and(warp::put())
        .and(auth(state))
        .and(json_body::<CampaignIn>(body_limit(state)))
        .and(with_state(state))
        .and_then(
            |name: String, body: CampaignIn, state: Arc<ApiState>| async move {
                let campaign = state
                    .services
                    .campaigns
                    .update(&name, body.into())
                    .await
                    .map_err(reject)?;
                Ok::<_, Rejection>(json(StatusCode::OK, &CampaignOut::new(&campaign, true)))
            },
        )
}

/// DELETE /api/campaigns/{name}[?force=true]
fn delete_campaign(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "campaigns" / String)
        .and(warp::delete())
        .and(auth(state))
        .and(params())
        .and(with_state(state))
        .and_then(
            |name: String, params: Params, state: Arc<ApiState>| async move {
                let force = params.bool("force")?.unwrap_or(false);
                state
                    .services
                    .campaigns
                    .delete(&name, force)
                    .await
                    .map_err(reject)?;
                Ok::<_, Rejection>(no_content())
            },
        )
}

/// `?export=1|true`: the format to export in (406 when `Accept` allows none), or `None` for the
/// plain JSON view.
fn export_format(
    params: &Params,
    headers: &HeaderMap,
) -> Result<Option<export::Format>, Rejection> {
    let wanted = match params.get("export") {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") => true,
        Some(_) => return Err(invalid("export", "should be 1, true, 0 or false")),
    };
    if !wanted {
        return Ok(None);
    }
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok());
    export::negotiate(accept)
        .map(Some)
        .ok_or_else(|| reject(ApiError::NotAcceptable))
}

/// GET /api/campaigns/{name}/results[?export=1]
fn results(state: &Arc<ApiState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "campaigns" / String / "results")
        .and(warp::get())
        .and(auth(state))
        .and(params())
        .and(warp::header::headers_cloned())
        .and(with_state(state))
        .and_then(
            |name: String, params: Params, headers: HeaderMap, state: Arc<ApiState>| async move {
                let campaigns = &state.services.campaigns;
                if let Some(format) = export_format(&params, &headers)? {
                    let rows = campaigns.export(&name, None).await.map_err(reject)?;
                    return Ok::<_, Rejection>(export::render(&rows, format));
                }
                let (_, results) = campaigns.results(&name).await.map_err(reject)?;
                let list = ResultList {
                    results: results
                        .iter()
                        .map(|a| AggregationOut::new(a, false))
                        .collect(),
                };
                Ok(json(StatusCode::OK, &list))
            },
        )
}

/// GET /api/campaigns/{name}/results/{day}[?export=1]
fn result(state: &Arc<ApiState>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "campaigns" / String / "results" / String)
        .and(warp::get())
        .and(auth(state))
        .and(params())
        .and(warp::header::headers_cloned())
        .and(with_state(state))
        .and_then(
            |name: String,
             day: String,
             params: Params,
             headers: HeaderMap,
             state: Arc<ApiState>| async move {
                let day: Day = day
                    .parse()
                    .map_err(|_| invalid("day", "should be an integer"))?;
                let campaigns = &state.services.campaigns;
                if let Some(format) = export_format(&params, &headers)? {
                    let rows = campaigns.export(&name, Some(day)).await.map_err(reject)?;
                    return Ok::<_, Rejection>(export::render(&rows, format));
                }
                let (_, result) = campaigns.result(&name, day).await.map_err(reject)?;
                Ok(json(StatusCode::OK, &AggregationOut::new(&result, true)))
            },
        )
}

/// GET /api/clients[?limit=N&pageToken=T]
fn list_clients(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "clients")
        .and(warp::get())
        .and(auth(state))
        .and(params())
        .and(with_state(state))
        .and_then(|params: Params, state: Arc<ApiState>| async move {
            let limit = params
                .number::<usize>("limit")
                .map_err(|_| invalid("limit", "should be between 1 and 10000"))?;
            let page = state
                .services
                .clients
                .list(limit, params.get("pageToken"))
                .await
                .map_err(reject)?;
            let list = ClientList {
                clients: page.clients.iter().map(ClientOut::from).collect(),
                next_page_token: page.next_page_token.as_deref(),
            };
            Ok::<_, Rejection>(json(StatusCode::OK, &list))
        })
}

/// GET /api/clients/{name}
fn get_client(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "clients" / String)
        .and(warp::get())
        .and(auth(state))
        .and(with_state(state))
        .and_then(|name: String, state: Arc<ApiState>| async move {
            let details = state.services.clients.get(&name).await.map_err(reject)?;
            Ok::<_, Rejection>(json(StatusCode::OK, &ClientDetailsOut::from(&details)))
        })
}

async fn activity_of(
    client: Option<String>,
    params: Params,
    state: Arc<ApiState>,
) -> Result<Response, Rejection> {
    let tail = params
        .number::<u32>("tail")
        .map_err(|_| invalid("tail", "should be a positive integer"))?;
    let days = state
        .services
        .clients
        .activity(client.as_deref(), tail)
        .await
        .map_err(reject)?;
    let list = ActivityList {
        days: days.iter().map(ActivityOut::from).collect(),
    };
    Ok(json(StatusCode::OK, &list))
}

/// GET /api/clients/{name}/activity[?tail=N]
fn client_activity(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "clients" / String / "activity")
        .and(warp::get())
        .and(auth(state))
        .map(Some)
        .and(params())
        .and(with_state(state))
        .and_then(activity_of)
}

/// GET /api/activity[?tail=N]
fn activity(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "activity")
        .and(warp::get())
        .and(auth(state))
        .map(|| None)
        .and(params())
        .and(with_state(state))
        .and_then(activity_of)
}

/// GET /api/stats
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
