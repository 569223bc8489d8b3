//! The OpenAPI description: served without a token and with CORS, and the copy in
//! `docs/openapi.json` equal to it. `PDD_UPDATE_OPENAPI=1 cargo test --test api openapi`
//! rewrites the copy.

use std::path::Path;

use pdd_server::adapters::http::openapi::document_text;
use warp::http::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn the_description_is_served_without_a_token_with_cors() {
    let app = app();
    let r = app
        .call(request("GET", "/api/openapi.json").header("origin", "https://dashboard.example"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://dashboard.example")
    );
    assert_eq!(r.text(), document_text());
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/clients/{name}/ping"]["post"].is_object());
    let r = app.call(request("POST", "/api/openapi.json")).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("allow"), Some("GET, OPTIONS"));
}

#[test]
fn docs_openapi_json_is_the_description_the_server_serves() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    if std::env::var_os("PDD_UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(&path, document_text()).unwrap();
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == document_text(),
        "docs/openapi.json is stale: run `PDD_UPDATE_OPENAPI=1 cargo test --test api openapi` \
         and commit it"
    );
}
