//! Requests through `warp::test` (no socket) and their replies.

use std::net::SocketAddr;

use serde_json::Value;
use warp::filters::BoxedFilter;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

use super::{PEER, TOKEN};

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// The `errors` of an error body.
    pub fn errors(&self) -> Vec<String> {
        serde_json::from_value(self.json()["errors"].clone())
            .unwrap_or_else(|_| panic!("no errors in {:?}", self.text()))
    }
}

pub fn request(method: &str, path: &str) -> warp::test::RequestBuilder {
    warp::test::request()
        .method(method)
        .path(path)
        .remote_addr(PEER.parse::<SocketAddr>().unwrap())
}

pub fn private(method: &str, path: &str) -> warp::test::RequestBuilder {
    request(method, path).header("authorization", format!("Bearer {TOKEN}"))
}

pub async fn send(filter: &BoxedFilter<(Response,)>, req: warp::test::RequestBuilder) -> Reply {
    let res = req.reply(filter).await;
    Reply {
        status: res.status(),
        headers: res.headers().clone(),
        body: res.into_body(),
    }
}
