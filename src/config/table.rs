//! The settings table: every setting's name (flag, TOML key, `PDD_` variable), default and
//! meaning, in one place. It drives the flags, the environment, the defaults layer and `-help`.

/// Where the `-geocoder=maxmind` database is looked for unless told otherwise (the Docker image
/// ships one there).
pub const DEFAULT_MAXMIND_DB: &str = "/usr/share/pdd-server/country.mmdb";

/// The default environment name when `ENVIRONMENT` is unset.
pub const DEFAULT_ENVIRONMENT: &str = "devel";

/// One setting: its name (flag, TOML key, and `PDD_` variable after upper-casing), default,
/// and meaning. The table drives the flags, the environment, the defaults and `-help`.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    /// Placeholder of the value in `-help`; `None` for booleans.
    pub value: Option<&'static str>,
    /// The default fed to the defaults layer; `None` when the setting is unset by default.
    pub default: Option<&'static str>,
    /// The default as shown in `-help` (e.g. "random", "unset").
    pub shown_default: &'static str,
    pub help: &'static str,
}

impl Spec {
    pub fn is_bool(&self) -> bool {
        self.value.is_none()
    }

    /// `PDD_` followed by the name with dots as underscores, upper case.
    pub fn env_name(&self) -> String {
        format!("PDD_{}", self.name.replace('.', "_").to_ascii_uppercase())
    }
}

