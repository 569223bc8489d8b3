//! Serving a warp filter on a bound listener with the protections `warp::serve` does not offer:
//! a deadline on reading each request's headers (hyper's timer is not set there, so a client
//! that sends a header line every few seconds, or nothing at all, would hold its connection
//! forever), a deadline on writing each answer (a client that pipelines requests and never
//! reads, or reads too slowly, is disconnected), requests read one at a time from a bounded
//! buffer, a cap on connections open at once and on those from one address, a lingering close
//! (`guarded_io`), and a graceful stop that lets requests in flight finish. HTTP/1.1 only:
//! browsers and the dashboard speak it, and HTTP/2 needs TLS in practice, which a reverse proxy
//! in front terminates.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use ipnet::IpNet;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::guarded_io::{refuse, GuardedIo};
use crate::adapters::http::filters::PeerAddr;
use crate::adapters::http::ratelimit::address_key;

/// The most hyper buffers of one connection's input (request heads) and output: a client that
/// pipelines requests is read from only as its answers go out.
pub const MAX_BUF_BYTES: usize = 64 * 1024;

/// How connections are served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// Time a client has to send a request's headers, counted from the connection's start or
    /// from the end of its previous response (so an idle keep-alive connection is closed
    /// after it too).
    pub header_timeout: Duration,
    /// Time a client has to take an answer once writing it blocks; it is disconnected after.
    pub write_timeout: Duration,
    /// Connections open at once; beyond it new ones wait in the listen backlog.
    pub max_connections: usize,
    /// Connections open at once from one address (an IPv6 /64); 0: no cap. Beyond it a new
    /// connection is answered 429 and closed.
    pub max_connections_per_ip: usize,
    /// Addresses not capped per address (trusted reverse proxies: many clients behind one).
    pub uncapped: Vec<IpNet>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            max_connections_per_ip: 64,
            uncapped: Vec::new(),
        }
    }
}

/// The answer to a connection over the per-address cap.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\n\
content-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 53\r\n\r\n\
{\"errors\":[\"too many connections from this address\"]}";

/// Connections open per address key.
#[derive(Default)]
struct PerAddress(Mutex<HashMap<u128, usize>>);

/// One connection counted against its address; uncounted when dropped.
struct AddressSlot {
    table: Arc<PerAddress>,
    key: u128,
}

impl PerAddress {
    /// A slot for `ip`, unless it already has `cap` connections.
    fn take(table: &Arc<PerAddress>, ip: IpAddr, cap: usize) -> Option<AddressSlot> {
        let key = address_key(ip);
        let mut open = table.0.lock();
        let n = open.entry(key).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            table: table.clone(),
            key,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.table.0.lock();
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Serves `filter` on `listener` until `stop` is cancelled; then stops accepting, closes idle
/// connections, and returns once every request in flight has been answered.
pub async fn serve(
    filter: BoxedFilter<(Response,)>,
    listener: TcpListener,
    options: ServeOptions,
    stop: CancellationToken,
) {
    serve_counted(filter, listener, options, stop, Arc::default()).await
}

/// `serve`, keeping in `open` the number of connections open (for the admin console).
pub async fn serve_counted(
    filter: BoxedFilter<(Response,)>,
    listener: TcpListener,
    options: ServeOptions,
    stop: CancellationToken,
    open: Arc<AtomicUsize>,
) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .max_buf_size(MAX_BUF_BYTES)
        .pipeline_flush(false);
    let per_address = Arc::new(PerAddress::default());
    let mut warned_full = false;
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if !warned_full {
                    warn!(
                        max_connections = options.max_connections,
                        "connection limit reached: new connections wait until one closes"
                    );
                    warned_full = true;
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    _ = stop.cancelled() => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Out of file descriptors, most likely: wait for some to close.
                        error!(error = %e, "cannot accept connections: retrying in 1 s");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                            _ = stop.cancelled() => break,
                        }
                    }
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        if permits.available_permits() > 0 {
            warned_full = false;
        }
        let ip = peer.ip().to_canonical();
        let slot = if options.max_connections_per_ip == 0
            || options.uncapped.iter().any(|net| net.contains(&ip))
        {
            None
        } else {
            match PerAddress::take(&per_address, ip, options.max_connections_per_ip) {
                Some(slot) => Some(slot),
                None => {
                    drop(permit);
                    debug!("connection over the per-address cap: answered 429");
                    tokio::spawn(refuse(stream, TOO_MANY_CONNECTIONS));
                    continue;
                }
            }
        };
        // Small answers go out at once rather than waiting on Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        // Tells each request which peer it came from (`filters::peer`).
        let svc = TowerToHyperService::new(warp::service(filter.clone()));
        let svc = service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(PeerAddr(peer));
            hyper::service::Service::call(&svc, req)
        });
        let io = GuardedIo::new(stream, options.write_timeout);
        let conn = http.serve_connection(TokioIo::new(io), svc);
        let conn = graceful.watch(conn);
        open.fetch_add(1, Ordering::Relaxed);
        let open = open.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                // Slow, vanished or garbled clients: theirs to fix, not ours.
                debug!(error = %e, "connection closed with an error");
            }
            open.fetch_sub(1, Ordering::Relaxed);
            drop(slot);
            drop(permit);
        });
    }
    // Closes the listening socket before waiting for the connections.
    drop(listener);
    graceful.shutdown().await;
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}
