//! The dashboard's campaigns: list, create, read, update, delete, and their results and exports.

use std::sync::Arc;

use warp::http::header::{HeaderMap, ACCEPT};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::adapters::http::dto::{
    AggregationOut, CampaignIn, CampaignList, CampaignOut, ResultList,
};
use crate::adapters::http::export;
use crate::adapters::http::filters::{auth, json_body, params, with_state, Params};
#[allow(unused_imports)] // named by the #[utoipa::path] attributes only
use crate::adapters::http::openapi::{
    BadRequest, Conflict, NotAcceptable, NotFound, PayloadTooLarge, RequestTimeout, ResultsJson,
    Unauthorized, Unavailable,
};
use crate::adapters::http::rejection::{invalid, reject, ApiError};
use crate::adapters::http::{json, no_content, ApiState};
use crate::domain::time::Day;

use super::body_limit;

/// GET /api/campaigns[?active=true|false]
#[utoipa::path(
    get, path = "/api/campaigns", tag = "private", security(("bearer" = []), ("access_token" = [])),
    summary = "List campaigns",
    description = "Newest `createTime` first, each with its vocabulary emptied.",
    params(("active" = Option<String>, Query, pattern = "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$",
        description = "`true`: the campaigns active now; `false`: the others (`true`, `false`, `1`, `0`, any case)")),
    responses(
        (status = 200, description = "The campaigns", body = CampaignList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 503, response = Unavailable),
    ),
)]
pub(super) fn list_campaigns(
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
#[utoipa::path(
    post, path = "/api/campaigns", tag = "private", security(("bearer" = []), ("access_token" = [])),
    summary = "Create a campaign",
    request_body = CampaignIn,
    responses(
        (status = 201, description = "Created", body = CampaignOut),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ),
)]
pub(super) fn create_campaign(
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
#[utoipa::path(
    get, path = "/api/campaigns/{name}", tag = "private", security(("bearer" = []), ("access_token" = [])),
    summary = "One campaign",
    params(("name" = String, Path, description = "The campaign's name")),
    responses(
        (status = 200, description = "The campaign", body = CampaignOut),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
pub(super) fn get_campaign(
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
#[utoipa::path(
    put, path = "/api/campaigns/{name}", tag = "private", security(("bearer" = []), ("access_token" = [])),
    summary = "Replace a campaign",
    description = "A full replacement of the editable fields (an absent one takes its \
        default). Once started, the collection settings are frozen; a changed endTime must \
        not be before now (one at most 10 minutes in the past is taken as now); once \
        completed, endTime cannot change; the vocabulary is append-only.",
    params(("name" = String, Path, description = "The campaign's name")),
    request_body = CampaignIn,
    responses(
        (status = 200, description = "The campaign as stored", body = CampaignOut),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ),
)]
pub(super) fn update_campaign(
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
#[utoipa::path(
    delete, path = "/api/campaigns/{name}", tag = "private", security(("bearer" = []), ("access_token" = [])),
    summary = "Delete a campaign",
    description = "With its results, sketches, groups and sums. An active campaign needs \
        `force=true` (else 409).",
    params(
        ("name" = String, Path, description = "The campaign's name"),
        ("force" = Option<String>, Query, pattern = "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$", description = "Delete even an active campaign"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
pub(super) fn delete_campaign(
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
#[utoipa::path(
    get, path = "/api/campaigns/{name}/results", tag = "private", security(("bearer" = []), ("access_token" = [])),
    summary = "A campaign's results",
    description = "Newest day first, value lists emptied. With `export=1`: the export rows of \
        every result, as JSON rows or CSV (`day,query,count`) by `Accept`.",
    params(("name" = String, Path, description = "The campaign's name"), ("export" = Option<String>, Query, pattern = "^(1|true|0|false)$", description = "`1` or `true`: the export rows, in the format `Accept` asks for")),
    responses(
        (status = 200, description = "The results, or their export", content(
            (ResultsJson = "application/json"),
            (String = "text/csv"),
            (String = "application/csv"),
        )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 406, response = NotAcceptable),
        (status = 503, response = Unavailable),
    ),
)]
pub(super) fn results(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
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
#[utoipa::path(
    get, path = "/api/campaigns/{name}/results/{day}", tag = "private", security(("bearer" = []), ("access_token" = [])),
    summary = "A campaign's result for one day",
    description = "With its values. With `export=1`: that day's export rows.",
    params(
        ("name" = String, Path, description = "The campaign's name"),
        ("day" = i64, Path, description = "The campaign day (0 is the day of its startTime)"),
        ("export" = Option<String>, Query, pattern = "^(1|true|0|false)$", description = "`1` or `true`: the export rows, in the format `Accept` asks for"),
    ),
    responses(
        (status = 200, description = "The result, or its export", content(
            (ResultsJson = "application/json"),
            (String = "text/csv"),
            (String = "application/csv"),
        )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 406, response = NotAcceptable),
        (status = 503, response = Unavailable),
    ),
)]
pub(super) fn result(
    state: &Arc<ApiState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
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