pub const SPECS: &[Spec] = &[
    Spec {
        name: "http.port",
        value: Some("host:port"),
        default: Some(":8000"),
        shown_default: "\":8000\"",
        help: "main (public) interface; the host may be empty (all interfaces) but the colon stays",
    },
    Spec {
        name: "admin.port",
        value: Some("host:port"),
        default: Some(":9990"),
        shown_default: "\":9990\"",
        help: "admin interface (health, metrics, jobs); keep it private",
    },
    Spec {
        name: "api.access_token",
        value: Some("token"),
        default: None,
        shown_default: "random, printed once at start-up",
        help: "bearer token of the private API (prefer PDD_API_ACCESS_TOKEN to keep it off the command line)",
    },
    Spec {
        name: "mysql_server",
        value: Some("host:port"),
        default: None,
        shown_default: "unset: in-memory storage, nothing persists",
        help: "MySQL/MariaDB server to store everything in",
    },
    Spec {
        name: "mysql_user",
        value: Some("user"),
        default: Some("root"),
        shown_default: "\"root\"",
        help: "MySQL user",
    },
    Spec {
        name: "mysql_password",
        value: Some("password"),
        default: Some(""),
        shown_default: "empty",
        help: "MySQL password (prefer PDD_MYSQL_PASSWORD)",
    },
    Spec {
        name: "mysql_timeout",
        value: Some("duration"),
        default: Some("5.seconds"),
        shown_default: "\"5.seconds\"",
        help: "longest a request may wait on MySQL (connecting included) before it answers 503",
    },
    Spec {
        name: "mysql_database",
        value: Some("name"),
        default: Some("pdd"),
        shown_default: "\"pdd\"",
        help: "MySQL database, created with its tables when missing",
    },
    Spec {
        name: "geocoder",
        value: Some("none|maxmind"),
        default: Some("none"),
        shown_default: "\"none\"",
        help: "how client addresses become countries: none (alias null) or maxmind",
    },
    Spec {
        name: "geocoder.maxmind_db",
        value: Some("path"),
        default: Some(DEFAULT_MAXMIND_DB),
        shown_default: "\"/usr/share/pdd-server/country.mmdb\"",
        help: "country database (.mmdb) read by -geocoder=maxmind",
    },
    Spec {
        name: "datadog_server",
        value: Some("host:port"),
        default: None,
        shown_default: "unset: metrics only on the admin port",
        help: "DogStatsD agent to also send metrics to (UDP)",
    },
    Spec {
        name: "groups",
        value: Some("naive|frequency"),
        default: Some("naive"),
        shown_default: "\"naive\"",
        help: "group strategy: naive (shuffle everyone) or frequency (only regular clients)",
    },
    Spec {
        name: "timezone",
        value: Some("zone"),
        default: Some("Europe/London"),
        shown_default: "\"Europe/London\"",
        help: "reference time zone of days and job times (IANA name)",
    },
    Spec {
        name: "prune_threshold",
        value: Some("duration"),
        default: Some("15.days"),
        shown_default: "\"15.days\"",
        help: "inactivity after which a client is deleted (15.days, 36.hours, 90.minutes, 30.seconds)",
    },
    Spec {
        name: "testing_mode",
        value: None,
        default: Some("false"),
        shown_default: "false",
        help: "run the clock 288 times fast: a day lasts 5 minutes (never in production)",
    },
    Spec {
        name: "log_level",
        value: Some("level"),
        default: Some("INFO"),
        shown_default: "\"INFO\"",
        help: "ALL, TRACE, DEBUG, INFO, WARN, ERROR or OFF (any case)",
    },
    Spec {
        name: "http.trusted_proxies",
        value: Some("cidr,..."),
        default: Some(""),
        shown_default: "empty: use the socket peer address",
        help: "reverse proxies whose X-Forwarded-For is believed (comma-separated CIDR blocks)",
    },
    Spec {
        name: "http.header_timeout",
        value: Some("duration"),
        default: Some("10.seconds"),
        shown_default: "\"10.seconds\"",
        help: "time a client has to send a request's headers (idle keep-alive connections are closed after it too)",
    },
    Spec {
        name: "http.body_timeout",
        value: Some("duration"),
        default: Some("60.seconds"),
        shown_default: "\"60.seconds\"",
        help: "time a client has to send a request's body once its headers are in (408 beyond)",
    },
    Spec {
        name: "http.max_connections",
        value: Some("n"),
        default: Some("10000"),
        shown_default: "10000",
        help: "connections open at once on each interface; more wait in the listen backlog",
    },
    Spec {
        name: "http.write_timeout",
        value: Some("duration"),
        default: Some("30.seconds"),
        shown_default: "\"30.seconds\"",
        help: "time a client has to take an answer once the server starts writing it; slower readers are disconnected",
    },
    Spec {
        name: "http.max_connections_per_ip",
        value: Some("n"),
        default: Some("64"),
        shown_default: "64",
        help: "connections open at once from one client address (an IPv6 /64); 0: no cap; trusted proxies are not capped",
    },
    Spec {
        name: "http.rate_limit.register",
        value: Some("n"),
        default: Some("10"),
        shown_default: "10",
        help: "registrations (POST /api/clients) per minute per client address (an IPv6 /64); 0: no limit; 429 with Retry-After beyond",
    },
    Spec {
        name: "http.rate_limit.register_burst",
        value: Some("n"),
        default: Some("20"),
        shown_default: "20",
        help: "registrations one client address may make at once before the per-minute rate applies",
    },
    Spec {
        name: "http.rate_limit.ping",
        value: Some("n"),
        default: Some("60"),
        shown_default: "60",
        help: "pings (GET or POST /api/clients/{name}/ping) per minute per client address; 0: no limit",
    },
    Spec {
        name: "http.rate_limit.ping_burst",
        value: Some("n"),
        default: Some("120"),
        shown_default: "120",
        help: "pings one client address may make at once before the per-minute rate applies",
    },
    Spec {
        name: "http.rate_limit.unknown",
        value: Some("n"),
        default: Some("60"),
        shown_default: "60",
        help: "answers 404 for a path no route has, and 405, per minute per client address; 0: no limit; 429 beyond",
    },
    Spec {
        name: "http.rate_limit.unknown_burst",
        value: Some("n"),
        default: Some("120"),
        shown_default: "120",
        help: "unknown routes one client address may ask at once before the per-minute rate applies",
    },
    Spec {
        name: "config",
        value: Some("path"),
        default: None,
        shown_default: "unset",
        help: "TOML file holding any of these settings (see config.example.toml)",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_flags_table_lists_every_flag() {
        let readme = include_str!("../../README.md");
        for spec in SPECS {
            let row = format!("| `-{}` |", spec.name);
            assert!(readme.contains(&row), "README.md has no row {row}");
        }
    }
}
