//! Stopping: SIGTERM lets a request in flight finish and the process exit 0; the access token
//! is printed once when random and never otherwise.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;

use crate::server::Server;

#[test]
fn sigterm_during_a_slow_request_lets_it_complete_and_exits_0() {
    let mut server = Server::start(&[], &[]);
    let body = br#"{"publicKey": "0a1b2c3d", "browser": "firefox"}"#;
    let mut conn = TcpStream::connect(server.http).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        conn,
        "POST /api/clients HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        server.http,
        body.len()
    )
    .unwrap();
    // Half the body, then the signal while the rest is still to come.
    conn.write_all(&body[..10]).unwrap();
    conn.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    server.signal(libc::SIGTERM);
    server.wait_for_output("shutting down");

    // No new connection is accepted any more.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(server.http).is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }

    conn.write_all(&body[10..]).unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 201 Created\r\n"),
        "{response}"
    );
    assert!(response.contains("\"browser\":\"firefox\""), "{response}");

    let status = server.wait(Duration::from_secs(40));
    assert!(status.success(), "{status}:\n{}", server.output());
    assert!(
        server.output().contains("pdd_server::app: stopped"),
        "{}",
        server.output()
    );
}

#[test]
fn sigint_stops_an_idle_server_with_exit_0() {
    let mut server = Server::start(&["-testing_mode"], &[]);
    assert!(
        server.output().contains("TESTING MODE"),
        "{}",
        server.output()
    );
    server.signal(libc::SIGINT);
    let status = server.wait(Duration::from_secs(40));
    assert!(status.success(), "{status}:\n{}", server.output());
}

#[test]
fn a_random_access_token_is_printed_exactly_once_and_works() {
    let mut server = Server::start(&[], &[]);
    let output = server.output();
    let line = output
        .lines()
        .find(|l| l.contains("access token"))
        .expect("the random token is printed");
    let token = line.rsplit(' ').next().unwrap();
    assert!(token.len() >= 20, "{token}");
    assert!(token.chars().all(|c| c.is_ascii_alphanumeric()), "{token}");
    let http = Client::new();
    let ok = http
        .get(server.url("/api/campaigns"))
        .bearer_auth(token)
        .send()
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let wrong = http
        .get(server.url("/api/campaigns"))
        .bearer_auth(format!("{token}x"))
        .send()
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(server.terminate().success());
    assert_eq!(
        server.output().matches(token).count(),
        1,
        "{}",
        server.output()
    );
}

#[test]
fn a_given_token_and_password_never_appear_in_the_output_even_at_log_level_all() {
    let token = "given-token-5d1e0c0ffee";
    let mut server = Server::start(
        &["-log_level=ALL"],
        &[
            ("PDD_API_ACCESS_TOKEN", token),
            ("PDD_MYSQL_PASSWORD", "given-password-77ab"),
        ],
    );
    let http = Client::new();
    let campaigns = http
        .get(server.url("/api/campaigns"))
        .bearer_auth(token)
        .send()
        .unwrap();
    assert_eq!(campaigns.status().as_u16(), 200);
    let stats = http
        .get(server.url(&format!("/api/stats?access_token={token}")))
        .send()
        .unwrap();
    assert_eq!(stats.status().as_u16(), 200);
    let public_key = "c0ffee00c0ffee00c0ffee00";
    let client = http
        .post(server.url("/api/clients"))
        .json(&serde_json::json!({"publicKey": public_key, "browser": "chrome"}))
        .send()
        .unwrap();
    assert_eq!(client.status().as_u16(), 201);
    assert!(server.terminate().success());
    let output = server.output();
    assert!(output.contains("api.access_token=<given>"), "{output}");
    assert!(output.contains("route=\"/api/stats\""), "{output}");
    for secret in [token, "given-password-77ab", public_key] {
        assert!(!output.contains(secret), "{secret} appears in:\n{output}");
    }
    assert!(
        !output.contains("access token ("),
        "no token printed when one is given"
    );
}

#[test]
fn a_second_signal_while_draining_exits_at_once_with_1() {
    let mut server = Server::start(&[], &[]);
    let mut conn = TcpStream::connect(server.http).unwrap();
    // A request whose body never completes keeps the drain waiting.
    write!(
        conn,
        "POST /api/clients HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        server.http
    )
    .unwrap();
    conn.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    server.signal(libc::SIGTERM);
    server.wait_for_output("shutting down");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !server.output().contains("pdd_server::app: stopped"),
        "{}",
        server.output()
    );
    server.signal(libc::SIGINT);
    let status = server.wait(Duration::from_secs(5));
    assert_eq!(status.code(), Some(1), "{}", server.output());
    assert!(
        server.output().contains("second signal"),
        "{}",
        server.output()
    );
}
