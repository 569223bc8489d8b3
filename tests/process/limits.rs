//! Slow and greedy clients against the real server: headers and bodies that do not arrive in
//! time, more connections than allowed, and the per-address rate limit seen through a socket.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::server::Server;

/// Reads until the server closes the connection (or `limit` passes); what it sent.
fn read_until_closed(conn: &mut TcpStream, limit: Duration) -> Result<String, String> {
    conn.set_read_timeout(Some(limit)).unwrap();
    let mut out = Vec::new();
    match conn.read_to_end(&mut out) {
        Ok(_) => Ok(String::from_utf8_lossy(&out).into_owned()),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        Err(e) => Err(format!(
            "still open after {limit:?} ({e}); got {:?}",
            String::from_utf8_lossy(&out)
        )),
    }
}

#[test]
fn connections_that_send_headers_too_slowly_or_nothing_are_closed_after_the_header_timeout() {
    let server = Server::start(&["-http.header_timeout=1.seconds"], &[]);
    let started = Instant::now();
    // Nothing at all.
    let mut idle = TcpStream::connect(server.http).unwrap();
    // Half a request head, then silence.
    let mut slow = TcpStream::connect(server.http).unwrap();
    write!(slow, "GET /api/stats HTTP/1.1\r\nHost: x\r\n").unwrap();
    for conn in [&mut idle, &mut slow] {
        let answer = read_until_closed(conn, Duration::from_secs(10)).unwrap();
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // A keep-alive connection that goes quiet after its answer is closed the same way.
    let mut kept = TcpStream::connect(server.http).unwrap();
    write!(kept, "GET /api/nothing HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let answer = read_until_closed(&mut kept, Duration::from_secs(10)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 404 Not Found\r\n"), "{answer}");
    // The server itself is fine.
    let ok = reqwest::blocking::get(server.url("/api/clients/x/ping")).unwrap();
    assert_eq!(ok.status().as_u16(), 404);
}

#[test]
fn a_body_that_does_not_arrive_in_time_is_answered_408_and_the_connection_closed() {
    let server = Server::start(&["-http.body_timeout=1.seconds"], &[]);
    let mut conn = TcpStream::connect(server.http).unwrap();
    write!(
        conn,
        "POST /api/clients HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"publicKey\""
    )
    .unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut conn, Duration::from_secs(10)).unwrap();
    let took = started.elapsed();
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with(r#"{"errors":["body: not received within 1 s"]}"#),
        "{answer}"
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    server.wait_for_output("status=408");
}

#[test]
fn beyond_max_connections_a_new_connection_waits_until_one_closes() {
    let server = Server::start(
        &["-http.max_connections=1", "-http.header_timeout=30.seconds"],
        &[],
    );
    let first = TcpStream::connect(server.http).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut second = TcpStream::connect(server.http).unwrap();
    write!(
        second,
        "GET /api/nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(1000)))
        .unwrap();
    let mut buf = [0u8; 64];
    match second.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("answered while the only connection slot was taken: {other:?}"),
    }
    server.wait_for_output("connection limit reached");
    let released = Instant::now();
    drop(first);
    let answer = read_until_closed(&mut second, Duration::from_secs(10)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 404 Not Found\r\n"), "{answer}");
    assert!(released.elapsed() < Duration::from_secs(5));
}

#[test]
fn registrations_beyond_the_rate_limit_answer_429_through_the_socket() {
    let mut server = Server::start(
        &[
            "-http.rate_limit.register=2",
            "-http.rate_limit.register_burst=1",
        ],
        &[],
    );
    let http = reqwest::blocking::Client::new();
    let register = || {
        http.post(server.url("/api/clients"))
            .json(&serde_json::json!({"publicKey": "04ab", "browser": "chrome"}))
            .send()
            .unwrap()
    };
    assert_eq!(register().status().as_u16(), 201);
    let refused = register();
    assert_eq!(refused.status().as_u16(), 429);
    assert_eq!(
        refused
            .headers()
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap(),
        "30"
    );
    assert_eq!(
        refused.text().unwrap(),
        r#"{"errors":["too many requests from this address: retry in 30 s"]}"#
    );
    assert!(server.terminate().success());
}
