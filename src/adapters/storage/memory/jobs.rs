//! The job ledger and its history of runs in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStorage;
use crate::domain::job::JobRun;
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

    async fn record_job_run(&self, run: &JobRun) -> StorageResult<()> {
        let mut inner = self.write();
        inner.job_run_seq += 1;
        let key = (run.job.clone(), run.started, inner.job_run_seq);
        inner.job_runs.insert(key, run.clone());
        Ok(())
    }

    async fn job_runs(&self, job: &str, limit: usize) -> StorageResult<Vec<JobRun>> {
        let inner = self.read();
        let from = (job.to_string(), DateTime::<Utc>::MIN_UTC, 0);
        let to = (job.to_string(), DateTime::<Utc>::MAX_UTC, u64::MAX);
        Ok(inner
            .job_runs
            .range(from..=to)
            .rev()
            .take(limit)
            .map(|(_, run)| run.clone())
            .collect())
    }

    async fn delete_job_runs_before(&self, before: DateTime<Utc>) -> StorageResult<u64> {
        let mut inner = self.write();
        let count = inner.job_runs.len();
        inner
            .job_runs
            .retain(|(_, started, _), _| *started >= before);
        Ok((count - inner.job_runs.len()) as u64)
    }
}
