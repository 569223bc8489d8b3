//! The dashboard's clients: one page or every client (streamed), one client, activity.

use std::sync::Arc;

use warp::http::header::{HeaderValue, CONTENT_TYPE};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::adapters::http::dto::{
    ActivityList, ActivityOut, ClientDetailsOut, ClientList, ClientOut,
};
use crate::adapters::http::filters::{auth, params, with_state, Params};
#[allow(unused_imports)] // named by the #[utoipa::path] attributes only
use crate::adapters::http::openapi::{BadRequest, NotFound, Unauthorized, Unavailable};
use crate::adapters::http::rejection::{invalid, reject};
use crate::adapters::http::{json, ApiState};
use crate::domain::client::Client;

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
pub(super) fn list_clients(
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
pub(super) fn get_client(
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
pub(super) fn client_activity(
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
pub(super) fn activity(
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
