//! `-healthcheck`: the Docker HEALTHCHECK of an image without curl. Asks the admin interface's
//! `/health` on this host and exits 0 when it answers 200, 1 otherwise.
//!
//! Docker runs the check as a separate process that sees the container's environment but not
//! the server's flags. So when the check is given no flags of its own and the container's
//! first process is this same program, the admin port is read from that process's command
//! line (`/proc/1/cmdline`): the production example's `-admin.port=:9000` is then honoured.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::config::{self, HostPort, Invocation, Settings};

const TIMEOUT: Duration = Duration::from_secs(3);

pub fn run(settings: &Settings) -> ExitCode {
    let own_flags = std::env::args().skip(1).filter(|a| !is_mode(a)).count();
    let admin = if own_flags == 0 {
        server_admin_port().unwrap_or_else(|| settings.admin_port.clone())
    } else {
        settings.admin_port.clone()
    };
    match probe(&admin) {
        Ok(200) => {
            println!("healthy: {admin} /health answered 200");
            ExitCode::SUCCESS
        }
        Ok(status) => {
            println!("unhealthy: {admin} /health answered {status}");
            ExitCode::from(1)
        }
        Err(e) => {
            println!("unhealthy: {admin} /health: {e}");
            ExitCode::from(1)
        }
    }
}

fn is_mode(arg: &str) -> bool {
    matches!(arg, "-healthcheck" | "--healthcheck")
}

/// The admin port of the server running as the container's first process, if it is one.
fn server_admin_port() -> Option<HostPort> {
    if std::process::id() == 1 {
        return None;
    }
    let cmdline = std::fs::read("/proc/1/cmdline").ok()?;
    let exe = std::env::current_exe().ok()?;
    let program = exe.file_name()?.to_str()?;
    let args = server_args(&cmdline, program)?;
    let env: BTreeMap<String, String> = std::env::vars().collect();
    match config::parse(args, &env).ok()? {
        Invocation::Run(s) | Invocation::Check(s) => Some(s.admin_port),
        _ => None,
    }
}

/// The arguments of a NUL-separated command line whose program is named `program`.
fn server_args(cmdline: &[u8], program: &str) -> Option<Vec<String>> {
    let text = std::str::from_utf8(cmdline).ok()?;
    let mut words = text.split('\0');
    let argv0 = words.next()?;
    if Path::new(argv0).file_name()?.to_str()? != program {
        return None;
    }
    let mut args: Vec<String> = words.map(str::to_owned).collect();
    // The command line ends with a NUL, which leaves one empty word.
    if args.last().is_some_and(String::is_empty) {
        args.pop();
    }
    Some(args)
}

/// Where to reach a listener bound to `admin`: loopback when it listens on every interface.
fn target(admin: &HostPort) -> std::io::Result<SocketAddr> {
    let host = match admin.host.as_str() {
        "" | "0.0.0.0" => "127.0.0.1",
        "::" => "::1",
        host => host,
    };
    (host, admin.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("the admin host resolves to nothing"))
}

/// The status code of `GET /health`.
fn probe(admin: &HostPort) -> std::io::Result<u16> {
    let addr = target(admin)?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let request = format!(
        "GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: pdd-server-healthcheck\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") && head.len() < 256 {
        if stream.read(&mut byte)? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .filter(|_| line.starts_with("HTTP/"))
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {:?}", line.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_args_come_from_a_command_line_of_the_same_program() {
        let cmdline =
            b"/usr/local/bin/pdd-server\0-mysql_server=localhost:3306\0-admin.port=:9000\0";
        assert_eq!(
            server_args(cmdline, "pdd-server").unwrap(),
            ["-mysql_server=localhost:3306", "-admin.port=:9000"]
        );
        assert_eq!(
            server_args(b"pdd-server\0", "pdd-server").unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn another_program_as_first_process_gives_no_args() {
        assert_eq!(
            server_args(b"/sbin/docker-init\0--\0pdd-server\0", "pdd-server"),
            None
        );
        assert_eq!(server_args(b"", "pdd-server"), None);
    }

    #[test]
    fn listeners_on_every_interface_are_reached_on_loopback() {
        let hp = |host: &str| HostPort {
            host: host.into(),
            port: 9990,
        };
        assert_eq!(target(&hp("")).unwrap(), "127.0.0.1:9990".parse().unwrap());
        assert_eq!(
            target(&hp("0.0.0.0")).unwrap(),
            "127.0.0.1:9990".parse().unwrap()
        );
        assert_eq!(target(&hp("::")).unwrap(), "[::1]:9990".parse().unwrap());
        assert_eq!(
            target(&hp("127.0.0.2")).unwrap(),
            "127.0.0.2:9990".parse().unwrap()
        );
    }
}
