//! Hostile and careless clients over real sockets: pipelining without reading, reading too
//! slowly, too many connections from one address, floods of unknown routes, and a client that
//! writes a whole oversized body before it reads. The server keeps serving everyone else.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::server::Server;

/// A connection to `to` from the loopback address `from` (127.0.0.2, …: every 127/8 address
/// is this machine), so that a test can play several client addresses.
fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    connect(Some(from), to, None)
}

/// A connection with a small receive buffer: what the server sent before it closed the
/// connection is soon read, and the close seen.
fn connect_small(to: SocketAddr) -> TcpStream {
    connect(None, to, Some(8 * 1024))
}

fn connect(from: Option<&str>, to: SocketAddr, receive_buffer: Option<u32>) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let conn = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        if let Some(from) = from {
            socket
                .bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))
                .unwrap();
        }
        if let Some(size) = receive_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        socket.connect(to).await.unwrap().into_std().unwrap()
    });
    // Tokio leaves its sockets non-blocking; these tests read and write plainly.
    conn.set_nonblocking(false).unwrap();
    conn
}

/// `count` pipelined requests for the OpenAPI description (96 KB each, so that the answers
/// soon fill the socket buffers), written from a thread that gives up once the server stops
/// reading them (the connection is closed or blocks for 20 s).
fn pipeline_without_reading(conn: &TcpStream, count: usize) -> thread::JoinHandle<()> {
    let mut writer = conn.try_clone().unwrap();
    writer
        .set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    thread::spawn(move || {
        let batch = "GET /api/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n".repeat(100);
        for _ in 0..count / 100 {
            if writer.write_all(batch.as_bytes()).is_err() {
                return;
            }
        }
    })
}

/// Reads (slowly when `pause` is set) until the server closes the connection, at most
/// `limit`; the time it took.
fn time_until_closed(conn: &mut TcpStream, pause: Option<Duration>, limit: Duration) -> Duration {
    let started = Instant::now();
    conn.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = vec![0u8; if pause.is_some() { 256 } else { 64 * 1024 }];
    loop {
        assert!(
            started.elapsed() < limit,
            "the connection is still open after {limit:?}"
        );
        match conn.read(&mut buf) {
            Ok(0) => return started.elapsed(),
            Ok(_) => {
                if let Some(pause) = pause {
                    thread::sleep(pause);
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return started.elapsed(),
        }
    }
}

#[test]
fn clients_that_pipeline_and_never_read_are_disconnected_and_others_are_served() {
    // As many attackers as connection slots: before the write timeout they held the server
    // unreachable for as long as they stayed.
    let server = Server::start(
        &[
            "-http.max_connections=4",
            "-http.write_timeout=1.seconds",
            "-http.max_connections_per_ip=0",
        ],
        &[],
    );
    let attackers: Vec<TcpStream> = (0..4).map(|_| connect_small(server.http)).collect();
    let writers: Vec<_> = attackers
        .iter()
        .map(|c| pipeline_without_reading(c, 2_000))
        .collect();
    thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let answer = client
        .get(server.url("/api/clients/someone/ping"))
        .send()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 404);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "served after {took:?}");
    // Each attacker's connection was closed by the server (it never read a byte).
    for mut conn in attackers {
        time_until_closed(&mut conn, None, Duration::from_secs(30));
    }
    for w in writers {
        w.join().unwrap();
    }
}

#[test]
fn a_slow_reader_is_disconnected_after_the_write_timeout() {
    let server = Server::start(&["-http.write_timeout=1.seconds"], &[]);
    let mut conn = connect_small(server.http);
    let writer = pipeline_without_reading(&conn, 2_000);
    // 256 bytes every 50 ms: about 5 KB/s, far too slow for the answers asked for.
    let took = time_until_closed(
        &mut conn,
        Some(Duration::from_millis(50)),
        Duration::from_secs(30),
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
    writer.join().unwrap();
    // The server itself is fine.
    let ok = reqwest::blocking::get(server.url("/api/clients/x/ping")).unwrap();
    assert_eq!(ok.status().as_u16(), 404);
}

fn request(conn: &mut TcpStream, path: &str) -> String {
    write!(conn, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // Headers, then the body by its Content-Length.
    loop {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if answer.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

#[test]
fn connections_beyond_the_cap_of_one_address_are_answered_429_and_closed() {
    let server = Server::start(&["-http.max_connections_per_ip=3"], &[]);
    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| connect_from("127.0.0.2", server.http))
        .collect();
    for conn in &mut held {
        assert!(request(conn, "/api/clients/x/ping").starts_with("HTTP/1.1 404 "));
    }
    let mut fourth = connect_from("127.0.0.2", server.http);
    let _ = write!(
        fourth,
        "GET /api/clients/x/ping HTTP/1.1\r\nHost: x\r\n\r\n"
    );
    fourth
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = String::new();
    let _ = fourth.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with(r#"{"errors":["too many connections from this address"]}"#),
        "{answer}"
    );
    // Another address is not affected.
    let mut other = connect_from("127.0.0.3", server.http);
    assert!(request(&mut other, "/api/clients/x/ping").starts_with("HTTP/1.1 404 "));
    // Once one of the three closes, the address may open another.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = connect_from("127.0.0.2", server.http);
        let _ = write!(again, "GET /api/clients/x/ping HTTP/1.1\r\nHost: x\r\n\r\n");
        again
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 64];
        let n = again.read(&mut buf).unwrap_or(0);
        let head = String::from_utf8_lossy(&buf[..n]).into_owned();
        if head.starts_with("HTTP/1.1 404 ") {
            break;
        }
        assert!(head.starts_with("HTTP/1.1 429 "), "{head}");
        assert!(
            Instant::now() < deadline,
            "the closed connection was not released"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_flood_of_unknown_routes_is_answered_429() {
    let server = Server::start(&[], &[]);
    let mut conn = TcpStream::connect(server.http).unwrap();
    // 120 at once, then 1 a second (so one or two more while these go).
    let mut served = 0;
    let answer = loop {
        let answer = request(&mut conn, &format!("/no/such/route/{served}"));
        if !answer.starts_with("HTTP/1.1 404 Not Found\r\n") {
            break answer;
        }
        served += 1;
        assert!(served <= 130, "still 404 after {served}");
    };
    assert!(served >= 120, "{served}");
    assert!(
        answer.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
        "{answer}"
    );
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nretry-after: 1\r\n"),
        "{answer}"
    );
    // A wrong method counts the same; a known route is answered as usual.
    let mut post = TcpStream::connect(server.http).unwrap();
    write!(
        post,
        "DELETE /api/clients HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 64];
    post.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = post.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 429 "));
    assert!(request(&mut conn, "/api/clients/x/ping").starts_with("HTTP/1.1 404 "));
}

#[test]
fn a_client_that_writes_20_mib_before_reading_gets_the_413() {
    let server = Server::start(&[], &[]);
    let mut conn = TcpStream::connect(server.http).unwrap();
    conn.set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let size = 20 * 1024 * 1024;
    write!(
        conn,
        "POST /api/clients HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    )
    .unwrap();
    let chunk = vec![b' '; 1024 * 1024];
    let started = Instant::now();
    for i in 0..20 {
        conn.write_all(&chunk)
            .unwrap_or_else(|e| panic!("write {i} of 20 MiB failed: {e}"));
    }
    let mut answer = String::new();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with(r#"{"errors":["body: should be at most 2097152 bytes"]}"#),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}
