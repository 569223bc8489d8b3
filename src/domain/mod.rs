//! The domain. Its entities and rules (campaigns, clients, sketches, days, grouping, crypto,
//! job runs, validation) import nothing of this crate outside `domain`; the services and jobs in
//! `service` are the only domain code that uses the ports.

pub mod campaign;
pub mod client;
pub mod crypto;
pub mod error;
pub mod export;
pub mod grouping;
pub mod job;
pub mod service;
pub mod shared;
pub mod sketch;
pub mod text;
pub mod time;

pub use error::{FieldError, Invalid};
