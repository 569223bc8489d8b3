//! `-healthcheck`: the Docker HEALTHCHECK (the image has no curl) asks the admin interface of
//! the server running beside it for `/health`.

use std::time::Duration;

use crate::config::{HostPort, Settings};

/// Where to reach a listener of this host: loopback when it listens on all interfaces.
fn local_host(addr: &HostPort) -> &str {
    match addr.host.as_str() {
        "" | "0.0.0.0" => "127.0.0.1",
        "::" => "::1",
        h => h,
    }
}

/// `-healthcheck` (the Docker HEALTHCHECK, which has no curl): asks `/health` of the admin
/// interface of a server on this host, at the loopback address when it listens on all.
///
/// Docker runs the check as another process that shares the container's environment but not
/// the server's flags. So when the check is given no flags of its own and the container's
/// first process is this same program, the admin port comes from that process's command line
/// (`/proc/1/cmdline`): the production example's `-admin.port=:9000` is then honoured.
pub fn healthcheck(settings: &Settings) -> Result<(), String> {
    use std::io::{Read, Write};
    let own_flags = std::env::args()
        .skip(1)
        .filter(|a| !matches!(a.as_str(), "-healthcheck" | "--healthcheck"))
        .count();
    let server_port = if own_flags == 0 {
        first_process_admin_port()
    } else {
        None
    };
    let addr = server_port.as_ref().unwrap_or(&settings.admin_port);
    let host = local_host(addr);
    let timeout = Duration::from_secs(5);
    let target = std::net::ToSocketAddrs::to_socket_addrs(&(host, addr.port))
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {addr}"))?;
    let mut conn = std::net::TcpStream::connect_timeout(&target, timeout)
        .map_err(|e| format!("cannot connect to the admin interface at {target}: {e}"))?;
    conn.set_read_timeout(Some(timeout)).ok();
    conn.set_write_timeout(Some(timeout)).ok();
    conn.write_all(format!("GET /health HTTP/1.0\r\nHost: {target}\r\n\r\n").as_bytes())
        .map_err(|e| format!("cannot ask {target}: {e}"))?;
    let mut response = Vec::new();
    conn.take(64 * 1024)
        .read_to_end(&mut response)
        .map_err(|e| format!("no answer from {target}: {e}"))?;
    let response = String::from_utf8_lossy(&response);
    let status = response.lines().next().unwrap_or_default();
    if status.split(' ').nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("/health at {target} answered {status:?}"))
    }
}

/// The admin port of the server running as this container's first process, if it is one.
fn first_process_admin_port() -> Option<HostPort> {
    if std::process::id() == 1 {
        return None;
    }
    let cmdline = std::fs::read("/proc/1/cmdline").ok()?;
    let exe = std::env::current_exe().ok()?;
    let args = server_args(&cmdline, exe.file_name()?.to_str()?)?;
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    match crate::config::parse(args, &env).ok()? {
        crate::config::Invocation::Run(s) | crate::config::Invocation::Check(s) => {
            Some(s.admin_port)
        }
        _ => None,
    }
}

/// The arguments of a NUL-separated command line whose program is named `program`.
fn server_args(cmdline: &[u8], program: &str) -> Option<Vec<String>> {
    let text = std::str::from_utf8(cmdline).ok()?;
    let mut words = text.split('\0');
    let argv0 = words.next()?;
    if std::path::Path::new(argv0).file_name()?.to_str()? != program {
        return None;
    }
    let mut args: Vec<String> = words.map(str::to_owned).collect();
    // The command line ends with a NUL, which leaves one empty word.
    if args.last().is_some_and(String::is_empty) {
        args.pop();
    }
    Some(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_reads_the_server_args_of_a_command_line_of_the_same_program() {
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
        assert_eq!(
            server_args(b"/sbin/docker-init\0--\0pdd-server\0", "pdd-server"),
            None
        );
        assert_eq!(server_args(b"", "pdd-server"), None);
    }

    #[test]
    fn healthcheck_reaches_a_listener_on_all_interfaces_through_loopback() {
        let host = |s: &str| local_host(&s.parse().unwrap()).to_string();
        assert_eq!(host(":9990"), "127.0.0.1");
        assert_eq!(host("0.0.0.0:9990"), "127.0.0.1");
        assert_eq!(host("[::]:9990"), "::1");
        assert_eq!(host("10.1.2.3:9990"), "10.1.2.3");
        assert_eq!(host("localhost:9990"), "localhost");
    }
}
