//! The geocoder that knows no country.

use std::net::IpAddr;

use crate::ports::Geocoder;

pub struct NoGeocoder;

impl Geocoder for NoGeocoder {
    fn kind(&self) -> &'static str {
        "none"
    }

    fn country(&self, _ip: IpAddr) -> Option<String> {
        None
    }
}
