//! Test doubles and fixture builders for the tests and benches (cargo feature `test-util`,
//! which they enable through a dev-dependency of the crate on itself): never part of a release
//! build.
//!
//! - doubles: [`ManualClock`], [`SeededRandom`];
//! - the services' [`context`] over a storage and a clock;
//! - instants: [`utc`], [`london`], [`london_at`];
//! - inputs: [`campaign_input`] with [`exact`] / [`terms`] / [`exact_queries`], [`public_key`],
//!   [`client_input`];
//! - blinded counts: [`cancelling_blinds`], [`blinded`];
//! - [`entities`]: campaigns, clients, activity, sketches and aggregations as stored;
//! - [`bench`]: the benches' settings from the environment and memory figures;
//! - [`mysql`] (with the `mysql` feature): throw-away databases and a proxy that cuts them off.

pub mod bench;
mod blinding;
mod campaigns;
mod clients;
mod clock;
mod context;
pub mod entities;
mod random;
mod time;

#[cfg(feature = "mysql")]
pub mod mysql;

pub use blinding::{blinded, cancelling_blinds};
pub use campaigns::{campaign_input, exact, exact_queries, terms};
pub use clients::{client_input, public_key};
pub use clock::ManualClock;
pub use context::context;
pub use random::SeededRandom;
pub use time::{away_from_midnight, london, london_at, utc};
