//! The storage port: everything the services keep, split by role — campaigns; clients and
//! their activity; the clients counted per day; sketches and groups; aggregations; the job
//! ledger and its history of runs — with [`Storage`] as their sum. Each method's doc is the contract every adapter is tested against (see the
//! conformance suite in `tests/storage/conformance`, organised the same way).
//!
//! Common failure contract: an adapter that cannot reach its backend returns
//! `StorageError::Unavailable`; any other backend fault is `StorageError::Failure`. Neither
//! leaves anything half-written.
//!
//! Times: every instant from 1970-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z
//! (`domain::time::in_range`, the range the services accept) is kept to the millisecond and
//! read back unchanged.

mod aggregations;
mod campaigns;
mod client_days;
mod clients;
mod jobs;
mod sketches;

use async_trait::async_trait;

pub use aggregations::AggregationStore;
pub use campaigns::CampaignStore;
pub use client_days::ClientDayStore;
pub use clients::{ClientCursor, ClientStore};
pub use jobs::JobLedger;
pub use sketches::{DaySketches, SketchStore, SubmitOutcome};

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    AlreadyExists,
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage failure: {0}")]
    Failure(String),
}

pub type StorageResult<T> = Result<T, StorageError>;

/// One backend keeping every role. Services hold the roles they use; the application, the
/// health check and the scheduler hold the whole.
#[async_trait]
pub trait Storage:
    CampaignStore + ClientStore + ClientDayStore + SketchStore + AggregationStore + JobLedger
{
    /// A short name for logs and `server_info` (`memory`, `mysql`).
    fn kind(&self) -> &'static str;

    /// Ok when the backend answers; `Unavailable` otherwise.
    async fn health(&self) -> StorageResult<()>;

    /// The version of the backend's schema as recorded in it (the latest migration applied),
    /// or `Ok(None)` for a backend without a schema (memory).
    async fn schema_version(&self) -> StorageResult<Option<u32>>;
}
