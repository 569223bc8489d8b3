//! The socket under each HTTP connection, with the two guards hyper does not have: a deadline
//! on handing an answer to a client that does not read it (`write_timeout`), and a lingering
//! close: when the connection is closed while the client is still sending (a 413 answered from
//! the headers, before a 20 MiB body), the rest is read and thrown away, bounded, so that the
//! client reaches its read and sees the status instead of a reset.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{sleep, Sleep};

/// The most a lingering close reads and discards.
pub const LINGER_BYTES: u64 = 64 * 1024 * 1024;
/// The longest a lingering close lasts.
pub const LINGER_TIME: Duration = Duration::from_secs(5);
/// A lingering close ends once the client has sent nothing for this long.
pub const LINGER_QUIET: Duration = Duration::from_millis(500);

enum Closing {
    Open,
    /// Our side is shut (FIN sent); reading what the client still sends.
    Draining {
        until: Pin<Box<Sleep>>,
        quiet: Pin<Box<Sleep>>,
        left: u64,
    },
    Closed,
}

/// A TCP stream whose writes fail with `TimedOut` when an answer is not taken in time, and
/// whose shutdown lingers while the client is still sending.
pub struct GuardedIo {
    stream: TcpStream,
    write_timeout: Duration,
    /// Set when a write first blocks; cleared once everything written is with the kernel
    /// (hyper flushes after each answer).
    write_deadline: Option<Pin<Box<Sleep>>>,
    closing: Closing,
}

impl GuardedIo {
    pub fn new(stream: TcpStream, write_timeout: Duration) -> Self {
        GuardedIo {
            stream,
            write_timeout,
            write_deadline: None,
            closing: Closing::Open,
        }
    }

    /// Called when the socket cannot take more: pending until the deadline, an error after.
    fn blocked<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let timeout = self.write_timeout;
        let deadline = self
            .write_deadline
            .get_or_insert_with(|| Box::pin(sleep(timeout)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not take its answer within the write timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Closing::Draining { until, quiet, left } = &mut self.closing else {
            return Poll::Ready(Ok(()));
        };
        let mut buf = [0u8; 16 * 1024];
        loop {
            let mut read = ReadBuf::new(&mut buf);
            match Pin::new(&mut self.stream).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if !read.filled().is_empty() => {
                    let n = read.filled().len() as u64;
                    *left = left.saturating_sub(n);
                    if *left == 0 {
                        break;
                    }
                    quiet
                        .as_mut()
                        .reset(tokio::time::Instant::now() + LINGER_QUIET);
                }
                // End of stream or an error: the client is done.
                Poll::Ready(_) => break,
                Poll::Pending => {
                    if until.as_mut().poll(cx).is_ready() || quiet.as_mut().poll(cx).is_ready() {
                        break;
                    }
                    return Poll::Pending;
                }
            }
        }
        self.closing = Closing::Closed;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write(cx, buf) {
            Poll::Pending => self.blocked(cx),
            ready => ready,
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write_vectored(cx, bufs) {
            Poll::Pending => self.blocked(cx),
            ready => ready,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(Pin::new(&mut self.stream).poll_flush(cx))?;
        self.write_deadline = None;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Closing::Open = self.closing {
            // Our answer is out: FIN, then read what the client still sends.
            ready!(Pin::new(&mut self.stream).poll_shutdown(cx))?;
            let now = tokio::time::Instant::now();
            self.closing = Closing::Draining {
                until: Box::pin(tokio::time::sleep_until(now + LINGER_TIME)),
                quiet: Box::pin(tokio::time::sleep_until(now + LINGER_QUIET)),
                left: LINGER_BYTES,
            };
        }
        self.poll_drain(cx)
    }
}

/// Writes a short answer on a connection that will not be served, takes a bounded look at
/// what the client sends, and closes it.
pub async fn refuse(stream: TcpStream, answer: &[u8]) {
    use tokio::io::AsyncWriteExt;
    let mut io = GuardedIo::new(stream, Duration::from_secs(1));
    let _ = tokio::time::timeout(Duration::from_secs(1), io.write_all(answer)).await;
    let _ = tokio::time::timeout(LINGER_TIME, io.shutdown()).await;
}
