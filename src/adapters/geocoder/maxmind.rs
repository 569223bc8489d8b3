//! Country of an address from a MaxMind DB (`.mmdb`) file: GeoIP2/GeoLite2 Country or City
//! databases (`country.iso_code`) and the flat `country_code` records of freely licensed
//! databases such as ip-location-db's geo-whois-asn-country.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use anyhow::Context as _;
use maxminddb::Reader;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::ports::Geocoder;

pub struct MaxmindGeocoder {
    reader: Reader<Vec<u8>>,
}

impl MaxmindGeocoder {
    /// Reads the whole database into memory; a missing, unreadable or malformed file is an
    /// error naming the path.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let reader = Reader::open_readfile(path)
            .with_context(|| format!("cannot read country database {}", path.display()))?;
        Ok(MaxmindGeocoder { reader })
    }

    /// The `database_type` of the file's metadata (`GeoLite2-Country`, `country ipvAll`, …),
    /// for the start-up log.
    pub fn database_type(&self) -> &str {
        &self.reader.metadata.database_type
    }

    fn lookup(&self, ip: IpAddr) -> Option<String> {
        // An IPv6 address cannot be looked up in an IPv4-only tree: the reader would walk the
        // IPv4 nodes with the IPv6 bits and answer nonsense.
        if ip.is_ipv6() && self.reader.metadata.ip_version == 4 {
            return None;
        }
        match self.reader.lookup::<Record>(ip) {
            Ok(Some(record)) => record.code(),
            Ok(None) => None,
            Err(e) => {
                // The address itself is personal data: never logged.
                tracing::warn!(error = %e, "country database lookup failed");
                None
            }
        }
    }
}

impl Geocoder for MaxmindGeocoder {
    fn kind(&self) -> &'static str {
        "maxmind"
    }

    fn country(&self, ip: IpAddr) -> Option<String> {
        let ip = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            },
            v4 => v4,
        };
        if !is_global(ip) {
            return None;
        }
        self.lookup(ip)
    }
}

/// False for addresses that no country database can place: private, shared (CGNAT),
/// loopback, link-local, unspecified, "this network", broadcast, multicast, documentation
/// and reserved ranges.
fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (b & 0xc0) == 64)
        || a >= 240)
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// The parts of a record that name a country, in either layout. Everything else in the
/// record (names in every language, continent, …) is skipped without being decoded.
#[derive(Deserialize)]
struct Record {
    country: Option<CountryField>,
    registered_country: Option<CountryField>,
    country_code: Option<String>,
}

impl Record {
    /// `country`, else the network's `registered_country` (GeoIP2 gives only the latter for
    /// some anycast and satellite networks), else the flat `country_code`; upper-cased, and
    /// only if it is two ASCII letters.
    fn code(self) -> Option<String> {
        let candidates = [
            self.country.and_then(|c| c.0),
            self.registered_country.and_then(|c| c.0),
            self.country_code,
        ];
        candidates
            .into_iter()
            .flatten()
            .find(|code| code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()))
            .map(|code| code.to_ascii_uppercase())
    }
}

/// A GeoIP2 country map (`{"iso_code": "GB", "names": …}`), or a bare code string as some
/// databases store under `country`.
struct CountryField(Option<String>);

