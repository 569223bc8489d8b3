//! The private API, used by the analysts' dashboard: campaigns, results and exports, clients,
//! activity and stats. Every route checks the bearer token after its path and method.

use std::sync::Arc;

use warp::filters::BoxedFilter;
use warp::http::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::dto::{
    ActivityList, ActivityOut, AggregationOut, CampaignIn, CampaignList, CampaignOut,
    ClientDetailsOut, ClientList, ClientOut, ResultList, StatsResponse,
};
use super::export;
use super::filters::{auth, json_body, params, with_state, BodyLimit, Params};
#[allow(unused_imports)] // named by the #[utoipa::path] attributes only
use super::openapi::{
    BadRequest, Conflict, NotAcceptable, NotFound, PayloadTooLarge, RequestTimeout, ResultsJson,
    Unauthorized, Unavailable,
};
use super::rejection::{invalid, reject, ApiError};
use super::{json, no_content, ApiState};
use crate::domain::client::Client;
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
#[utoipa::path(
    get, path = "/api/clients", tag = "private", security(("bearer" = []), ("access_token" = [])),
    summary = "List clients",
    description = "Newest `createTime` first (ties by name). Without `limit`: every client, \
        streamed. With `limit`: one page, and `nextPageToken` when more follow.",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "Clients per page"),
        ("pageToken" = Option<String>, Query, pattern = "^-?[0-9]{1,15}_",
            description = "`nextPageToken` of the previous page (opaque; a token the server did not make is 400)"),
    ),
    responses(
        (status = 200, description = "The clients", body = ClientList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 503, response = Unavailable),
    ),
)]
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
            let token = params.get("pageToken");
            let Some(limit) = limit else {
                return every_client(state, token).await;
            };
            let page = state
                .services
                .clients
                .list(Some(limit), token)
                .await
                .map_err(reject)?;
            let list = ClientList {
                clients: page.clients.iter().map(ClientOut::from).collect(),
                next_page_token: page.next_page_token.as_deref(),
            };
            Ok::<_, Rejection>(json(StatusCode::OK, &list))
        })
}

/// Clients read and written per chunk of the unlimited list.
const STREAM_PAGE: usize = 1000;

/// `{"clients": [...]}` with every client (from `token` on, when given), read in keyset pages
/// of `STREAM_PAGE` and written out as they are read: memory stays constant whatever the number
/// of clients, since a page is read only once the previous one has gone out. A failure on the
/// first page is an ordinary error answer; a failure after the answer has begun aborts the
/// connection, so that a client never takes a cut list for a whole one.
async fn every_client(state: Arc<ApiState>, token: Option<&str>) -> Result<Response, Rejection> {
    let clients = &state.services.clients;
    let first = clients
        .list(Some(STREAM_PAGE), token)
        .await
        .map_err(reject)?;
    let (chunks, mut rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, String>>(1);
    let mut written = false;
    let head = client_chunk(b"{\"clients\":[", &first.clients, &mut written);
    tokio::spawn(async move {
        let mut next = first.next_page_token;
        if chunks.send(head).await.is_err() {
            return;
        }
        while let Some(token) = next.take() {
            let chunk = match state
                .services
                .clients
                .list(Some(STREAM_PAGE), Some(&token))
                .await
            {
                Ok(page) => {
                    next = page.next_page_token;
                    client_chunk(b"", &page.clients, &mut written)
                }
                Err(e) => {
                    tracing::error!(error = %e, "client list failed mid-stream: aborting the answer");
                    Err(e.to_string())
                }
            };
            let failed = chunk.is_err();
            if chunks.send(chunk).await.is_err() || failed {
                return;
            }
        }
        let _ = chunks.send(Ok(bytes::Bytes::from_static(b"]}"))).await;
    });
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut res = warp::reply::stream(stream).into_response();
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(res)
}

/// `prefix`, then the clients as JSON, each after a comma once one was `written` (a page may
/// come back empty when clients are deleted meanwhile).
fn client_chunk(
    prefix: &[u8],
    clients: &[Client],
    written: &mut bool,
) -> Result<bytes::Bytes, String> {
    let mut out = Vec::with_capacity(prefix.len() + clients.len() * 160);
    out.extend_from_slice(prefix);
    for client in clients {
        if std::mem::replace(written, true) {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &ClientOut::from(client)).map_err(|e| e.to_string())?;
    }
    Ok(out.into())
}

/// GET /api/clients/{name}
#[utoipa::path(
    get, path = "/api/clients/{name}", tag = "private", security(("bearer" = []), ("access_token" = [])),
    summary = "One client, with what its latest ping told",
    params(("name" = String, Path, description = "The client's name")),
    responses(
        (status = 200, description = "The client", body = ClientDetailsOut),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
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
#[utoipa::path(
    get, path = "/api/clients/{name}/activity", tag = "private", security(("bearer" = []), ("access_token" = [])),
    summary = "A client's pings",
    description = "Oldest first.",
    params(("name" = String, Path, description = "The client's name"), ("tail" = Option<i64>, Query, minimum = 1, maximum = 4294967295.0, description = "Keep the activity since local midnight N − 1 days ago (`1`: today)")),
    responses(
        (status = 200, description = "The pings", body = ActivityList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
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
#[utoipa::path(
    get, path = "/api/activity", tag = "private", security(("bearer" = []), ("access_token" = [])),
    summary = "Every client's pings",
    description = "Oldest first (ties by client name).",
    params(("tail" = Option<i64>, Query, minimum = 1, maximum = 4294967295.0, description = "Keep the activity since local midnight N − 1 days ago (`1`: today)")),
    responses(
        (status = 200, description = "The pings", body = ActivityList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 503, response = Unavailable),
    ),
)]
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
