//! The domain: pure rules of campaigns, clients, sketches and the nightly jobs. Depends only on
//! the traits in `crate::ports`.

pub mod campaign;
pub mod client;
pub mod crypto;
pub mod error;
pub mod export;
pub mod grouping;
pub mod service;
pub mod sketch;
pub mod time;

pub use error::{DomainError, FieldError};