impl<'de> Deserialize<'de> for CountryField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;

        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = CountryField;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a country map or a country code")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CountryField(Some(v.to_owned())))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut code = None;
                while let Some(key) = map.next_key::<&str>()? {
                    if key == "iso_code" {
                        code = Some(map.next_value::<String>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(CountryField(code))
            }
        }

        deserializer.deserialize_any(FieldVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> MaxmindGeocoder {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        MaxmindGeocoder::open(&path).expect("fixture opens")
    }

    fn country(g: &MaxmindGeocoder, ip: &str) -> Option<String> {
        g.country(ip.parse().unwrap())
    }

    const ALL: [&str; 3] = [
        "geoip2-country.mmdb",
        "country-code.mmdb",
        "country-code-ipv4.mmdb",
    ];

    #[test]
    fn kind_is_maxmind() {
        assert_eq!(fixture("geoip2-country.mmdb").kind(), "maxmind");
    }

    #[test]
    fn database_type_comes_from_the_metadata() {
        assert_eq!(
            fixture("geoip2-country.mmdb").database_type(),
            "GeoLite2-Country"
        );
        assert_eq!(
            fixture("country-code.mmdb").database_type(),
            "country ipvAll"
        );
    }

    #[test]
    fn geoip2_layout_gives_the_country_iso_code_of_ipv4_and_ipv6_addresses() {
        let g = fixture("geoip2-country.mmdb");
        assert_eq!(country(&g, "81.2.69.160").as_deref(), Some("GB"));
        assert_eq!(country(&g, "89.160.20.112").as_deref(), Some("SE"));
        assert_eq!(country(&g, "2001:218::1").as_deref(), Some("JP"));
        assert_eq!(
            country(&g, "2a00:1450:4009:81f::200e").as_deref(),
            Some("IE")
        );
    }

    #[test]
    fn geoip2_layout_falls_back_to_the_registered_country() {
        let g = fixture("geoip2-country.mmdb");
        assert_eq!(country(&g, "202.196.224.5").as_deref(), Some("PH"));
    }

    #[test]
    fn geoip2_record_without_any_country_gives_none() {
        let g = fixture("geoip2-country.mmdb");
        assert_eq!(country(&g, "91.198.174.192"), None);
    }

    #[test]
    fn flat_layout_gives_the_country_code_of_ipv4_and_ipv6_addresses() {
        let g = fixture("country-code.mmdb");
        assert_eq!(country(&g, "81.2.69.160").as_deref(), Some("GB"));
        assert_eq!(country(&g, "8.8.8.8").as_deref(), Some("US"));
        assert_eq!(country(&g, "2001:4860:4860::8888").as_deref(), Some("US"));
        assert_eq!(country(&g, "2001:218:2001::1").as_deref(), Some("JP"));
    }

    #[test]
    fn ipv4_only_database_gives_the_country_of_ipv4_addresses() {
        let g = fixture("country-code-ipv4.mmdb");
        assert_eq!(country(&g, "81.2.69.160").as_deref(), Some("GB"));
        assert_eq!(country(&g, "8.8.8.8").as_deref(), Some("US"));
    }

    #[test]
    fn ipv4_only_database_gives_none_for_ipv6_addresses() {
        let g = fixture("country-code-ipv4.mmdb");
        assert_eq!(country(&g, "2001:4860:4860::8888"), None);
        assert_eq!(country(&g, "2001:218::1"), None);
    }

    #[test]
    fn ipv4_mapped_ipv6_addresses_are_looked_up_as_ipv4_in_every_layout() {
        for name in ALL {
            let g = fixture(name);
            assert_eq!(
                country(&g, "::ffff:81.2.69.160").as_deref(),
                Some("GB"),
                "{name}"
            );
        }
    }

    #[test]
    fn lower_case_codes_are_upper_cased() {
        let g = fixture("country-code.mmdb");
        assert_eq!(country(&g, "1.0.0.1").as_deref(), Some("AU"));
        assert_eq!(country(&g, "::ffff:1.0.0.1").as_deref(), Some("AU"));
    }

    #[test]
    fn codes_that_are_not_two_letters_give_none() {
        let g = fixture("country-code.mmdb");
        assert_eq!(country(&g, "5.5.5.5"), None, "three letters");
        assert_eq!(country(&g, "6.6.6.6"), None, "empty");
        assert_eq!(country(&g, "7.7.7.7"), None, "no country_code field");
    }

    #[test]
    fn addresses_missing_from_the_database_give_none() {
        for name in ALL {
            let g = fixture(name);
            assert_eq!(country(&g, "9.9.9.9"), None, "{name}");
            assert_eq!(country(&g, "::ffff:9.9.9.9"), None, "{name}");
            assert_eq!(country(&g, "2606:4700:4700::1111"), None, "{name}");
        }
    }

    // The fixtures give every one of these ranges a country, so None here proves the
    // geocoder refuses them before looking them up.
    #[test]
    fn private_loopback_link_local_and_unspecified_addresses_give_none() {
        let refused = [
            "10.1.2.3",
            "172.16.5.4",
            "192.168.1.10",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.10.20",
            "0.0.0.0",
            "0.1.2.3",
            "::ffff:10.1.2.3",
            "::ffff:127.0.0.1",
            "::ffff:192.168.1.10",
            "::1",
            "::",
            "fe80::1",
            "fd12:3456:789a::1",
            "fc00::1",
        ];
        for name in ALL {
            let g = fixture(name);
            for ip in refused {
                assert_eq!(country(&g, ip), None, "{name}: {ip}");
            }
        }
    }

    #[test]
    fn non_global_ranges_are_recognised() {
        for ip in [
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "240.0.0.1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(!is_global(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["81.2.69.160", "100.128.0.1", "2001:218::1", "2a00:1450::1"] {
            assert!(is_global(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn opening_a_missing_file_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.mmdb");
        let err = MaxmindGeocoder::open(&path)
            .err()
            .expect("missing file fails");
        let text = format!("{err:#}");
        assert!(text.contains(&path.display().to_string()), "{text}");
    }

    #[test]
    fn opening_a_file_that_is_not_a_database_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbage.mmdb");
        std::fs::write(&path, b"this is not a MaxMind database").unwrap();
        let err = MaxmindGeocoder::open(&path).err().expect("garbage fails");
        let text = format!("{err:#}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("metadata"), "{text}");
    }
}
