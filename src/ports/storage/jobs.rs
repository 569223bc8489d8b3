//! The job ledger: which firing of each nightly job is complete, and who runs one now, so that
//! several instances on one database run each firing once; and the history of runs, shared by
//! every instance.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StorageResult;
use crate::domain::job::JobRun;

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

    /// Appends a run to the history (runs are never replaced: two runs may share every field).
    async fn record_job_run(&self, run: &JobRun) -> StorageResult<()>;

    /// The last `limit` runs of `job` by `started`, newest first; among runs started at the
    /// same time, the last recorded first. An unknown job has none.
    async fn job_runs(&self, job: &str, limit: usize) -> StorageResult<Vec<JobRun>>;

    /// Deletes the runs of every job started before `before`. Returns how many were deleted.
    async fn delete_job_runs_before(&self, before: DateTime<Utc>) -> StorageResult<u64>;
}
