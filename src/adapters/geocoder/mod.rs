//! Geocoder adapters.

pub mod none;
