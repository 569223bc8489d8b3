//! The value types of settings, each with its parser. Every parser error names the offending
//! value so that the start-up error line can show it (secrets are read in `de`, which never
//! echoes them).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use chrono::TimeDelta;
use ipnet::IpNet;

/// A `host:port` address. The host may be empty (all interfaces, for listeners), a name, an
/// IPv4 address or a bracketed IPv6 address (`[::1]:8000`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// Without brackets; empty when none was given.
    pub host: String,
    pub port: u16,
}

impl HostPort {
    /// The host to bind a listener to: all IPv4 interfaces when the host is empty.
    pub fn bind_host(&self) -> &str {
        if self.host.is_empty() {
            "0.0.0.0"
        } else {
            &self.host
        }
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

fn valid_hostname(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

impl FromStr for HostPort {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| format!("{s:?} is not host:port ({why})");
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| bad("the colon is missing; write \":8000\" for all interfaces"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| bad("the port must be a number from 0 to 65535"))?;
        let host = if let Some(inner) = host.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or_else(|| bad("unclosed '['"))?;
            inner
                .parse::<Ipv6Addr>()
                .map_err(|_| bad("not an IPv6 address between the brackets"))?;
            inner.to_string()
        } else if host.is_empty() || host.parse::<IpAddr>().is_ok() && !host.contains(':') {
            host.to_string()
        } else if host.contains(':') {
            return Err(bad("write an IPv6 host between brackets, e.g. [::1]:8000"));
        } else if valid_hostname(host) {
            host.to_string()
        } else {
            return Err(bad("the host is not a valid name or address"));
        };
        Ok(HostPort { host, port })
    }
}

/// A reasonable `Duration` in the `15.days` / `36.hours` / `90.minutes` / `30.seconds` syntax
/// (singular units and `milliseconds` too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub TimeDelta);

impl FromStr for Span {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "{s:?} is not a duration (write e.g. 15.days, 36.hours, 90.minutes or 30.seconds)"
            )
        };
        let (n, unit) = s.trim().split_once('.').ok_or_else(bad)?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: i64 = n.parse().map_err(|_| bad())?;
        let delta = match unit {
            "day" | "days" => TimeDelta::try_days(n),
            "hour" | "hours" => TimeDelta::try_hours(n),
            "minute" | "minutes" => TimeDelta::try_minutes(n),
            "second" | "seconds" => TimeDelta::try_seconds(n),
            "millisecond" | "milliseconds" => TimeDelta::try_milliseconds(n),
            _ => None,
        }
        .filter(|d| *d <= TimeDelta::days(100 * 365))
        .ok_or_else(bad)?;
        if delta <= TimeDelta::zero() {
            return Err(format!("{s:?} is not a positive duration"));
        }
        Ok(Span(delta))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.num_milliseconds();
        let units = [
            (86_400_000, "days"),
            (3_600_000, "hours"),
            (60_000, "minutes"),
            (1_000, "seconds"),
        ];
        for (size, name) in units {
            if ms % size == 0 {
                return write!(f, "{}.{name}", ms / size);
            }
        }
        write!(f, "{ms}.milliseconds")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeocoderKind {
    None,
    Maxmind,
}

impl GeocoderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GeocoderKind::None => "none",
            GeocoderKind::Maxmind => "maxmind",
        }
    }
}

impl FromStr for GeocoderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "null" => Ok(GeocoderKind::None),
            "maxmind" => Ok(GeocoderKind::Maxmind),
            _ => Err(format!(
                "unknown geocoder {s:?} (expected none, null or maxmind)"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    All,
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Off,
}

impl LogLevel {
    pub fn filter(self) -> tracing_subscriber::filter::LevelFilter {
        use tracing_subscriber::filter::LevelFilter;
        match self {
            LogLevel::All | LogLevel::Trace => LevelFilter::TRACE,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Error => LevelFilter::ERROR,
            LogLevel::Off => LevelFilter::OFF,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::All => "ALL",
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
            LogLevel::Off => "OFF",
        }
    }
}

impl FromStr for LogLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "ALL" => LogLevel::All,
            "TRACE" => LogLevel::Trace,
            "DEBUG" => LogLevel::Debug,
            "INFO" => LogLevel::Info,
            "WARN" | "WARNING" => LogLevel::Warn,
            "ERROR" => LogLevel::Error,
            "OFF" => LogLevel::Off,
            _ => {
                return Err(format!(
                    "unknown log level {s:?} (expected ALL, TRACE, DEBUG, INFO, WARN, ERROR or OFF)"
                ))
            }
        })
    }
}

