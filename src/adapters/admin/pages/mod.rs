//! One module per console page: its view model (serialised as the page's JSON), how the model
//! is built from what the page reads, and how it is rendered. Pages that read the storage take
//! a small source trait, so they render from data made in memory as well.

pub mod campaigns;
pub mod clients;
pub mod jobs;
pub mod logging;
pub mod metrics;
pub mod overview;
