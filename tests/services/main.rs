//! Domain scenarios through the services, over memory storage with a manual clock and seeded
//! randomness, in the reference time zone Europe/London.

mod aggregation;
mod campaigns;
mod history;
mod jobs;
mod ping;
mod submission;
mod support;
