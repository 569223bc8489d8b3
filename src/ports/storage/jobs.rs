//! The job ledger: which firing of each nightly job is complete, and who runs one now, so that
//! several instances on one database run each firing once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StorageResult;

#[async_trait]
pub trait JobLedger: Send + Sync + 'static {
    /// The latest firing of `job` recorded complete, or `Ok(None)`.
    async fn last_completed(&self, job: &str) -> StorageResult<Option<DateTime<Utc>>>;

    /// Claims the firing `firing` of `job` for `owner` until `lease_until`. Returns false
    /// (claiming nothing) when that firing or a later one is recorded complete, or when another
    /// owner holds an unexpired claim (`lease_until` of theirs after `now`); true otherwise.
    async fn claim_job(
        &self,
        job: &str,
        firing: DateTime<Utc>,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StorageResult<bool>;

    /// Records `firing` of `job` complete (keeping the later of it and any recorded firing)
    /// and releases `owner`'s claim.
    async fn complete_job(
        &self,
        job: &str,
        firing: DateTime<Utc>,
        owner: &str,
    ) -> StorageResult<()>;

    /// Releases `owner`'s claim on `job` without recording completion (the run failed).
    async fn release_job(&self, job: &str, owner: &str) -> StorageResult<()>;
}
