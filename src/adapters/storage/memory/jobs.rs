//! The job ledger in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStorage;
use crate::ports::{JobLedger, StorageResult};

#[async_trait]
impl JobLedger for MemoryStorage {
    async fn last_completed(&self, job: &str) -> StorageResult<Option<DateTime<Utc>>> {
        Ok(self.read().jobs.get(job).and_then(|j| j.completed))
    }

    async fn claim_job(
        &self,
        job: &str,
        firing: DateTime<Utc>,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StorageResult<bool> {
        let mut inner = self.write();
        let state = inner.jobs.entry(job.to_string()).or_default();
        if state.completed.is_some_and(|c| c >= firing) {
            return Ok(false);
        }
        if let Some((holder, until)) = &state.claim {
            if holder != owner && *until > now {
                return Ok(false);
            }
        }
        state.claim = Some((owner.to_string(), lease_until));
        Ok(true)
    }

    async fn complete_job(
        &self,
        job: &str,
        firing: DateTime<Utc>,
        owner: &str,
    ) -> StorageResult<()> {
        let mut inner = self.write();
        let state = inner.jobs.entry(job.to_string()).or_default();
        state.completed = Some(state.completed.map_or(firing, |c| c.max(firing)));
        if state.claim.as_ref().is_some_and(|(o, _)| o == owner) {
            state.claim = None;
        }
        Ok(())
    }

    async fn release_job(&self, job: &str, owner: &str) -> StorageResult<()> {
        let mut inner = self.write();
        if let Some(state) = inner.jobs.get_mut(job) {
            if state.claim.as_ref().is_some_and(|(o, _)| o == owner) {
                state.claim = None;
            }
        }
        Ok(())
    }
}