/// One CIDR block, or a bare address meaning just that address.
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{s:?} is not a CIDR block (e.g. 10.0.0.0/8) or an IP address"))
}

/// A comma-separated list of CIDR blocks (empty for none).
pub fn parse_cidrs(s: &str) -> Result<Vec<IpNet>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(parse_cidr)
        .collect()
}

pub(super) fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("{s:?} is not a boolean (expected true or false)")),
    }
}

/// A whole number, 0 included.
pub(super) fn parse_count(s: &str) -> Result<u32, String> {
    s.trim()
        .parse::<u32>()
        .map_err(|_| format!("{s:?} is not a whole number from 0 to {}", u32::MAX))
}

/// A whole number of at least 1.
pub(super) fn parse_positive(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "{s:?} is not a whole number from 1 to {}",
            u32::MAX
        )),
    }
}

/// A MySQL database name: it ends up as an identifier, so keep it to a safe alphabet.
pub(super) fn parse_database(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a database name (1 to 64 letters, digits, '_' or '$')"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(s: &str) -> Result<HostPort, String> {
        s.parse()
    }

    #[test]
    fn host_port_accepts_empty_host_names_ipv4_and_bracketed_ipv6() {
        assert_eq!(
            hp(":8000"),
            Ok(HostPort {
                host: String::new(),
                port: 8000
            })
        );
        assert_eq!(hp(":8000").unwrap().bind_host(), "0.0.0.0");
        assert_eq!(hp("localhost:3306").unwrap().host, "localhost");
        assert_eq!(hp("127.0.0.1:0").unwrap().port, 0);
        assert_eq!(hp("[::1]:9990").unwrap().host, "::1");
        assert_eq!(hp("[::1]:9990").unwrap().to_string(), "[::1]:9990");
        assert_eq!(
            hp("db-1.internal:3306").unwrap().to_string(),
            "db-1.internal:3306"
        );
    }

    #[test]
    fn host_port_rejects_missing_colon_bad_port_bad_host_and_bare_ipv6() {
        for bad in [
            "8000",
            "",
            ":",
            ":http",
            ":65536",
            ":-1",
            "host:",
            "a b:80",
            "::1:80",
            "[::1:80",
            "[nope]:80",
            "a..b:80",
        ] {
            let err = hp(bad).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
        assert!(hp("8000").unwrap_err().contains("colon"));
        assert!(hp(":65536").unwrap_err().contains("port"));
    }

    #[test]
    fn durations_in_days_hours_minutes_seconds() {
        let span = |s: &str| s.parse::<Span>().map(|s| s.0);
        assert_eq!(span("15.days"), Ok(TimeDelta::days(15)));
        assert_eq!(span("1.day"), Ok(TimeDelta::days(1)));
        assert_eq!(span("36.hours"), Ok(TimeDelta::hours(36)));
        assert_eq!(span("90.minutes"), Ok(TimeDelta::minutes(90)));
        assert_eq!(span("30.seconds"), Ok(TimeDelta::seconds(30)));
        assert_eq!(span("250.milliseconds"), Ok(TimeDelta::milliseconds(250)));
        for bad in [
            "15",
            "15days",
            "15.weeks",
            ".days",
            "-1.days",
            "1.5.days",
            "x.days",
            "15.Days",
            "99999999999999999999.days",
            "100000.days",
        ] {
            assert!(
                span(bad).unwrap_err().contains(&format!("{bad:?}")),
                "{bad}"
            );
        }
        assert!(span("0.days").unwrap_err().contains("positive"));
    }

    #[test]
    fn durations_display_in_their_largest_whole_unit() {
        let show = |s: &str| s.parse::<Span>().unwrap().to_string();
        assert_eq!(show("15.days"), "15.days");
        assert_eq!(show("48.hours"), "2.days");
        assert_eq!(show("36.hours"), "36.hours");
        assert_eq!(show("90.minutes"), "90.minutes");
        assert_eq!(show("120.seconds"), "2.minutes");
        assert_eq!(show("1500.milliseconds"), "1500.milliseconds");
    }

    #[test]
    fn log_levels_are_case_insensitive_and_all_means_trace() {
        use tracing_subscriber::filter::LevelFilter;
        assert_eq!(
            "all".parse::<LogLevel>().unwrap().filter(),
            LevelFilter::TRACE
        );
        assert_eq!(
            "Off".parse::<LogLevel>().unwrap().filter(),
            LevelFilter::OFF
        );
        assert_eq!("INFO".parse::<LogLevel>().unwrap(), LogLevel::Info);
        assert_eq!("warn".parse::<LogLevel>().unwrap(), LogLevel::Warn);
        assert!("verbose"
            .parse::<LogLevel>()
            .unwrap_err()
            .contains("\"verbose\""));
    }

    #[test]
    fn geocoder_null_is_an_alias_of_none() {
        assert_eq!("null".parse::<GeocoderKind>(), Ok(GeocoderKind::None));
        assert_eq!("none".parse::<GeocoderKind>(), Ok(GeocoderKind::None));
        assert_eq!("maxmind".parse::<GeocoderKind>(), Ok(GeocoderKind::Maxmind));
        assert!("google".parse::<GeocoderKind>().is_err());
    }

    #[test]
    fn cidr_lists_accept_blocks_and_bare_addresses() {
        let nets = parse_cidrs("10.0.0.0/8, 192.168.1.7 ,::1,fd00::/8").unwrap();
        let shown: Vec<String> = nets.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            shown,
            ["10.0.0.0/8", "192.168.1.7/32", "::1/128", "fd00::/8"]
        );
        assert_eq!(parse_cidrs("").unwrap(), Vec::<IpNet>::new());
        assert!(parse_cidrs("10.0.0.0/33")
            .unwrap_err()
            .contains("10.0.0.0/33"));
        assert!(parse_cidrs("proxy").is_err());
    }

    #[test]
    fn database_names_are_restricted_to_a_safe_alphabet() {
        assert_eq!(parse_database("pdd_2"), Ok("pdd_2".to_string()));
        assert!(parse_database("pdd`; DROP").is_err());
        assert!(parse_database("").is_err());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn config() -> ProptestConfig {
            ProptestConfig {
                cases: 256,
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        fn host() -> impl Strategy<Value = (String, String)> {
            // (as written, as kept)
            prop_oneof![
                Just((String::new(), String::new())),
                "[a-z0-9_][a-z0-9_-]{0,9}(\\.[a-z0-9_][a-z0-9_-]{0,9}){0,3}"
                    .prop_map(|h| (h.clone(), h)),
                any::<std::net::Ipv4Addr>().prop_map(|a| (a.to_string(), a.to_string())),
                any::<std::net::Ipv6Addr>().prop_map(|a| (format!("[{a}]"), a.to_string())),
            ]
        }

        const UNITS: &[(&str, i64)] = &[
            ("days", 86_400_000),
            ("day", 86_400_000),
            ("hours", 3_600_000),
            ("hour", 3_600_000),
            ("minutes", 60_000),
            ("minute", 60_000),
            ("seconds", 1_000),
            ("second", 1_000),
            ("milliseconds", 1),
            ("millisecond", 1),
        ];

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn host_port_accepts_every_host_and_port_and_shows_them_back((written, kept) in host(), port in any::<u16>()) {
                let hp: HostPort = format!("{written}:{port}").parse().unwrap();
                prop_assert_eq!(&hp.host, &kept);
                prop_assert_eq!(hp.port, port);
                prop_assert_eq!(hp.to_string().parse::<HostPort>(), Ok(hp));
            }

            #[test]
            fn host_port_never_panics_and_what_it_accepts_round_trips(s in prop_oneof!["\\PC{0,40}", "[\\[\\]:.0-9a-f]{0,30}"]) {
                match s.parse::<HostPort>() {
                    Ok(hp) => {
                        prop_assert!(s.contains(':'));
                        prop_assert_eq!(hp.to_string().parse::<HostPort>(), Ok(hp));
                    }
                    Err(e) => {
                        let quoted = format!("{:?}", s);
                        prop_assert!(e.contains(&quoted), "{}", e);
                    }
                }
            }

            #[test]
            fn durations_are_exactly_n_units_up_to_100_years(n in 0u64..200_000_000_000, unit in 0..UNITS.len()) {
                let (name, ms) = UNITS[unit];
                let text = format!("{n}.{name}");
                let expected = i64::try_from(n)
                    .ok()
                    .and_then(|n| n.checked_mul(ms))
                    .filter(|&total| total > 0 && total <= 100 * 365 * 86_400_000);
                match text.parse::<Span>() {
                    Ok(span) => prop_assert_eq!(Some(span.0.num_milliseconds()), expected),
                    Err(e) => {
                        prop_assert_eq!(expected, None, "{}", e);
                        let quoted = format!("{:?}", text);
                        prop_assert!(e.contains(&quoted), "{}", e);
                    }
                }
            }

            #[test]
            fn durations_never_panic_and_show_back_as_the_same_duration(s in prop_oneof!["\\PC{0,30}", "[0-9]{0,22}\\.[a-z]{0,13}"]) {
                if let Ok(span) = s.parse::<Span>() {
                    prop_assert_eq!(span.to_string().parse::<Span>(), Ok(span));
                }
            }
        }
    }
}
