//! Serving a warp filter on a bound listener with the protections `warp::serve` does not offer:
//! a deadline on reading each request's headers (hyper's timer is not set there, so a client
//! that sends a header line every few seconds, or nothing at all, would hold its connection
//! forever), a cap on connections open at once, and a graceful stop that lets requests in
//! flight finish. HTTP/1.1 only: browsers and the dashboard speak it, and HTTP/2 needs TLS in
//! practice, which a reverse proxy in front terminates.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::adapters::http::filters::PeerAddr;

/// How connections are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// Time a client has to send a request's headers, counted from the connection's start or
    /// from the end of its previous response (so an idle keep-alive connection is closed
    /// after it too).
    pub header_timeout: Duration,
    /// Connections open at once; beyond it new ones wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_timeout: Duration::from_secs(10),
            max_connections: 10_000,
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
        .header_read_timeout(options.header_timeout);
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
        // Small answers go out at once rather than waiting on Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        // Tells each request which peer it came from (`filters::peer`).
        let svc = TowerToHyperService::new(warp::service(filter.clone()));
        let svc = service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(PeerAddr(peer));
            hyper::service::Service::call(&svc, req)
        });
        let conn = http.serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn);
        open.fetch_add(1, Ordering::Relaxed);
        let open = open.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                // Slow, vanished or garbled clients: theirs to fix, not ours.
                debug!(error = %e, "connection closed with an error");
            }
            open.fetch_sub(1, Ordering::Relaxed);
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
