//! Registering, updating and deleting a client through the public API, and how bodies
//! are read.

use serde_json::json;
use warp::http::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn registering_a_client_answers_201_with_a_server_chosen_name_and_ignores_unknown_fields() {
    let app = app();
    let r = app
        .call(request("POST", "/api/clients").json(&json!({
            "publicKey": "04abcd",
            "browser": "firefox",
            "externalName": null,
            "privateKey": "deadbeef",
            "name": "chosen-by-client",
            "settings": {"nested": [1, 2]}
        })))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    let name = body["name"].as_str().unwrap().to_string();
    assert_eq!(name.len(), 36);
    assert_ne!(name, "chosen-by-client");
    assert_eq!(
        body,
        json!({"name": name, "createTime": "2018-05-10T12:00:00.000Z",
               "publicKey": "04abcd", "browser": "firefox"})
    );
    let stored = app.services.clients.get(&name).await.unwrap().client;
    assert_eq!(stored.public_key, "04abcd");
    assert_eq!(stored.external_name, None);
}

#[tokio::test]
async fn registering_without_required_fields_answers_400_with_every_field_error() {
    let app = app();
    let r = app
        .call(request("POST", "/api/clients").json(&json!({"publicKey": "zz"})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.errors(),
        vec!["publicKey: should be hexadecimal", "browser: is required"]
    );
}

#[tokio::test]
async fn malformed_json_answers_400_naming_the_body_with_the_parser_message() {
    let app = app();
    let r = app.call(request("POST", "/api/clients").body("x")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.errors(), vec!["body: expected value at line 1 column 1"]);
    let r = app
        .call(request("POST", "/api/clients").body(r#"{"publicKey": 4}"#))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.errors(),
        vec!["body: invalid type: integer `4`, expected a string at line 1 column 15"]
    );
}

#[tokio::test]
async fn json_is_read_whatever_the_content_type_and_unknown_fields_nested_up_to_32_levels_are_skipped(
) {
    let app = app();
    let r = app
        .call(
            request("POST", "/api/clients")
                .header("content-type", "text/plain;charset=UTF-8")
                .body(r#"{"publicKey": "04", "browser": "chrome"}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    // The extension's whole local state may come along: nested, but not without end.
    let nested = |levels: usize| {
        format!(
            r#"{{"publicKey": "04", "browser": "chrome", "x": {}"[[{{"{}}}"#,
            "[".repeat(levels - 1),
            "]".repeat(levels - 1)
        )
    };
    let r = app
        .call(request("POST", "/api/clients").body(nested(32)))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["browser"], "chrome");
    for levels in [33, 100_000] {
        let r = app
            .call(request("POST", "/api/clients").body(nested(levels)))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.errors(), vec!["body: nested deeper than 32 levels"]);
    }
}

#[tokio::test]
async fn updating_a_client_sets_its_external_name_and_unknown_clients_are_404() {
    let app = app();
    let name = app.register("04ab").await;
    let r = app
        .call(
            request("PATCH", &format!("/api/clients/{name}"))
                .json(&json!({"externalName": "panel-17", "browser": "ignored"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"name": name, "createTime": "2018-05-10T12:00:00.000Z", "publicKey": "04ab",
               "browser": "firefox", "externalName": "panel-17"})
    );
    let r = app
        .call(request("PATCH", "/api/clients/nobody").json(&json!({})))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.errors(), vec!["not found"]);
}

#[tokio::test]
async fn deleting_a_client_answers_204_and_its_ping_then_404() {
    let app = app();
    let name = app.register("04ab").await;
    let r = app
        .call(request("DELETE", &format!("/api/clients/{name}")))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.body.is_empty());
    let r = app
        .call(request("GET", &format!("/api/clients/{name}/ping")))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.errors(), vec!["not found"]);
    let r = app
        .call(request("DELETE", &format!("/api/clients/{name}")))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_extensions_null_external_name_clears_it_as_does_an_empty_one() {
    // The options page sends {"externalName": null} when the volunteer empties the field.
    let app = app();
    let name = app.register("04ab").await;
    let path = format!("/api/clients/{name}");
    let set = |value: serde_json::Value| request("PATCH", &path).json(&value);
    let r = app.call(set(json!({"externalName": "panel-17"}))).await;
    assert_eq!(r.json()["externalName"], "panel-17");
    let r = app.call(set(json!({"externalName": null}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"name": name, "createTime": "2018-05-10T12:00:00.000Z", "publicKey": "04ab",
               "browser": "firefox"})
    );
    let stored = app.services.clients.get(&name).await.unwrap().client;
    assert_eq!(stored.external_name, None);
    // Absent leaves it; "" clears it too.
    app.call(set(json!({"externalName": "panel-18"}))).await;
    let r = app.call(set(json!({"browser": "ignored"}))).await;
    assert_eq!(r.json()["externalName"], "panel-18");
    let r = app.call(set(json!({"externalName": ""}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json().get("externalName"), None);
    let stored = app.services.clients.get(&name).await.unwrap().client;
    assert_eq!(stored.external_name, None);
    // Too long is still refused, and nothing changes.
    app.call(set(json!({"externalName": "panel-19"}))).await;
    let r = app
        .call(set(json!({"externalName": "x".repeat(256)})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.errors(),
        vec!["externalName: should be at most 255 characters"]
    );
    let stored = app.services.clients.get(&name).await.unwrap().client;
    assert_eq!(stored.external_name.as_deref(), Some("panel-19"));
}
