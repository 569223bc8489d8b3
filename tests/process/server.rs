//! Starts the built `pdd-server` binary on free loopback ports, collects everything it prints,
//! and stops it with signals.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_pdd-server");

/// The binary run to completion (for `-help`, `-check_config`, bad flags).
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary with `args` in an empty environment (plus `env`) and waits for it.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Finished {
    let out = Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("the pdd-server binary runs");
    Finished {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A running server.
pub struct Server {
    child: Child,
    pub http: SocketAddr,
    pub admin: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
}

fn collect(stream: impl Read + Send + 'static, lines: Arc<Mutex<Vec<String>>>) {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            lines.lock().unwrap().push(line);
        }
    });
}

/// The address after `key=` in a line.
fn addr_after(line: &str, key: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

impl Server {
    /// Starts the server with `args` (both ports on 127.0.0.1:0 unless given) in an empty
    /// environment plus `env`, and waits until it says where it listens.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut all: Vec<&str> = Vec::new();
        if !args.iter().any(|a| a.starts_with("-http.port")) {
            all.push("-http.port=127.0.0.1:0");
        }
        if !args.iter().any(|a| a.starts_with("-admin.port")) {
            all.push("-admin.port=127.0.0.1:0");
        }
        all.extend_from_slice(args);
        let mut child = Command::new(BIN)
            .args(&all)
            .env_clear()
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the pdd-server binary starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().unwrap(), lines.clone());
        collect(child.stderr.take().unwrap(), lines.clone());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = lines.lock().unwrap().iter().find_map(|l| {
                if l.contains(" listening ") {
                    Some((addr_after(l, "http=")?, addr_after(l, "admin=")?))
                } else {
                    None
                }
            });
            if let Some((http, admin)) = found {
                return Server {
                    child,
                    http,
                    admin,
                    lines,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                thread::sleep(Duration::from_millis(100));
                panic!(
                    "the server exited ({status}) before listening:\n{}",
                    lines.lock().unwrap().join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "the server did not say where it listens within 30 s:\n{}",
                lines.lock().unwrap().join("\n")
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    /// Everything printed so far, stdout and stderr, one line each.
    pub fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits up to 10 s for `what` to appear in the output (a log line may be written just
    /// after the response it describes has reached the client).
    pub fn wait_for_output(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.output().contains(what) {
            assert!(
                Instant::now() < deadline,
                "no {what:?} in:\n{}",
                self.output()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, sig: i32) {
        let pid = self.child.id() as i32;
        // SAFETY: kill(2) with the pid of a child this test spawned and still owns.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig})");
    }

    /// Waits for the process to exit, up to `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the readers drain what was printed last.
                thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit within {timeout:?}:\n{}",
                self.output()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait(Duration::from_secs(40))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
