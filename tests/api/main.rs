//! Route tests of the public, private and admin HTTP interfaces through `warp::test`, one
//! file per area.

mod abuse;
mod admin;
mod campaigns;
mod clients;
mod console;
#[cfg(feature = "sentry")]
mod error_reports;
mod fuzz;
mod helpers;
mod http;
mod listing;
mod observability;
mod openapi;
mod ping;
mod protocol;
mod results;
mod storage_down;
