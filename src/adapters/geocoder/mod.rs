//! Geocoder adapters.

#[cfg(feature = "maxmind")]
pub mod maxmind;
pub mod none;
