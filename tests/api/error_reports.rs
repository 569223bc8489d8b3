//! Error reporting against a local HTTP endpoint standing in for Sentry's ingest: what an
//! error-level log and a forced storage failure send, with the environment and without
//! secrets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use pdd_server::adapters::sentry::{init, layer};
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

use crate::helpers::*;

/// Stands in for Sentry's ingest: answers 200 to every request and hands over the
/// bodies of envelope posts.
fn fake_ingest() -> (u16, mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let tx = tx.clone();
            thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream);
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0;
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 {
                            return;
                        }
                        if header == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap();
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let _ = reader
                        .get_mut()
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}");
                    if tx.send((request_line.trim().to_owned(), body)).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, rx)
}

/// Flushes the client, then waits for the first envelope holding an event; returns its
/// request line and body.
fn next_event(
    received: &mpsc::Receiver<(String, Vec<u8>)>,
    guard: sentry::ClientInitGuard,
) -> (String, Vec<u8>) {
    assert!(guard.flush(Some(Duration::from_secs(5))));
    drop(guard);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (line, body) = received
            .recv_timeout(left)
            .expect("an event reached the ingest");
        if event_item(&body).is_some() {
            return (line, body);
        }
    }
}

/// The payload of the first `event` item of an envelope.
fn event_item(envelope: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(envelope).ok()?;
    let mut lines = text.lines();
    lines.next()?; // envelope header
    while let Some(header) = lines.next() {
        let header: Value = serde_json::from_str(header).ok()?;
        let payload = lines.next()?;
        if header["type"] == "event" {
            return serde_json::from_str(payload).ok();
        }
    }
    None
}

#[test]
fn an_error_log_reaches_the_ingest_with_environment_breadcrumbs_and_no_secrets() {
    let (port, received) = fake_ingest();
    let guard = init(&format!("http://public@127.0.0.1:{port}/1"), "test-env").unwrap();
    let subscriber = tracing_subscriber::registry().with(layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(route = "/api/ping", "request served");
        tracing::debug!("a debug line");
        tracing::error!(
            access_token = "abcdefghij0123456789",
            error = "mysql://pdd:hunter2@127.0.0.1:3306/pdd unreachable",
            "storage failure"
        );
    });
    let (request_line, body) = next_event(&received, guard);

    assert_eq!(request_line, "POST /api/1/envelope/ HTTP/1.1");
    let raw = String::from_utf8_lossy(&body);
    assert!(!raw.contains("hunter2"), "{raw}");
    assert!(!raw.contains("abcdefghij0123456789"), "{raw}");
    assert!(!raw.contains("a debug line"), "{raw}");

    let event = event_item(&body).unwrap();
    assert_eq!(event["message"], "storage failure");
    // The level is left out of the JSON when it is Sentry's default, error.
    let parsed: sentry::protocol::Event = serde_json::from_value(event.clone()).unwrap();
    assert_eq!(parsed.level, sentry::Level::Error);
    assert_eq!(event["environment"], "test-env");
    assert_eq!(
        event["release"],
        concat!("pdd-server@", env!("CARGO_PKG_VERSION"))
    );
    let fields = &event["contexts"]["Rust Tracing Fields"];
    assert_eq!(fields["access_token"], "[Filtered]");
    assert_eq!(
        fields["error"],
        "mysql://[Filtered]@127.0.0.1:3306/pdd unreachable"
    );
    let breadcrumbs = event["breadcrumbs"]["values"].as_array().unwrap();
    let messages: Vec<&str> = breadcrumbs
        .iter()
        .filter_map(|b| b["message"].as_str())
        .collect();
    assert_eq!(messages, vec!["request served"]);
}

// A current-thread runtime: the requests run on the test's thread, whose Sentry hub `init`
// bound the client to.
#[tokio::test]
async fn a_job_failing_on_a_storage_outage_is_reported_with_the_environment() {
    let (port, received) = fake_ingest();
    let guard = init(&format!("http://public@127.0.0.1:{port}/1"), "staging").unwrap();
    let _subscriber =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(layer()));
    let app = app();
    app.storage.set_down(true);
    let r = app
        .admin(
            request("POST", "/admin/jobs/aggregate-sketches")
                .header("authorization", format!("Bearer {TOKEN}")),
        )
        .await;
    assert_eq!(r.status.as_u16(), 503, "{}", r.text());

    let (_, body) = next_event(&received, guard);
    let raw = String::from_utf8_lossy(&body);
    assert!(!raw.contains(TOKEN), "{raw}");
    let event = event_item(&body).unwrap();
    assert_eq!(event["message"], "job run failed");
    assert_eq!(event["environment"], "staging");
    let fields = &event["contexts"]["Rust Tracing Fields"];
    assert_eq!(fields["job"], "aggregate-sketches");
    assert_eq!(
        fields["error"],
        "storage unavailable: connection refused (127.0.0.1:3306)"
    );
}
